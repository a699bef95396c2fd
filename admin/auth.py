"""Who may use the panel: the login page and session, and HTTP Basic on /api/* and /metrics.

Every route is closed except GET /healthz and the login page itself. A page asked for without a
login redirects to the login; JSON, actions and other methods get 401.
"""

from __future__ import annotations

import hashlib
import hmac
from functools import cache
from pathlib import Path

from flask import (
    Blueprint,
    Flask,
    Response,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from markupsafe import Markup
from redis import RedisError

from admin import audit, context, csrf, dashboard, logins
from admin.throttle import LoginThrottle
from core.settings import Settings

bp = Blueprint("auth", __name__)

PUBLIC_ENDPOINTS = frozenset({"api.healthz", "auth.login"})
BASIC_PREFIXES = ("/api/", "/metrics")
SESSION_USER = "user"
SESSION_ID = "sid"  # this login's id in Redis (admin/logins.py): signing out ends it server-side
REALM = "gifbot admin"
STYLESHEET = Path(__file__).parent / "static" / "admin.css"


def init_app(app: Flask) -> None:
    """Register the login routes and close every other route behind them."""
    app.register_blueprint(bp)
    app.before_request(require_login)
    app.context_processor(lambda: {"logged_in": _shown_logged_in(), "inline_css": stylesheet()})


def credentials_ok(settings: Settings, username: str, password: str) -> bool:
    """Compare both fields in constant time (digests, so lengths do not leak either)."""
    same_user = _same(username, settings.admin_username)
    same_password = _same(password, settings.admin_password)
    return same_user & same_password


def logged_in() -> bool:
    """True if this request's session belongs to the admin and its login was not signed out."""
    user = session.get(SESSION_USER)
    if not (isinstance(user, str) and _same(user, context.settings().admin_username)):
        return False
    return logins.is_open(context.redis(), session.get(SESSION_ID))


def _shown_logged_in() -> bool:
    """logged_in() for templates: an error page rendered while Redis is away must still render."""
    try:
        return logged_in()
    except RedisError:
        return False


@bp.route("/login", methods=["GET", "POST"])
def login() -> Response | tuple[str, int, dict[str, str]] | str:
    """Show the login form; on POST check it, throttled per client address."""
    next_url = safe_next(request.values.get("next"))
    if request.method == "GET":
        return _login_page(next_url)
    throttle = _throttle()
    wait = throttle.blocked_for()
    if wait:
        error = f"Too many failed logins. Try again in {(wait + 59) // 60} min."
        return _login_page(next_url, error), 429, {"Retry-After": str(wait)}
    form = request.form
    if not credentials_ok(context.settings(), form.get("username", ""), form.get("password", "")):
        throttle.failed()
        return _login_page(next_url, "Wrong username or password."), 401, {}
    throttle.succeeded()
    session.clear()
    session.permanent = True
    session[SESSION_USER] = context.settings().admin_username
    session[SESSION_ID] = logins.open_login(context.redis())
    csrf.rotate()
    audit.log_action("sign_in", "panel")
    return redirect(next_url or url_for("views.overview"))


@bp.post("/logout")
def logout() -> Response:
    """End the session, server-side too (POST with a CSRF token, so no other site can sign the
    admin out)."""
    audit.log_action("sign_out", "panel")
    logins.close_login(context.redis(), session.get(SESSION_ID))
    session.clear()
    flash("You are signed out.")
    response = redirect(url_for("auth.login"))
    response.delete_cookie(csrf.DASHBOARD_COOKIE, path=dashboard.URL_PREFIX)
    return response


def require_login() -> Response | None:
    """Refuse any request but the public ones unless it has the admin's session or Basic login."""
    if request.endpoint in PUBLIC_ENDPOINTS or logged_in():
        return None
    if request.authorization is not None and request.path.startswith(BASIC_PREFIXES):
        return _check_basic()
    if request.method in ("GET", "HEAD") and not _wants_json():
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
    return _challenge()


def safe_next(target: str | None) -> str | None:
    """Only a path on this site may be a post-login target (no open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return None
    if "\\" in target or not target.isprintable():  # browsers read "/\\x" and "/\t/x" as "//x"
        return None
    return target


def _check_basic() -> Response | None:
    throttle = _throttle()
    wait = throttle.blocked_for()
    if wait:
        return Response("Too many failed logins.\n", 429, {"Retry-After": str(wait)}, mimetype="text/plain")
    auth = request.authorization
    settings = context.settings()
    if (
        auth is not None
        and auth.type == "basic"
        and credentials_ok(settings, auth.username or "", auth.password or "")
    ):
        return None
    throttle.failed()
    return _challenge()


def _challenge() -> Response:
    headers = {}
    if request.path.startswith(BASIC_PREFIXES):
        headers["WWW-Authenticate"] = f'Basic realm="{REALM}", charset="UTF-8"'
    return Response("Login required.\n", 401, headers, mimetype="text/plain")


def _wants_json() -> bool:
    return request.path.startswith(BASIC_PREFIXES) or request.path.endswith(".json")


def _throttle() -> LoginThrottle:
    # remote_addr is the real client's behind a proxy listed in ADMIN_TRUSTED_PROXIES (admin/proxy.py)
    return LoginThrottle(context.redis(), request.remote_addr or "unknown")


def _login_page(next_url: str | None, error: str = "") -> str:
    return render_template("login.html", next_url=next_url, error=error)


@cache
def stylesheet() -> Markup:
    """Our own CSS, inlined into pages shown before login (the static route needs a login too)."""
    return Markup(STYLESHEET.read_text(encoding="utf-8"))


def _same(given: str, expected: str) -> bool:
    digest = lambda s: hashlib.sha256(s.encode("utf-8")).digest()  # noqa: E731
    return hmac.compare_digest(digest(given), digest(expected))
