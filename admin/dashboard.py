"""rq-dashboard 0.9.0 under /rq: our Redis, the JSON serializer, POST-only actions, escaped JSON.

What we change about the blueprint, without patching its module:
- connection: its per-request `push_rq_connection` (which opens a new Redis client per request) is
  replaced by a check that only instance 0 exists; `app.redis_conn` is our client.
- serializer: no route loads a job with pickle. The job page and its data, delete, requeue,
  requeue-all and empty are admin/dashboard_jobs.py's (JSON serializer); the job lists left
  upstream read through the module-level `rq_dashboard.web.config.serializer`, set there to a
  JSON-only reader; workers.json is ours below.
- actions: delete, requeue, requeue-all, empty and compact must be POST (requeue-all also answers
  GET upstream) and, like every POST here, carry the CSRF token (admin/csrf.py).
- escaping: its job page and queue/worker tables insert JSON strings with underscore's unescaped
  `<%= %>`, so those JSON views are wrapped to HTML-escape every string they return.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Flask, Response, abort, current_app, jsonify, request
from markupsafe import escape
from rq import Queue, Worker
from rq.exceptions import DeserializationError
from rq.serializers import JSONSerializer
from rq_dashboard import web as rq_web

from admin import audit, context, csrf, dashboard_jobs

URL_PREFIX = "/rq"
BLUEPRINT = "rq_dashboard"
ACTIONS = frozenset(
    f"{BLUEPRINT}.{name}"
    for name in ("delete_job_view", "requeue_job_view", "requeue_all", "empty_queue", "compact_queue")
)
ESCAPED_JSON_VIEWS = (f"{BLUEPRINT}.job_info", f"{BLUEPRINT}.list_queues")


def init_app(app: Flask) -> None:
    """Mount rq-dashboard at /rq on the app's Redis, hardened as described above."""
    settings = context.settings(app)
    # Shown on every dashboard page: it masks the password before "@", so drop the query too
    # (a redis+sentinel:// URL may carry ?sentinel_password=).
    app.config["RQ_DASHBOARD_REDIS_URL"] = (settings.redis_url.partition("?")[0],)
    app.redis_conn = context.redis(app)
    app.register_blueprint(rq_web.blueprint, url_prefix=URL_PREFIX)
    dashboard_jobs.init_app(app)  # before the JSON views are wrapped below
    hooks = app.before_request_funcs[BLUEPRINT]
    hooks[hooks.index(rq_web.push_rq_connection)] = check_instance
    hooks.append(actions_post_only)
    app.after_request(share_csrf_token)
    for endpoint in ESCAPED_JSON_VIEWS:
        app.view_functions[endpoint] = escaped_json(app.view_functions[endpoint])
    app.view_functions[f"{BLUEPRINT}.list_workers"] = list_workers
    app.view_functions[f"{BLUEPRINT}.compact_queue"] = audited_compact(
        app.view_functions[f"{BLUEPRINT}.compact_queue"]
    )


def check_instance() -> None:
    """We configure one Redis: any other instance number is not found."""
    if (request.view_args or {}).get("instance_number", 0) != 0:
        abort(404)


def actions_post_only() -> None:
    """A state-changing dashboard route answers POST only (405 for GET and HEAD)."""
    if request.endpoint in ACTIONS and request.method != "POST":
        abort(405)


def share_csrf_token(response: Response) -> Response:
    """Hand the dashboard's pages the CSRF token in the cookie its JavaScript reads."""
    if request.blueprint == BLUEPRINT and response.mimetype == "text/html" and response.status_code == 200:
        response.set_cookie(
            csrf.DASHBOARD_COOKIE,
            csrf.token(),
            path=URL_PREFIX,
            samesite="Strict",
            secure=request.is_secure,
            httponly=False,  # the dashboard's JavaScript must read it
        )
    return response


def escape_strings(value: Any) -> Any:
    """HTML-escape every string inside a JSON value (dict keys included)."""
    if isinstance(value, str):
        return str(escape(value))
    if isinstance(value, list):
        return [escape_strings(v) for v in value]
    if isinstance(value, dict):
        return {escape_strings(k): escape_strings(v) for k, v in value.items()}
    return value


def escaped_json(view: Callable[..., Any]) -> Callable[..., Response]:
    """Wrap a JSON view so every string it returns is HTML-escaped."""

    @wraps(view)
    def wrapper(**kwargs: Any) -> Response:
        response = current_app.make_response(view(**kwargs))
        response.set_data(json.dumps(escape_strings(response.get_json())))
        return response

    return wrapper


def audited_compact(view: Callable[..., Any]) -> Callable[..., Any]:
    """Upstream's compact (drops ids of jobs that no longer exist from a queue), recorded in the audit log."""

    @wraps(view)
    def wrapper(queue_name: str) -> Any:
        if not current_app.redis_conn.exists(Queue(queue_name, connection=current_app.redis_conn).key):
            # RQ renames the queue's list, which fails on an empty queue (shown as a 503 before)
            audit.log_action("compact", f"queue {queue_name}", "empty: nothing to compact")
            return jsonify(status="OK")
        response = view(queue_name=queue_name)
        audit.log_action("compact", f"queue {queue_name}")
        return response

    return wrapper


def list_workers(instance_number: int) -> Response:
    """The dashboard's workers.json, reading jobs with the JSON serializer (upstream uses pickle)."""
    workers = Worker.all(connection=current_app.redis_conn, serializer=JSONSerializer)
    rows = sorted((_worker_row(w) for w in workers), key=lambda w: (w["state"], w["queues"], w["name"]))
    response = jsonify(workers=escape_strings(rows))
    response.headers["Cache-Control"] = "no-store"
    return response


def _worker_row(worker: Worker) -> dict[str, Any]:
    return {
        "name": worker.name,
        "pid": worker.pid,
        "queues": [q.name for q in worker.queues],
        "state": str(worker.get_state()),
        "current_job": _current_job(worker),
        "last_heartbeat": worker.last_heartbeat,
        "birth_date": worker.birth_date,
        "successful_job_count": worker.successful_job_count,
        "failed_job_count": worker.failed_job_count,
        "total_working_time": worker.total_working_time,
        "version": getattr(worker, "version", ""),
        "python_version": getattr(worker, "python_version", ""),
    }


def _current_job(worker: Worker) -> dict[str, Any] | str:
    job = worker.get_current_job()
    if job is None:
        return "idle"
    try:
        call_string = job.get_call_string()
    except DeserializationError:
        call_string = "(unreadable job data)"
    return {
        "job_id": job.id,
        "description": job.description,
        "created_at": rq_web.serialize_date(job.created_at),
        "call_string": call_string,
    }
