"""CSRF protection: every state-changing request needs the session's token and a same-site origin.

Our forms send the token as a hidden `csrf_token` field. rq-dashboard's JavaScript reads the cookie
`_csrf_token` and sends it as the `X-CSRFToken` header on every AJAX call (see its dashboard.js),
so the dashboard's pages get that cookie (admin/dashboard.py). Either way the value must equal
the token in the signed session, which another site can neither read nor set.
"""

from __future__ import annotations

import hmac
import secrets
from urllib.parse import urlsplit

from flask import Flask, abort, current_app, request, session

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
SESSION_KEY = "csrf"
FORM_FIELD = "csrf_token"
HEADER = "X-CSRFToken"
DASHBOARD_COOKIE = "_csrf_token"
TOKEN_BYTES = 32


def init_app(app: Flask) -> None:
    """Check every unsafe request; give templates `csrf_token()`."""
    app.before_request(protect)
    app.jinja_env.globals["csrf_token"] = token


def token() -> str:
    """This session's CSRF token, made on first use (503 while sessions are unavailable)."""
    if current_app.session_interface.is_null_session(session._get_current_object()):
        abort(503, description="The panel cannot reach Redis right now. Try again shortly.")
    value = session.get(SESSION_KEY)
    return value if isinstance(value, str) else rotate()


def rotate() -> str:
    """Give the session a fresh token (at login, so a planted pre-login token is useless)."""
    value = secrets.token_urlsafe(TOKEN_BYTES)
    session[SESSION_KEY] = value
    return value


def protect() -> None:
    """Refuse an unsafe request from another origin or without the session's token (403)."""
    if request.method in SAFE_METHODS:
        return
    if not same_origin():
        abort(403, description="Refused: this request came from another site.")
    expected = session.get(SESSION_KEY)
    given = request.headers.get(HEADER) or request.form.get(FORM_FIELD, "")
    if not (isinstance(expected, str) and given and hmac.compare_digest(given.encode(), expected.encode())):
        abort(403, description="Refused: the security token is missing or expired. Reload and retry.")


def same_origin() -> bool:
    """False if the browser says the request comes from another host (Origin, else Referer)."""
    source = request.headers.get("Origin") or request.headers.get("Referer")
    if not source:
        return True  # some clients send neither; the token is still required
    return source != "null" and urlsplit(source).netloc == request.host
