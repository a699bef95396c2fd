"""The panel's pages: overview with charts, the users table, one user with ban and quota controls."""

from __future__ import annotations

import time

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from redis import Redis

from admin import audit, context, overview, overview_charts, userlist
from core import hourly, keys, limits, stats

bp = Blueprint("views", __name__)

MAX_LIMIT = 10_000


@bp.get("/", endpoint="overview")
def overview_page() -> str:
    """Today's totals, the queue, the workers and three charts of the last 24 hours."""
    redis, settings = context.redis(), context.settings()
    now = time.time()
    hours = overview.last_day(redis, now)
    return render_template(
        "overview.html",
        today=overview.today(redis, now),
        queue=overview.queue_counts(redis, settings),
        workers=overview.workers(redis),
        jobs_chart=overview_charts.jobs_per_hour(hours),
        depth_chart=overview_charts.queue_depth(hourly.depth_samples(redis), now),
        latency_chart=overview_charts.latency(hours, now),
        now=now,
    )


@bp.get("/users")
def users() -> str:
    """Every recent user with their counters; ?q= searches, ?sort=&order= sorts, ?page= pages."""
    query = userlist.UserQuery.from_args(request.args)
    return render_template("users.html", query=query, result=userlist.find_users(context.redis(), query))


@bp.get("/users/<int(signed=True):user_id>")
def user(user_id: int) -> str:
    """One user's counters, limits, ban state and recent jobs."""
    redis = _known_user(user_id)
    return render_template(
        "user.html",
        user=stats.user_stats(redis, user_id),
        limits=limits.limits_for(redis, user_id, context.settings()),
        overrides=bool(redis.exists(keys.quota(user_id))),
        jobs=stats.recent_jobs(redis, user_id),
        max_limit=MAX_LIMIT,
    )


@bp.post("/users/<int(signed=True):user_id>/ban")
def ban(user_id: int) -> Response:
    """Refuse this user's videos from now on."""
    limits.ban(_known_user(user_id), user_id)
    audit.log_action("ban", f"user {user_id}")
    flash(f"User {user_id} is banned.")
    return _back_to(user_id)


@bp.post("/users/<int(signed=True):user_id>/unban")
def unban(user_id: int) -> Response:
    """Accept this user's videos again."""
    limits.unban(_known_user(user_id), user_id)
    audit.log_action("unban", f"user {user_id}")
    flash(f"User {user_id} is no longer banned.")
    return _back_to(user_id)


@bp.post("/users/<int(signed=True):user_id>/quota")
def set_quota(user_id: int) -> Response:
    """Override the user's limits; an empty field leaves that limit as it is."""
    redis = _known_user(user_id)
    try:
        max_active = _limit(request.form.get("max_active", ""))
        per_hour = _limit(request.form.get("per_hour", ""))
    except ValueError:
        audit.log_action("set_limits", f"user {user_id}", "not whole numbers from 1 to 10000", ok=False)
        flash(f"Limits must be whole numbers from 1 to {MAX_LIMIT}.", "error")
        return _back_to(user_id)
    limits.set_quota(redis, user_id, max_active=max_active, per_hour=per_hour)
    changed = {"at once": max_active, "per hour": per_hour}
    audit.log_action("set_limits", f"user {user_id}", ", ".join(f"{k} {v}" for k, v in changed.items() if v))
    flash(f"Limits of user {user_id} saved.")
    return _back_to(user_id)


@bp.post("/users/<int(signed=True):user_id>/quota/clear")
def clear_quota(user_id: int) -> Response:
    """Drop the user's overrides: the defaults apply again."""
    limits.clear_quota(_known_user(user_id), user_id)
    audit.log_action("default_limits", f"user {user_id}")
    flash(f"User {user_id} has the default limits again.")
    return _back_to(user_id)


def _limit(raw: str) -> int | None:
    raw = raw.strip()
    if not raw:
        return None
    value = int(raw) if raw.isdigit() else 0
    if not 1 <= value <= MAX_LIMIT:
        raise ValueError(raw)
    return value


def _known_user(user_id: int) -> Redis:
    redis = context.redis()
    if not userlist.known(redis, user_id):
        abort(404, description="The bot has not seen this user.")
    return redis


def _back_to(user_id: int) -> Response:
    return redirect(url_for("views.user", user_id=user_id), code=303)
