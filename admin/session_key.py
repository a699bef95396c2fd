"""The session cookie's signing key: derived from ADMIN_PASSWORD and a random salt kept in Redis.

No secret lives in git or on disk. Every gunicorn worker (and every panel box) derives the same key
from the shared salt, and changing ADMIN_PASSWORD signs everyone out. The key is fetched on the
first request, not at start, so the panel (and /healthz) runs while Redis is still down.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from datetime import timedelta

from flask import Flask, request
from flask.sessions import SecureCookieSessionInterface
from itsdangerous import URLSafeTimedSerializer
from redis import Redis, RedisError

from admin import context
from core import keys

SALT_KEY = keys.ADMIN_SESSION_SALT
SALT_BYTES = 32
SESSION_LIFETIME = timedelta(hours=12)
KEY_CONTEXT = b"gifbot admin session\0"

log = logging.getLogger(__name__)


def init_app(app: Flask) -> None:
    """Sign sessions with the derived key; cookies are HttpOnly, SameSite=Lax, 12 h (Secure over HTTPS)."""
    app.config.update(
        SESSION_COOKIE_NAME="gifbot_admin",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=SESSION_LIFETIME,
    )
    settings = context.settings(app)
    app.session_interface = RedisSaltedSessionInterface(context.redis(app), settings.admin_password)


def derive_key(redis: Redis, password: str) -> bytes:
    """HMAC the password with the shared salt, creating the salt on first use."""
    redis.set(SALT_KEY, secrets.token_hex(SALT_BYTES), nx=True)
    salt = redis.get(SALT_KEY)
    return hmac.new(salt, KEY_CONTEXT + password.encode("utf-8"), hashlib.sha256).digest()


class RedisSaltedSessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie session, keyed by `derive_key` instead of app.secret_key."""

    def __init__(self, redis: Redis, password: str) -> None:
        self._redis = redis
        self._password = password
        self._key: bytes | None = None

    def get_cookie_secure(self, app: Flask) -> bool:
        """Mark the cookie Secure whenever the request came over HTTPS (e.g. a TLS proxy)."""
        return request.is_secure or super().get_cookie_secure(app)

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        """The cookie serializer, or None (a null session) while Redis cannot be reached."""
        if self._key is None:
            try:
                self._key = derive_key(self._redis, self._password)
            except RedisError as exc:
                log.warning("session key unavailable, Redis does not answer: %s", exc)
                return None
        return URLSafeTimedSerializer(
            self._key,
            salt=self.salt,
            serializer=self.serializer,
            signer_kwargs={"key_derivation": self.key_derivation, "digest_method": self.digest_method},
        )
