"""Login, logout, the session cookie and its Redis-derived key, the throttle, and the start-up check."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from flask import Flask
from redis import Redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from admin import MissingPasswordError, create_app
from admin.session_key import SALT_KEY
from admin.throttle import MAX_FAILURES
from core.settings import Settings
from tests.admin.helpers import PASSWORD, basic_auth, csrf_token, login
from tests.services import REPO_ROOT, free_port


def make_app(settings: Settings, redis: Redis) -> Flask:
    return create_app({"SETTINGS": settings, "REDIS": redis, "TESTING": True})


def test_login_page_is_open_and_carries_a_csrf_token(client):
    """The login form needs no login; it shows no navigation."""
    page = client.get("/login")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'name="csrf_token"' in html and 'type="password"' in html
    assert "Sign out" not in html


def test_right_password_logs_in_and_redirects_to_the_overview(client):
    """A good login lands on the overview, which then answers 200."""
    response = login(client)
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert client.get("/").status_code == 200


@pytest.mark.parametrize(("username", "password"), [("admin", "wrong"), ("root", PASSWORD), ("", "")])
def test_wrong_credentials_are_refused(client, username, password):
    """A wrong username or password gets 401 and the form again, and no session."""
    response = login(client, username, password)
    assert response.status_code == 401
    assert "Wrong username or password." in response.get_data(as_text=True)
    assert client.get("/").status_code == 302


def test_after_login_next_is_followed_only_within_the_site(client):
    """?next= is honoured for a local path and ignored for another site (no open redirect)."""
    token = csrf_token(client)
    form = {"username": "admin", "password": PASSWORD, "csrf_token": token}
    assert client.post("/login?next=/users", data=form).headers["Location"] == "/users"
    for evil in ("//evil.example/", "https://evil.example/", "/\\evil.example", "/\t/evil.example"):
        client.post("/logout", data={"csrf_token": csrf_token(client)})
        form["csrf_token"] = csrf_token(client)
        assert client.post("/login", data={**form, "next": evil}).headers["Location"] == "/"


def test_a_page_without_login_redirects_to_the_login_with_next(client):
    """The redirect remembers where the admin wanted to go."""
    response = client.get("/users?q=bob")
    assert response.headers["Location"] == "/login?next=/users?q%3Dbob"


def test_session_cookie_is_httponly_and_samesite(client):
    """The signed session cookie cannot be read by scripts nor sent by cross-site POSTs."""
    response = login(client)
    cookie = next(c for c in response.headers.getlist("Set-Cookie") if c.startswith("gifbot_admin="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_signing_key_comes_from_redis_not_from_config(app, redis_client, admin):
    """No secret in the config; a random salt in Redis (shared by every worker) keys the cookie."""
    assert not app.secret_key
    assert len(redis_client.get(SALT_KEY)) == 64


def test_a_session_is_valid_in_every_worker_sharing_the_redis(settings, redis_client, admin):
    """A second app (another gunicorn worker) accepts the first one's session."""
    other = make_app(settings, redis_client).test_client()
    cookie = admin.get_cookie("gifbot_admin")
    other.set_cookie("gifbot_admin", cookie.value)
    assert other.get("/").status_code == 200


def test_changing_the_password_signs_everyone_out(settings, redis_client, admin):
    """The key is derived from the password: an old session is worthless after a change."""
    changed = Settings(redis_url=settings.redis_url, admin_password="a new password")
    other = make_app(changed, redis_client).test_client()
    other.set_cookie("gifbot_admin", admin.get_cookie("gifbot_admin").value)
    assert other.get("/").status_code == 302


def test_signing_out_ends_the_session_for_every_copy_of_its_cookie(settings, redis_client, admin):
    """After logout a copied session cookie opens nothing, in this worker or another."""
    copied = admin.get_cookie("gifbot_admin").value
    thief = make_app(settings, redis_client).test_client()
    thief.set_cookie("gifbot_admin", copied)
    assert thief.get("/").status_code == 200

    assert admin.post("/logout", data={"csrf_token": csrf_token(admin)}).status_code == 302

    thief.set_cookie("gifbot_admin", copied)
    assert thief.get("/").status_code == 302
    assert thief.get("/api/stats").status_code == 401
    assert thief.post("/logout").status_code in (401, 403)


def test_signing_out_one_login_leaves_another_open(settings, redis_client, admin):
    """Each login has its own server-side id: logging out of one browser keeps the other's session."""
    other = make_app(settings, redis_client).test_client()
    assert login(other).status_code == 302
    admin.post("/logout", data={"csrf_token": csrf_token(admin)})
    assert admin.get("/").status_code == 302
    assert other.get("/").status_code == 200


def test_a_forged_session_cookie_is_ignored(client):
    """An unsigned cookie claiming to be the admin opens nothing."""
    client.set_cookie("gifbot_admin", '{"user": "admin"}')
    assert client.get("/").status_code == 302


def test_failed_logins_are_throttled_across_workers(settings, redis_client):
    """After MAX_FAILURES wrong passwords even the right one is refused (429), in every worker."""
    first = make_app(settings, redis_client).test_client()
    second = make_app(settings, redis_client).test_client()
    for _ in range(MAX_FAILURES):
        assert login(first, password="guess").status_code == 401
    refused = login(second)
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) > 0
    assert "Too many failed logins" in refused.get_data(as_text=True)


def test_http_basic_failures_count_towards_the_same_throttle(client):
    """Guessing through HTTP Basic on /api is throttled as well."""
    for _ in range(MAX_FAILURES):
        assert client.get("/api/stats", headers=basic_auth(password="guess")).status_code == 401
    assert client.get("/api/stats", headers=basic_auth()).status_code == 429


def test_a_good_login_clears_earlier_failures(client):
    """A few typos do not pile up across successful logins."""
    for _ in range(MAX_FAILURES - 1):
        login(client, password="typo")
    assert login(client).status_code == 302
    client.post("/logout", data={"csrf_token": csrf_token(client)})
    assert login(client, password="typo").status_code == 401


def test_api_without_credentials_asks_for_http_basic(client):
    """/api/* and /metrics answer 401 with a Basic challenge, never a redirect."""
    for url in ("/api/users", "/metrics"):
        response = client.get(url)
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"].startswith("Basic ")


def test_the_app_refuses_to_start_without_a_password(settings, redis_client):
    """create_app raises with a message that says how to set ADMIN_PASSWORD."""
    no_password = Settings(redis_url=settings.redis_url, admin_password="")
    with pytest.raises(MissingPasswordError) as raised:
        make_app(no_password, redis_client)
    assert "ADMIN_PASSWORD" in str(raised.value.code) and ".env" in str(raised.value.code)


def test_python_m_admin_exits_with_the_hint_when_no_password_is_set(tmp_path):
    """The real entry point stops at once with the hint (gunicorn --preload does the same)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ADMIN_")}
    env["PYTHONPATH"] = str(REPO_ROOT)
    result = subprocess.run(
        [sys.executable, "-m", "admin"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    assert "ADMIN_PASSWORD" in result.stderr and "secrets.token_urlsafe" in result.stderr


def test_without_redis_healthz_says_503_and_pages_do_not_crash(settings):
    """With Redis unreachable: /healthz is 503 and the login page a clean 503, not a traceback."""
    dead = Redis(port=free_port(), socket_connect_timeout=0.5, retry=Retry(NoBackoff(), 0))
    client = make_app(settings, dead).test_client()
    health = client.get("/healthz")
    assert health.status_code == 503 and health.get_json()["redis"] is False
    page = client.get("/login")
    assert page.status_code == 503
    assert "cannot reach Redis" in page.get_data(as_text=True)


def test_cookies_are_secure_over_https(client):
    """Over HTTPS (e.g. behind a TLS proxy) the session and dashboard cookies are marked Secure."""
    token = csrf_token(client)
    form = {"username": "admin", "password": PASSWORD, "csrf_token": token}
    response = client.post("/login", data=form, base_url="https://localhost")
    assert response.status_code == 302
    session_cookie = next(c for c in response.headers.getlist("Set-Cookie") if c.startswith("gifbot_admin="))
    assert "Secure" in session_cookie
    dashboard = client.get("/rq/", base_url="https://localhost").headers.getlist("Set-Cookie")
    assert all("Secure" in c for c in dashboard)
