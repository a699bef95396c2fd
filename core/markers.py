"""Per-job markers in Redis that make at-least-once delivery look exactly-once to the user."""

from __future__ import annotations

from redis import Redis
from redis.client import Pipeline

from core import keys

MESSAGE_MARKER_TTL_S = 3 * 24 * 3600  # longer than Telegram's 24 h re-delivery window
SENT_MARKER_TTL_S = 7 * 24 * 3600
# A "sending" claim is released only on a definite non-delivery (Telegram answered with an error,
# or the request never left). A send that ended in doubt (read timeout, reset, a crash) keeps its
# claim: a later attempt then sends nothing, as the GIF most likely reached the user.
SENDING_MARKER_TTL_S = SENT_MARKER_TTL_S


def mark_queued(pipe: Pipeline | Redis, job_id: str) -> None:
    """Remember that this message's job was queued (in the caller's pipeline)."""
    pipe.set(keys.queued(job_id), "1", ex=MESSAGE_MARKER_TTL_S)


def was_queued(redis: Redis, job_id: str) -> bool:
    """True if a job for this message was already queued."""
    return bool(redis.exists(keys.queued(job_id)))


def claim_send(redis: Redis, job_id: str, owner: str = "") -> str | None:
    """Claim the right to send this job's GIF for `owner` (one send attempt); None if claimed,
    else 'sending' or 'sent'. Asked again by the same owner, it answers None: a retry after a lost
    reply or a failover finds its own claim (or makes it anew, if the failover lost it)."""
    mine = f"sending {owner}" if owner else "sending"
    if redis.set(keys.sent(job_id), mine, nx=True, ex=SENDING_MARKER_TTL_S):
        return None
    value = redis.get(keys.sent(job_id))
    if owner and value == mine.encode():
        return None
    return "sent" if value == b"sent" else "sending"


def confirm_sent(redis: Redis, job_id: str) -> None:
    """Record that the GIF reached Telegram; every later attempt skips the send."""
    redis.set(keys.sent(job_id), "sent", ex=SENT_MARKER_TTL_S)


def release_send(redis: Redis, job_id: str) -> None:
    """Drop a 'sending' claim after a send that surely failed, so a retry may send."""
    redis.delete(keys.sent(job_id))


def send_state(redis: Redis, job_id: str) -> str | None:
    """'sending', 'sent' or None: whether an attempt claimed, or confirmed, this job's GIF."""
    value = redis.get(keys.sent(job_id))
    return None if value is None else "sent" if value == b"sent" else "sending"


def already_sent(redis: Redis, job_id: str) -> bool:
    """True once this job's GIF was delivered."""
    return redis.get(keys.sent(job_id)) == b"sent"


def answered(redis: Redis, job_id: str) -> bool:
    """Whether this job's GIF went out (or is going out), or its failure was told in a reply of its
    own (not in the status message), in one round trip."""
    sent, told = redis.mget(keys.sent(job_id), keys.told(job_id))
    return sent is not None or told == b"reply"


def told_by_reply(redis: Redis, job_id: str) -> None:
    """Note that the failure claimed by claim_failure_notice is told in a reply of its own."""
    redis.set(keys.told(job_id), "reply", xx=True, keepttl=True)


def claim_failure_notice(redis: Redis, job_id: str) -> bool:
    """True exactly once per job: the caller may tell the user it failed."""
    return bool(redis.set(keys.told(job_id), "1", nx=True, ex=SENT_MARKER_TTL_S))


def remember_status(redis: Redis, job_id: str, message_id: int) -> None:
    """Keep the status message id, so a re-delivered update reuses it instead of sending another."""
    redis.set(keys.status(job_id), message_id, ex=MESSAGE_MARKER_TTL_S)


def status_message_id(redis: Redis, job_id: str) -> int | None:
    """The status message sent for this job's video, if any: None while the bot has not said, 0 if
    it sent none (its reply failed)."""
    value = redis.get(keys.status(job_id))
    return int(value) if value else None
