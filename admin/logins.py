"""Server-side record of each admin login, so signing out ends the session everywhere.

The session cookie is signed, not stored, so on its own a copy of it would stay valid until it
expires. Each login therefore gets a random id, kept in the cookie; Redis holds a digest of it
for the session's lifetime (renewed on use), and signing out deletes it: a copied cookie then
opens nothing.
"""

from __future__ import annotations

import hashlib
import secrets

from redis import Redis

from admin.session_key import SESSION_LIFETIME
from core import keys

ID_BYTES = 32
LIFETIME_S = int(SESSION_LIFETIME.total_seconds())


def _key(session_id: str) -> str:
    return keys.admin_session(hashlib.sha256(session_id.encode("utf-8")).hexdigest())


def open_login(redis: Redis) -> str:
    """Record a new login; returns the id to keep in the session cookie."""
    session_id = secrets.token_urlsafe(ID_BYTES)
    redis.set(_key(session_id), "1", ex=LIFETIME_S)
    return session_id


def is_open(redis: Redis, session_id: object) -> bool:
    """True if this login is still open (and keep it open for another session lifetime)."""
    return isinstance(session_id, str) and bool(redis.expire(_key(session_id), LIFETIME_S))


def close_login(redis: Redis, session_id: object) -> None:
    """Sign this login out for good: its cookie, wherever copied, opens nothing after this."""
    if isinstance(session_id, str):
        redis.delete(_key(session_id))
