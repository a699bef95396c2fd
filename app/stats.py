"""Every Redis key of ours (RQ keeps its own): delivery markers and per-user counters."""

from __future__ import annotations

import time
from dataclasses import dataclass

from redis import Redis
from redis.client import Pipeline

from app.models import Outcome

PREFIX = "gifbot"
MESSAGE_MARKER_TTL_S = 3 * 24 * 3600  # longer than Telegram's 24 h re-delivery window
SENT_MARKER_TTL_S = 7 * 24 * 3600
SENDING_MARKER_TTL_S = 120  # a send that crashed mid-way blocks retries this long at most


def message_key(job_id: str) -> str:
    """Set when a message's job was queued: a re-delivered update is then ignored."""
    return f"{PREFIX}:queued:{job_id}"


def sent_key(job_id: str) -> str:
    """'sending' while a GIF upload is under way, 'sent' once it arrived."""
    return f"{PREFIX}:sent:{job_id}"


def told_key(job_id: str) -> str:
    """Set once the user has been told that this job failed."""
    return f"{PREFIX}:told:{job_id}"


def user_key(user_id: int) -> str:
    return f"{PREFIX}:user:{user_id}"


USERS_KEY = f"{PREFIX}:users"  # zset: user id -> last seen (unix s)


@dataclass(frozen=True)
class UserStats:
    """One user's counters as the admin panel shows them."""

    user_id: int
    videos: int
    delivered: int
    failed: int
    refused: int
    bytes_in: int
    bytes_out: int
    last_seen: float


def mark_queued(pipe: Pipeline | Redis, job_id: str) -> None:
    """Remember that this message's job was queued (in the caller's pipeline)."""
    pipe.set(message_key(job_id), "1", ex=MESSAGE_MARKER_TTL_S)


def was_queued(redis: Redis, job_id: str) -> bool:
    """True if a job for this message was already queued."""
    return bool(redis.exists(message_key(job_id)))


def claim_send(redis: Redis, job_id: str) -> str | None:
    """Claim the right to send this job's GIF; None if claimed, else the marker found."""
    if redis.set(sent_key(job_id), "sending", nx=True, ex=SENDING_MARKER_TTL_S):
        return None
    value = redis.get(sent_key(job_id))
    return value.decode() if value else "sending"


def confirm_sent(redis: Redis, job_id: str) -> None:
    """Record that the GIF reached Telegram; every later attempt skips the send."""
    redis.set(sent_key(job_id), "sent", ex=SENT_MARKER_TTL_S)


def release_send(redis: Redis, job_id: str) -> None:
    """Drop a 'sending' claim after a send that surely failed, so a retry may send."""
    redis.delete(sent_key(job_id))


def already_sent(redis: Redis, job_id: str) -> bool:
    """True once this job's GIF was delivered."""
    return redis.get(sent_key(job_id)) == b"sent"


def claim_failure_notice(redis: Redis, job_id: str) -> bool:
    """True exactly once per job: the caller may tell the user it failed."""
    return bool(redis.set(told_key(job_id), "1", nx=True, ex=SENT_MARKER_TTL_S))


def record_video(redis: Redis | Pipeline, user_id: int, size: int) -> None:
    """Count a video a user sent."""
    now = time.time()
    pipe = redis.pipeline() if isinstance(redis, Redis) else redis
    pipe.hincrby(user_key(user_id), "videos", 1)
    pipe.hincrby(user_key(user_id), "bytes_in", max(size, 0))
    pipe.hset(user_key(user_id), "last_seen", now)
    pipe.zadd(USERS_KEY, {str(user_id): now})
    if pipe is not redis:
        pipe.execute()


def record_outcome(redis: Redis, user_id: int, outcome: Outcome, bytes_out: int = 0) -> None:
    """Count how one of a user's videos ended."""
    with redis.pipeline() as pipe:
        pipe.hincrby(user_key(user_id), outcome.value, 1)
        if bytes_out:
            pipe.hincrby(user_key(user_id), "bytes_out", bytes_out)
        pipe.execute()


def user_stats(redis: Redis, user_id: int) -> UserStats:
    """Read one user's counters (zeros for an unknown user)."""
    raw = {k.decode(): v.decode() for k, v in redis.hgetall(user_key(user_id)).items()}
    count = lambda name: int(raw.get(name, 0))  # noqa: E731
    return UserStats(
        user_id=user_id,
        videos=count("videos"),
        delivered=count(Outcome.DELIVERED),
        failed=count(Outcome.FAILED),
        refused=count(Outcome.REFUSED),
        bytes_in=count("bytes_in"),
        bytes_out=count("bytes_out"),
        last_seen=float(raw.get("last_seen", 0)),
    )
