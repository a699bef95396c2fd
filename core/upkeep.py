"""What the scheduler leaves in Redis for the admin panel: which instance leads and since when, each
periodic task's last pass, and the recovery passes that put abandoned or stuck jobs back.

Written by jobs.scheduler and jobs.maintenance, read by the panel's scheduler page; one module owns
the format so both sides agree.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, fields

from redis import Redis

from core import keys

RECOVERIES_KEPT = 100  # the newest recovery passes that re-queued something
RECOVERIES_TTL_S = 30 * 24 * 3600


@dataclass(frozen=True)
class Pass:
    """One run of a periodic task."""

    task: str
    started: float
    ended: float
    result: int | None = None  # jobs recovered, samples taken...
    error: str = ""


@dataclass(frozen=True)
class Leader:
    """The scheduler instance holding the leader lock, since when (None if not recorded), and how
    long the lock lives unless renewed."""

    name: str
    since: float | None
    expires_in_s: int


@dataclass(frozen=True)
class Recovery:
    """One recovery pass that re-queued jobs: how many had lost their worker, how many were stuck."""

    at: float
    abandoned: int
    stuck: int


def record_pass(redis: Redis, done: Pass) -> None:
    """Keep `done` as its task's last pass (keys.MAINTENANCE, one field per task)."""
    redis.hset(keys.MAINTENANCE, done.task, json.dumps(asdict(done)))


def last_passes(redis: Redis) -> dict[str, Pass]:
    """The last recorded pass of each task, by task name (fields a newer version added are ignored)."""
    known = {f.name for f in fields(Pass)}
    passes = {}
    for task, raw in redis.hgetall(keys.MAINTENANCE).items():
        values = json.loads(raw)
        passes[task.decode()] = Pass(**{k: v for k, v in values.items() if k in known})
    return passes


def took_lead(redis: Redis, name: str, now: float | None = None) -> None:
    """Record that scheduler `name` just took the leader lock."""
    redis.set(keys.SCHEDULER_SINCE, json.dumps({"name": name, "since": time.time() if now is None else now}))


def leader(redis: Redis) -> Leader | None:
    """Who holds the leader lock now (None: nobody, e.g. no scheduler runs)."""
    with redis.pipeline(transaction=False) as pipe:
        pipe.get(keys.SCHEDULER_LOCK)
        pipe.ttl(keys.SCHEDULER_LOCK)
        pipe.get(keys.SCHEDULER_SINCE)
        holder, ttl, since = pipe.execute()
    if holder is None:
        return None
    took = json.loads(since) if since else {}
    same = took.get("name") == holder.decode()
    return Leader(holder.decode(), float(took["since"]) if same else None, max(0, int(ttl)))


def note_recovery(redis: Redis, abandoned: int, stuck: int, now: float | None = None) -> None:
    """Record a recovery pass that re-queued jobs (passes that found nothing are not kept)."""
    if abandoned <= 0 and stuck <= 0:
        return
    entry = json.dumps({"at": time.time() if now is None else now, "abandoned": abandoned, "stuck": stuck})
    with redis.pipeline() as pipe:
        pipe.lpush(keys.RECOVERIES, entry)
        pipe.ltrim(keys.RECOVERIES, 0, RECOVERIES_KEPT - 1)
        pipe.expire(keys.RECOVERIES, RECOVERIES_TTL_S)
        pipe.execute()


def recoveries(redis: Redis) -> list[Recovery]:
    """The recovery passes that re-queued jobs, newest first."""
    return [Recovery(**json.loads(raw)) for raw in redis.lrange(keys.RECOVERIES, 0, RECOVERIES_KEPT - 1)]
