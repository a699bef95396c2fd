"""The audit log: every admin action (sign-in and out, ban, unban, limits, and rq-dashboard's
requeue, delete, empty, compact) with who, when, what and from where, kept KEEP_DAYS.

One sorted set (keys.AUDIT): each entry is a JSON object scored by its time. Every write trims
entries older than KEEP_DAYS and all but the newest MAX_ENTRIES, and the key expires KEEP_DAYS
after the last action, so the log is bounded however busy the admins are.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from dataclasses import asdict, dataclass

from flask import current_app, request, session
from redis import Redis, RedisError

from admin import auth, context  # auth imports this module too: used at call time only
from core import keys

KEEP_DAYS = 90
KEEP_S = KEEP_DAYS * 24 * 3600
MAX_ENTRIES = 5_000  # ~330 bytes each in Redis: 1.6 MB at most
PAGE_SIZE = 100


@dataclass(frozen=True)
class Entry:
    """One admin action. `login` tells two sign-ins of the same admin apart (a digest of its id)."""

    at: float
    who: str
    login: str
    address: str
    action: str
    target: str
    detail: str = ""
    ok: bool = True


@dataclass(frozen=True)
class AuditPage:
    """One page of entries, newest first, and how many the log holds."""

    entries: list[Entry]
    total: int
    page: int
    pages: int


def record(redis: Redis, entry: Entry, *, keep_s: int = KEEP_S, max_entries: int = MAX_ENTRIES) -> None:
    """Append `entry` and trim the log by age and length."""
    member = json.dumps({**asdict(entry), "nonce": secrets.token_hex(4)})  # equal entries stay apart
    with redis.pipeline() as pipe:
        pipe.zadd(keys.AUDIT, {member: entry.at})
        pipe.zremrangebyscore(keys.AUDIT, "-inf", f"({entry.at - keep_s}")
        pipe.zremrangebyrank(keys.AUDIT, 0, -(max_entries + 1))
        pipe.expire(keys.AUDIT, keep_s)
        pipe.execute()


def log_action(action: str, target: str, detail: str = "", *, ok: bool = True) -> None:
    """Record an action of the admin behind this request; a failure to record is logged, and the
    action (done already) stands."""
    entry = Entry(time.time(), who(), login_ref(), request.remote_addr or "", action, target, detail, ok)
    try:
        record(context.redis(), entry)
    except RedisError:  # the action happened; say so in the log instead
        current_app.logger.exception("audit: could not record %s", entry)


def who() -> str:
    """The admin's name: from the session, or from HTTP Basic."""
    user = session.get(auth.SESSION_USER)
    if isinstance(user, str) and user:
        return user
    basic = request.authorization
    return (basic.username or "") if basic is not None else ""


def login_ref() -> str:
    """A short digest of this login's id (never the id itself, which opens the session)."""
    sid = session.get(auth.SESSION_ID)
    return hashlib.sha256(sid.encode()).hexdigest()[:8] if isinstance(sid, str) else ""


def entries(redis: Redis, page: int = 1, page_size: int = PAGE_SIZE) -> AuditPage:
    """The log, newest first, one page (clamped to the last)."""
    total = int(redis.zcard(keys.AUDIT))
    pages = max(1, -(-total // page_size))
    page = min(max(1, page), pages)
    raw = redis.zrevrange(keys.AUDIT, (page - 1) * page_size, page * page_size - 1)
    return AuditPage([_entry(r) for r in raw], total, page, pages)


def _entry(raw: bytes) -> Entry:
    values = json.loads(raw)
    values.pop("nonce", None)
    return Entry(**values)
