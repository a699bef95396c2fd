"""The JSON API (/api/users, /api/users/<id>, /api/stats, /api/audit), /metrics, and the open /healthz."""

from __future__ import annotations

import time
from dataclasses import asdict
from typing import Any

import redis
from flask import Blueprint, Response, abort, current_app, jsonify, request
from flask.json.provider import DefaultJSONProvider
from rq import Worker

from admin import audit, context, metrics, overview, userlist
from core import boxes, hourly, keys, limits, stats
from core.admission import gif_queue
from core.settings import Settings

bp = Blueprint("api", __name__)

HTML_SIGNIFICANT = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "'": "\\u0027"})


class HtmlSafeJSONProvider(DefaultJSONProvider):
    """JSON in which no string can close a tag: < > & ' are written as \\u escapes (same values)."""

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        """Serialize as usual, then escape the four characters (they only occur inside strings)."""
        return super().dumps(obj, **kwargs).translate(HTML_SIGNIFICANT)


@bp.get("/healthz")
def healthz() -> tuple[Response, int]:
    """Report whether Redis answers, how many workers are registered, how deep the queue is, and
    each box's workers (a box low on temp disk space takes no jobs: `low_disk_boxes`)."""
    settings: Settings = context.settings()
    connection: redis.Redis = context.redis()
    try:
        connection.ping()
        workers = Worker.count(connection=connection)
        depth = gif_queue(connection, settings).count
        grouped = boxes.by_box(boxes.read_all(connection))
    except redis.RedisError as exc:
        # One line, no traceback: probes call this every few seconds while Redis is down.
        current_app.logger.warning("healthz: Redis does not answer: %s", exc)
        return jsonify(redis=False, workers=0, queue_depth=0, boxes=[], low_disk_boxes=[]), 503
    rows = [_box(box, statuses) for box, statuses in grouped.items()]
    low = [row["box"] for row in rows if row["low_disk"]]
    return jsonify(redis=True, workers=workers, queue_depth=depth, boxes=rows, low_disk_boxes=low), 200


def _box(box: str, statuses: list[boxes.WorkerStatus]) -> dict[str, Any]:
    workers = [
        {
            "name": s.name,
            "taking_jobs": s.taking_jobs,
            "free_disk_mb": s.free_disk_mb,
            "min_free_disk_mb": s.min_free_disk_mb,
        }
        for s in statuses
    ]
    return {"box": box, "low_disk": any(s.low_disk for s in statuses), "workers": workers}


@bp.get("/api/users")
def users() -> Response:
    """Users with their counters; the same ?q=, ?sort=, ?order=, ?page= as the users page."""
    query = userlist.UserQuery.from_args(request.args)
    found = userlist.find_users(context.redis(), query)
    return jsonify(
        users=[asdict(u) for u in found.users],
        total=found.total,
        page=found.page,
        pages=found.pages,
        query=asdict(query),
    )


@bp.get("/api/users/<int(signed=True):user_id>")
def user(user_id: int) -> Response:
    """One user's counters, limits and recent jobs (404 if the bot never saw them)."""
    redis_client = context.redis()
    if not userlist.known(redis_client, user_id):
        abort(404, description="The bot has not seen this user.")
    user_limits = limits.limits_for(redis_client, user_id, context.settings())
    return jsonify(
        user=asdict(stats.user_stats(redis_client, user_id)),
        limits=asdict(user_limits),
        quota_override=bool(redis_client.exists(keys.quota(user_id))),
        jobs=[asdict(j) for j in stats.recent_jobs(redis_client, user_id)],
    )


@bp.get("/api/stats")
def stats_summary() -> Response:
    """The queue, workers, today's totals, the last 24 hours and the queue depth samples."""
    redis_client = context.redis()
    now = time.time()
    return jsonify(
        queue=asdict(overview.queue_counts(redis_client, context.settings())),
        workers=[_worker(w) for w in overview.workers(redis_client)],
        today=asdict(overview.today(redis_client, now)),
        hours=[_hour(h) for h in overview.last_day(redis_client, now)],
        depth=[{"time": ts, "depth": depth} for ts, depth in hourly.depth_samples(redis_client)],
    )


@bp.get("/api/audit")
def audit_log() -> Response:
    """The audit log, newest first, 100 entries a page (?page=)."""
    page = request.args.get("page", "1")
    found = audit.entries(context.redis(), int(page) if page.isdigit() else 1)
    return jsonify(
        entries=[asdict(e) for e in found.entries],
        total=found.total,
        page=found.page,
        pages=found.pages,
        keep_days=audit.KEEP_DAYS,
    )


@bp.get("/metrics")
def prometheus() -> Response:
    """Prometheus text format; see admin/metrics.py for the names."""
    text = metrics.render(context.redis(), context.settings())
    return Response(text, content_type=metrics.CONTENT_TYPE)


def _worker(worker: overview.WorkerInfo) -> dict[str, Any]:
    row = asdict(worker)
    row["last_heartbeat"] = worker.last_heartbeat.isoformat() if worker.last_heartbeat else None
    return row


def _hour(hour: hourly.HourStats) -> dict[str, Any]:
    return {
        "start": hour.start.isoformat(),
        "videos": hour.videos,
        "delivered": hour.delivered,
        "failed": hour.failed,
        "refused": hour.refused,
        "p50": hour.p50,
        "p95": hour.p95,
        "samples": len(hour.latencies),
    }
