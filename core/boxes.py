"""What each worker publishes about itself (its box, free temp space, whether it takes jobs), for /healthz.

Workers write their status on every heartbeat into a small hash with a TTL, and list their names
in a zset; a reader drops names whose hash has expired, so a dead worker disappears on its own.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from redis import Redis
from redis.client import Pipeline

from core import keys

STATUS_TTL_S = 60  # workers publish at least every 20 s (idle), 5 s (busy) or while paused


@dataclass(frozen=True)
class WorkerStatus:
    """One worker as it last described itself."""

    name: str
    box: str
    taking_jobs: bool
    free_disk_mb: int
    min_free_disk_mb: int  # 0: this worker never pauses for disk space
    updated: float = 0.0

    @property
    def low_disk(self) -> bool:
        """True while the box's temp disk has less free space than the worker needs."""
        return self.min_free_disk_mb > 0 and self.free_disk_mb < self.min_free_disk_mb


def publish(redis: Redis | Pipeline, status: WorkerStatus) -> None:
    """Write the worker's status (in the caller's pipeline, if given) with its TTL."""
    key = keys.worker_status(status.name)
    redis.hset(
        key,
        mapping={
            "box": status.box,
            "taking_jobs": int(status.taking_jobs),
            "free_disk_mb": status.free_disk_mb,
            "min_free_disk_mb": status.min_free_disk_mb,
            "updated": status.updated or time.time(),
        },
    )
    redis.expire(key, STATUS_TTL_S)
    redis.zadd(keys.WORKER_STATUSES, {status.name: status.updated or time.time()})
    # names of workers that died without forget(): bounded by the live ones even if nobody reads
    redis.zremrangebyscore(keys.WORKER_STATUSES, "-inf", time.time() - STATUS_TTL_S)


def forget(redis: Redis, name: str) -> None:
    """Remove a worker's status (it stops cleanly)."""
    redis.delete(keys.worker_status(name))
    redis.zrem(keys.WORKER_STATUSES, name)


def read_all(redis: Redis) -> list[WorkerStatus]:
    """Every live worker's status, by name; names whose status expired are dropped from the index."""
    names = [raw.decode() for raw in redis.zrange(keys.WORKER_STATUSES, 0, -1)]
    with redis.pipeline(transaction=False) as pipe:
        for name in names:
            pipe.hgetall(keys.worker_status(name))
        rows = pipe.execute()
    gone = [name for name, row in zip(names, rows, strict=True) if not row]
    if gone:
        redis.zrem(keys.WORKER_STATUSES, *gone)
    return sorted(
        (_parse(name, row) for name, row in zip(names, rows, strict=True) if row), key=lambda s: s.name
    )


def by_box(statuses: list[WorkerStatus]) -> dict[str, list[WorkerStatus]]:
    """Group statuses by box, boxes in name order."""
    grouped: dict[str, list[WorkerStatus]] = {}
    for status in sorted(statuses, key=lambda s: (s.box, s.name)):
        grouped.setdefault(status.box, []).append(status)
    return grouped


def _parse(name: str, row: dict[bytes, bytes]) -> WorkerStatus:
    raw = {k.decode(): v.decode() for k, v in row.items()}
    return WorkerStatus(
        name=name,
        box=raw.get("box", ""),
        taking_jobs=raw.get("taking_jobs") == "1",
        free_disk_mb=int(raw.get("free_disk_mb", 0)),
        min_free_disk_mb=int(raw.get("min_free_disk_mb", 0)),
        updated=float(raw.get("updated", 0)),
    )
