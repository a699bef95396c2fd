"""The audit log: every admin action (ours and rq-dashboard's) with who, when, what and from where,
on its page and in /api/audit; bounded by age (90 days) and length."""

from __future__ import annotations

import time

from flask.testing import FlaskClient
from redis import Redis

from admin import audit, create_app
from core import keys
from core.settings import Settings
from tests.admin.helpers import (
    PASSWORD,
    USERNAME,
    basic_auth,
    csrf_token,
    enqueue_jobs,
    fail_jobs,
    login,
    seed_user,
)

PROXY, CLIENT = "127.0.0.1", "203.0.113.7"  # the test client's peer is our reverse proxy
HOSTILE_QUEUE = "<img src=x onerror=alert(1)>"


def behind_proxy(settings: Settings, redis: Redis) -> FlaskClient:
    """A signed-in browser reaching the panel through a trusted reverse proxy from CLIENT."""
    values = Settings(
        redis_url=settings.redis_url,
        admin_username=USERNAME,
        admin_password=PASSWORD,
        admin_trusted_proxies=(PROXY,),
    )
    browser = create_app({"SETTINGS": values, "REDIS": redis, "TESTING": True}).test_client()
    browser.environ_base["HTTP_X_FORWARDED_FOR"] = CLIENT
    assert login(browser).status_code == 302
    return browser


def do_every_action(browser: FlaskClient, redis: Redis) -> None:
    """Ban, unban, limits (bad and good), default limits; the dashboard's requeue (ok and refused),
    requeue-all, delete, empty and compact; sign out."""
    seed_user(redis, 42)
    form = {"csrf_token": csrf_token(browser)}
    header = {"X-CSRFToken": form["csrf_token"]}
    for path in ("ban", "unban"):
        browser.post(f"/users/42/{path}", data=form)
    browser.post("/users/42/quota", data={**form, "max_active": "0"})
    browser.post("/users/42/quota", data={**form, "max_active": "3", "per_hour": ""})
    browser.post("/users/42/quota/clear", data=form)
    failed = fail_jobs(redis, 3)
    queued = enqueue_jobs(redis, 2)
    assert browser.post(f"/rq/job/{failed[0].id}/requeue", headers=header).get_json()["status"] == "OK"
    assert browser.post(f"/rq/job/{queued[0].id}/requeue", headers=header).get_json()["status"] == "ERROR"
    assert browser.post("/rq/requeue/gifs", headers=header).get_json()["count"] == 2
    assert browser.post(f"/rq/job/{queued[1].id}/delete", headers=header).status_code == 200
    assert browser.post("/rq/queue/gifs/queued/empty", headers=header).status_code == 200
    enqueue_jobs(redis, 1)
    assert browser.post("/rq/queue/gifs/compact", headers=header).status_code == 200
    assert browser.post(f"/rq/queue/{HOSTILE_QUEUE}/compact", headers=header).status_code == 200, "empty"
    browser.post("/logout", data=form)


EXPECTED = [  # (action, target, detail, ok), oldest first
    ("sign_in", "panel", "", True),
    ("ban", "user 42", "", True),
    ("unban", "user 42", "", True),
    ("set_limits", "user 42", "not whole numbers from 1 to 10000", False),
    ("set_limits", "user 42", "at once 3", True),
    ("default_limits", "user 42", "", True),
    ("requeue", "job {failed}", "", True),
    ("requeue", "job {queued}", "not a failed job", False),
    ("requeue_all", "queue gifs", "2 failed jobs", True),
    ("delete", "job {deleted}", "", True),
    ("empty", "queue gifs, queued", "4 jobs deleted", True),
    ("compact", "queue gifs", "", True),
    ("compact", f"queue {HOSTILE_QUEUE}", "empty: nothing to compact", True),
    ("sign_out", "panel", "", True),
]


def test_every_admin_action_is_recorded_with_who_when_what_and_where(settings: Settings, redis_client: Redis):
    """Each action, our pages' and rq-dashboard's alike, lands in /api/audit (newest first) with the
    admin's name, their sign-in, the client address behind the proxy and the time it happened."""
    browser = behind_proxy(settings, redis_client)
    before = time.time()
    do_every_action(browser, redis_client)
    after = time.time()

    body = browser.get("/api/audit", headers=basic_auth()).get_json()
    entries = list(reversed(body["entries"]))
    got = [(e["action"], e["target"], e["detail"], e["ok"]) for e in entries]
    assert [g[0] for g in got] == [e[0] for e in EXPECTED]
    assert [g[1].split(" ")[0] for g in got] == [e[1].split(" ")[0] for e in EXPECTED]
    assert [(g[2], g[3]) for g in got] == [(e[2], e[3]) for e in EXPECTED]
    assert got[-2][1] == f"queue {HOSTILE_QUEUE}"
    assert {(e["who"], e["address"]) for e in entries} == {(USERNAME, CLIENT)}
    assert len({e["login"] for e in entries}) == 1 and len(entries[0]["login"]) == 8
    assert all(before - 1 <= e["at"] <= after + 1 for e in entries)
    assert [e["at"] for e in entries] == sorted(e["at"] for e in entries)
    assert (body["total"], body["keep_days"]) == (len(EXPECTED), 90)


def test_audit_page_lists_actions_with_hostile_text_escaped(admin: FlaskClient, redis_client: Redis):
    """The audit page shows each action; a hostile queue name is text, not markup."""
    header = {"X-CSRFToken": csrf_token(admin)}
    admin.post(f"/rq/queue/{HOSTILE_QUEUE}/compact", headers=header)
    html = admin.get("/audit").get_data(as_text=True)
    assert '<tr data-action="compact">' in html and '<tr data-action="sign_in">' in html
    assert HOSTILE_QUEUE not in html and "&lt;img src=x onerror=alert(1)&gt;" in html


def test_api_audit_needs_a_login(client: FlaskClient):
    """/api/audit answers 401 without credentials, and with HTTP Basic like the rest of /api."""
    assert client.get("/api/audit").status_code == 401
    assert client.get("/api/audit", headers=basic_auth(password="wrong")).status_code == 401
    assert client.get("/api/audit", headers=basic_auth()).get_json()["entries"] == []


def test_audit_log_keeps_90_days_and_at_most_its_length(redis_client: Redis):
    """A write drops entries older than 90 days and all but the newest max_entries; the key expires."""
    now = time.time()
    entry = lambda at, n: audit.Entry(at, "admin", "", CLIENT, "ban", f"user {n}")  # noqa: E731
    audit.record(redis_client, entry(now - audit.KEEP_S - 60, 0))
    audit.record(redis_client, entry(now - audit.KEEP_S + 60, 1))
    audit.record(redis_client, entry(now, 2))
    assert [e.target for e in audit.entries(redis_client).entries] == ["user 2", "user 1"]
    for n in range(3, 8):
        audit.record(redis_client, entry(now + n, n), max_entries=4)
    assert [e.target for e in audit.entries(redis_client).entries] == [f"user {n}" for n in (7, 6, 5, 4)]
    assert 0 < redis_client.ttl(keys.AUDIT) <= audit.KEEP_S
    page = audit.entries(redis_client, page=2, page_size=3)
    assert (page.total, page.pages, [e.target for e in page.entries]) == (4, 2, ["user 4"])
