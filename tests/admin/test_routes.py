"""Every route in the app's URL map: closed without a login, open (200) with one."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from redis import Redis
from werkzeug.routing import Rule

from tests.admin.helpers import basic_auth, enqueue_jobs, fail_jobs, seed_user

USER_ID = 4242
PUBLIC = {("GET", "api.healthz"), ("GET", "auth.login"), ("POST", "auth.login")}
STATIC_FILES = {"static": "admin.css", "rq_dashboard.static": "js/jquery-3.5.1.min.js"}


def route_params(rule: Rule, job_id: str) -> dict[str, object]:
    """Valid values for every URL parameter any route of ours or rq-dashboard's takes."""
    values: dict[str, object] = {
        "instance_number": 0,
        "queue_name": "gifs",
        "registry_name": "failed",
        "per_page": 8,
        "order": "asc",
        "page": 1,
        "job_id": job_id,
        "user_id": USER_ID,
        "filename": STATIC_FILES.get(rule.endpoint, ""),
    }
    missing = rule.arguments - values.keys()
    assert not missing, f"{rule.rule}: no test value for {missing}; add one here"
    return {name: values[name] for name in rule.arguments}


def all_requests(app: Flask, job_id: str) -> list[tuple[str, str, str]]:
    """(method, endpoint, url) for every rule and method, HEAD and OPTIONS aside."""
    found = []
    for rule in app.url_map.iter_rules():
        built = rule.build(route_params(rule, job_id))
        assert built is not None, rule.rule
        url = built[1]
        found += [(m, rule.endpoint, url) for m in sorted(rule.methods - {"HEAD", "OPTIONS"})]
    return found


@pytest.fixture
def job_id(redis_client: Redis) -> str:
    """A real failed job (so job pages, requeue and delete have something to act on)."""
    seed_user(redis_client, USER_ID, username="someone")
    failed = fail_jobs(redis_client, 1)[0].id
    enqueue_jobs(redis_client, 1)
    return failed


def test_the_url_map_includes_rq_dashboard_and_our_routes(app: Flask, job_id: str):
    """The enumeration below covers rq-dashboard's pages, JSON and actions, and ours."""
    requests = all_requests(app, job_id)
    endpoints = {endpoint for _, endpoint, _ in requests}
    assert len({url for _, _, url in requests}) == len(list(app.url_map.iter_rules())), "one URL per rule"
    assert {"rq_dashboard.requeue_all", "rq_dashboard.job_info", "rq_dashboard.empty_queue"} <= endpoints
    assert {"views.overview", "views.ban", "api.user", "api.prometheus", "static"} <= endpoints
    assert len(endpoints) >= 30


def test_every_route_refuses_a_request_without_login(app: Flask, client: FlaskClient, job_id: str):
    """Without a login every route (but /healthz and the login form) answers 401 or a redirect to it."""
    checked = 0
    for method, endpoint, url in all_requests(app, job_id):
        if (method, endpoint) in PUBLIC:
            continue
        response = client.open(url, method=method)
        checked += 1
        if response.status_code == 302:
            assert response.headers["Location"].startswith("/login?next="), (method, url)
        else:
            assert response.status_code == 401, (method, url, response.status_code)
            assert response.get_data(as_text=True) == "Login required.\n", (method, url)
    assert checked >= 30


def test_wrong_basic_credentials_open_nothing(app: Flask, client: FlaskClient, job_id: str):
    """A wrong HTTP Basic password is refused on every GET route, /api/* included."""
    for method, endpoint, url in all_requests(app, job_id):
        if method != "GET" or (method, endpoint) in PUBLIC:
            continue
        response = client.get(url, headers=basic_auth(password="wrong"))
        assert response.status_code in (302, 401, 429), (url, response.status_code)


def test_every_get_route_answers_a_logged_in_admin(app: Flask, admin: FlaskClient, job_id: str):
    """Logged in, every GET route answers 200 (except requeue-all, which must be POST)."""
    for method, endpoint, url in all_requests(app, job_id):
        if method != "GET":
            continue
        response = admin.get(url, follow_redirects=True)  # /rq/0/view/queues is an alias of /rq/
        expected = 405 if endpoint == "rq_dashboard.requeue_all" else 200
        assert response.status_code == expected, (url, response.status_code)


def test_api_and_metrics_accept_http_basic(client: FlaskClient, job_id: str):
    """Scripts may use HTTP Basic on /api/* and /metrics."""
    for url in ("/api/users", f"/api/users/{USER_ID}", "/api/stats", "/metrics"):
        assert client.get(url, headers=basic_auth()).status_code == 200, url


def test_pages_do_not_accept_http_basic(client: FlaskClient):
    """HTTP Basic opens only the API: pages still send the browser to the login form."""
    response = client.get("/users", headers=basic_auth())
    assert response.status_code == 302
    assert client.get("/rq/0/data/queues.json", headers=basic_auth()).status_code == 401


def test_an_unknown_url_asks_for_a_login_before_saying_not_found(client: FlaskClient, admin: FlaskClient):
    """Anonymous visitors learn nothing about which URLs exist."""
    assert client.get("/no/such/page").status_code == 302
    assert admin.get("/no/such/page").status_code == 404
