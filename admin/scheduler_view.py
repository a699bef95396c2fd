"""The scheduler page: which scheduler leads and since when, the last pass of each periodic task,
the recovery passes that put abandoned or stuck jobs back, and RQ's own scheduler locks."""

from __future__ import annotations

import time
from dataclasses import dataclass

from flask import Blueprint, render_template
from redis import Redis
from rq.scheduler import RQScheduler
from rq_scheduler import Scheduler

from admin import context
from core import upkeep

bp = Blueprint("scheduler", __name__)

# What each task of jobs.scheduler does, and what its result counts.
TASKS = {
    "recover_abandoned": (
        "re-queue jobs whose worker died, or that a dead worker took but never started",
        "jobs recovered",
    ),
    "free_lost_slots": ("free the slots of jobs deleted in rq-dashboard", "slots freed"),
    "sample_depth": ("sample the queue depth for the overview chart", "jobs waiting"),
    "forget_users": ("forget users inactive for USER_DATA_DAYS", "users forgotten"),
}


@dataclass(frozen=True)
class Lock:
    """A lock RQ or rq-scheduler holds in Redis: who (or since when) and how long it still lives."""

    what: str
    key: str
    holder: str
    expires_in_s: int


@bp.get("/scheduler")
def status() -> str:
    """The scheduler's leader, its periodic tasks' last passes and the jobs it recovered."""
    redis = context.redis()
    passes = upkeep.last_passes(redis)
    return render_template(
        "scheduler.html",
        leader=upkeep.leader(redis),
        tasks=[(name, *TASKS.get(name, ("", "result")), passes[name]) for name in _ordered(passes)],
        recoveries=upkeep.recoveries(redis),
        locks=rq_locks(redis, context.settings().queue_name),
        now=time.time(),
    )


def rq_locks(redis: Redis, queue_name: str) -> list[Lock]:
    """rq-scheduler's per-pass lock (its value is when the pass took it) and RQ's retry scheduler
    lock on our queue (held by one worker's scheduler; it moves retries back onto the queue)."""
    wanted = (
        ("rq-scheduler pass", Scheduler.scheduler_lock_key),
        (f"RQ retry scheduler for “{queue_name}”", RQScheduler.get_locking_key(queue_name)),
    )
    with redis.pipeline(transaction=False) as pipe:
        for _, key in wanted:
            pipe.get(key)
            pipe.ttl(key)
        found = pipe.execute()
    return [
        Lock(what, key, (holder or b"").decode(), max(0, int(ttl)))
        for (what, key), holder, ttl in zip(wanted, found[::2], found[1::2], strict=True)
    ]


def _ordered(passes: dict[str, upkeep.Pass]) -> list[str]:
    """Our known tasks first, in TASKS' order, then any other recorded task."""
    return [t for t in TASKS if t in passes] + sorted(t for t in passes if t not in TASKS)
