"""rq-dashboard's job routes rebuilt so that no job is ever loaded with RQ's default (pickle) serializer.

Upstream (0.9.0) fetches the job behind its job page, delete, requeue and requeue-all with
`Job.fetch(...)`/`requeue_job(...)` and no serializer, so RQ unpickles the job's `meta` (and its
result): anyone who can write to Redis would run code in the admin process. These views take their
place, loading with the JSON serializer; `empty_queue` is rebuilt too because upstream calls its own
delete view directly. The read-only views (ours: job_info; upstream's: the job lists) read through
`READ_SERIALIZER`, which shows data that is not JSON as a placeholder instead of failing.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Flask, abort, current_app, make_response, render_template, url_for
from flask.typing import ResponseReturnValue
from rq import Queue
from rq import registry as rq_registry
from rq.exceptions import InvalidJobOperation, NoSuchJobError
from rq.job import Job, requeue_job
from rq.serializers import JSONSerializer
from rq_dashboard import web as rq_web

from admin import audit

BLUEPRINT = "rq_dashboard"
UNREADABLE = "(unreadable: not JSON)"
REGISTRIES: dict[str, type[rq_registry.BaseRegistry]] = {
    "failed": rq_registry.FailedJobRegistry,
    "deferred": rq_registry.DeferredJobRegistry,
    "started": rq_registry.StartedJobRegistry,
    "finished": rq_registry.FinishedJobRegistry,
    "canceled": rq_registry.CanceledJobRegistry,
    "scheduled": rq_registry.ScheduledJobRegistry,
}


class ReadSerializer(JSONSerializer):
    """JSON for the dashboard's read-only views: bytes that are not JSON read as a placeholder."""

    @staticmethod
    def loads(s: bytes, *args: Any, **kwargs: Any) -> Any:
        """Decode JSON, or return UNREADABLE (never fall back to pickle)."""
        try:
            return JSONSerializer.loads(s, *args, **kwargs)
        except ValueError:  # JSONDecodeError and UnicodeDecodeError alike
            return UNREADABLE


READ_SERIALIZER = ReadSerializer


def init_app(app: Flask) -> None:
    """Put our JSON-only job views in place of upstream's pickle-loading ones."""
    rq_web.config.serializer = READ_SERIALIZER
    views = {
        "job_view": job_view,
        "delete_job_view": delete_job_view,
        "requeue_job_view": requeue_job_view,
        "requeue_all": requeue_all,
        "empty_queue": empty_queue,
        "job_info": job_info,
    }
    for name, view in views.items():
        app.view_functions[f"{BLUEPRINT}.{name}"] = view


def job_view(instance_number: int, job_id: str) -> ResponseReturnValue:
    """The job page: a shell its JavaScript fills from job_info, so only existence is checked here."""
    if not Job.exists(job_id, connection=current_app.redis_conn):
        abort(404)
    response = make_response(
        render_template(
            "rq_dashboard/job.html",
            current_instance=instance_number,
            instance_list=rq_web.escape_format_instance_list(
                current_app.config.get("RQ_DASHBOARD_REDIS_URL")
            ),
            id=job_id,
            rq_url_prefix=url_for(".queues_overview"),
            rq_dashboard_version=rq_web.rq_dashboard_version,
            rq_version=rq_web.rq_version,
            deprecation_options_usage=current_app.config.get("DEPRECATED_OPTIONS", False),
            enable_delete=not current_app.config.get("RQ_DASHBOARD_DISABLE_DELETE"),
        )
    )
    response.headers.set("Cache-Control", "no-store")
    return response


@rq_web.jsonify
def job_info(instance_number: int, job_id: str) -> dict[str, Any]:
    """The job page's data; meta and result that are not JSON show as UNREADABLE."""
    try:
        job = Job.fetch(job_id, connection=current_app.redis_conn, serializer=READ_SERIALIZER)
    except NoSuchJobError:
        abort(404)
    latest = job.latest_result()
    encoder = current_app.config.get("RQ_DASHBOARD_JSON_ENCODER", json.JSONEncoder)
    info = {
        "id": job.id,
        "origin": job.origin,
        "status": job.get_status(),
        "result": job.return_value(),
        "exc_info": latest.exc_string if latest else None,
        "description": rq_web.format_job_description(job),
        "metadata": json.dumps(job.get_meta(), cls=encoder),
    }
    for name in ("created_at", "enqueued_at", "started_at", "ended_at"):
        info[name] = rq_web.serialize_date(getattr(job, name))
    dep_ids = [str(d).split(":")[-1].strip() for d in job.dependency_ids]  # rq 3 gives str, not bytes
    if dep_ids:
        info["depends_on"] = dep_ids
        exists = [Job.exists(d, connection=current_app.redis_conn) for d in dep_ids]
        info["depends_on_status"] = ["active" if e else "expired" for e in exists]
    return info


def delete_job(job_id: str, registry: rq_registry.BaseRegistry | None = None) -> bool:
    """Delete one job loaded as JSON; a job already gone is dropped from `registry`. True if deleted."""
    try:
        Job.fetch(job_id, connection=current_app.redis_conn, serializer=JSONSerializer).delete()
    except NoSuchJobError:
        if registry is not None:
            registry.remove(job_id)
        return False
    return True


@rq_web.check_delete_enable
@rq_web.jsonify
def delete_job_view(job_id: str) -> dict[str, str]:
    """POST /rq/job/<id>/delete."""
    deleted = delete_job(job_id)
    audit.log_action("delete", f"job {job_id}", "" if deleted else "no such job", ok=deleted)
    return {"status": "OK" if deleted else "ERROR"}


@rq_web.jsonify
def requeue_job_view(job_id: str) -> dict[str, str]:
    """POST /rq/job/<id>/requeue: a failed job goes back on its queue (ERROR if it is not failed)."""
    try:
        requeue_job(job_id, connection=current_app.redis_conn, serializer=JSONSerializer)
    except (NoSuchJobError, InvalidJobOperation) as exc:
        why = "no such job" if isinstance(exc, NoSuchJobError) else "not a failed job"
        audit.log_action("requeue", f"job {job_id}", why, ok=False)
        return {"status": "ERROR"}
    audit.log_action("requeue", f"job {job_id}")
    return {"status": "OK"}


@rq_web.jsonify
def requeue_all(queue_name: str) -> dict[str, Any]:
    """POST /rq/requeue/<queue>: every failed job of the queue goes back on it."""
    redis = current_app.redis_conn
    failed = rq_registry.FailedJobRegistry(queue_name, connection=redis, serializer=JSONSerializer)
    job_ids = failed.get_job_ids(cleanup=False)
    for job_id in job_ids:
        try:
            requeue_job(job_id, connection=redis, serializer=JSONSerializer)
        except (NoSuchJobError, InvalidJobOperation):
            continue  # gone or moved since the listing
    audit.log_action("requeue_all", f"queue {queue_name}", f"{len(job_ids)} failed jobs")
    return {"status": "OK", "count": len(job_ids)}


@rq_web.check_delete_enable
@rq_web.jsonify
def empty_queue(queue_name: str, registry_name: str) -> dict[str, str]:
    """POST /rq/queue/<queue>/<registry>/empty: delete every job of the queue or registry."""
    redis, deleted = current_app.redis_conn, 0
    if registry_name == "queued":
        deleted = int(Queue(queue_name, connection=redis, serializer=JSONSerializer).empty() or 0)
    elif registry_name in REGISTRIES:
        registry = REGISTRIES[registry_name](queue_name, connection=redis, serializer=JSONSerializer)
        deleted = sum(delete_job(job_id, registry) for job_id in registry.get_job_ids(cleanup=False))
    audit.log_action("empty", f"queue {queue_name}, {registry_name}", f"{deleted} jobs deleted")
    return {"status": "OK"}
