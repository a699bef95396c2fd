"""Content-Security-Policy and the other security headers, on our pages and rq-dashboard's."""

from __future__ import annotations

import re

import pytest
from flask.testing import FlaskClient
from redis import Redis

from admin.headers import style_hash
from tests.admin.helpers import fail_jobs, seed_user

OUR_PAGES = ["/", "/users", "/users/5", "/api/stats", "/metrics", "/login"]
DASHBOARD_PAGES = ["/rq/", "/rq/0/view/workers", "/rq/0/view/jobs", "/rq/0/view/jobs/gifs/failed/8/asc/1"]
NONCE = re.compile(r"'nonce-([^']+)'")
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)([^>]*)>", re.IGNORECASE)
STYLE_ATTRIBUTE = re.compile(r'\sstyle="([^"]*)"')


@pytest.fixture
def pages(redis_client: Redis) -> list[str]:
    """Our pages and rq-dashboard's, including a real job's page."""
    seed_user(redis_client, 5)
    job = fail_jobs(redis_client, 1)[0]
    return [*OUR_PAGES, *DASHBOARD_PAGES, f"/rq/0/view/job/{job.id}"]


def policy(response) -> dict[str, str]:
    """The CSP as {directive: sources}."""
    parts = (p.strip().split(" ", 1) for p in response.headers["Content-Security-Policy"].split(";"))
    return {p[0]: (p[1] if len(p) > 1 else "") for p in parts}


def test_every_page_has_the_security_headers(admin: FlaskClient, pages: list[str]):
    """CSP, no framing, no sniffing, same-origin referrers and no caching of data."""
    for url in pages:
        response = admin.get(url)
        assert response.status_code == 200, url
        csp = policy(response)
        assert csp["default-src"] == "'none'" and csp["frame-ancestors"] == "'none'", url
        assert csp["base-uri"] == "'none'" and csp["form-action"] == "'self'", url
        assert "'unsafe-inline'" not in response.headers["Content-Security-Policy"], url
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "same-origin"
        assert response.headers["Cache-Control"] == "no-store", url


def test_our_pages_allow_no_script_at_all(admin: FlaskClient, pages: list[str]):
    """The panel's own pages run no JavaScript: no script-src, no script tag, no inline style."""
    for url in OUR_PAGES:
        response = admin.get(url)
        assert "script-src" not in policy(response), url
        html = response.get_data(as_text=True)
        assert "<script" not in html and not STYLE_ATTRIBUTE.search(html), url


def test_pages_before_login_inline_their_css_with_the_nonce(client: FlaskClient):
    """The login page's only inline style carries this response's nonce."""
    response = client.get("/login")
    nonce = NONCE.search(policy(response)["style-src"]).group(1)
    assert f'<style nonce="{nonce}">' in response.get_data(as_text=True)


def test_dashboard_inline_script_carries_the_nonce(admin: FlaskClient, pages: list[str]):
    """rq-dashboard's inline script runs only because it carries this response's nonce."""
    seen = set()
    for url in [u for u in pages if u.startswith("/rq/")]:
        response = admin.get(url)
        nonce = NONCE.search(policy(response)["script-src"]).group(1)
        inline = INLINE_SCRIPT.findall(response.get_data(as_text=True))
        tags_with_code = [attrs for attrs in inline if "text/template" not in attrs]
        assert tags_with_code, url
        assert all(f'nonce="{nonce}"' in attrs for attrs in tags_with_code), url
        seen.add(nonce)
    assert len(seen) == len([u for u in pages if u.startswith("/rq/")]), "a fresh nonce per response"


def test_every_inline_style_on_dashboard_pages_is_allowed_by_hash(admin: FlaskClient, pages: list[str]):
    """Each style="..." rq-dashboard's templates use is in style-src by hash (and nothing else is)."""
    for url in [u for u in pages if u.startswith("/rq/")]:
        response = admin.get(url)
        allowed = policy(response)["style-src"]
        assert "'unsafe-hashes'" in allowed
        for value in STYLE_ATTRIBUTE.findall(response.get_data(as_text=True)):
            assert style_hash(value) in allowed, (url, value)


def test_error_and_refusal_responses_have_the_headers_too(client: FlaskClient, admin: FlaskClient):
    """A 401, a redirect to login and a 404 carry the same headers."""
    for response in (client.get("/api/stats"), client.get("/"), admin.get("/nope")):
        assert "Content-Security-Policy" in response.headers
        assert response.headers["X-Frame-Options"] == "DENY"
