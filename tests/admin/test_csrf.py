"""CSRF: no state changes without the session's token, rq-dashboard's actions included."""

from __future__ import annotations

import pytest
from redis import Redis

from core import keys, limits
from tests.admin.helpers import csrf_token, enqueue_jobs, fail_jobs, gif_queue, seed_user

USER_ID = 777


def queue_state(redis: Redis) -> tuple[list[str], list[str], int]:
    """What an rq-dashboard action could change: queued ids, failed ids, how many job hashes exist."""
    queue = gif_queue(redis)
    return queue.job_ids, sorted(queue.failed_job_registry.get_job_ids()), len(redis.keys("rq:job:*"))


@pytest.fixture
def jobs(redis_client: Redis) -> tuple[str, str]:
    """Two failed jobs and three queued ones; returns (a failed job id, a queued job id)."""
    failed = fail_jobs(redis_client, 2)
    queued = enqueue_jobs(redis_client, 3)
    return failed[0].id, queued[0].id


def dashboard_actions(failed_id: str, queued_id: str) -> list[tuple[str, str]]:
    """(method, url) of every state-changing rq-dashboard route."""
    return [
        ("POST", f"/rq/job/{failed_id}/requeue"),
        ("POST", f"/rq/job/{queued_id}/delete"),
        ("POST", "/rq/requeue/gifs"),
        ("GET", "/rq/requeue/gifs"),
        ("POST", "/rq/queue/gifs/queued/empty"),
        ("POST", "/rq/queue/gifs/failed/empty"),
        ("POST", "/rq/queue/gifs/compact"),
    ]


@pytest.mark.parametrize("headers", [{}, {"X-CSRFToken": "forged"}], ids=["no-token", "wrong-token"])
def test_dashboard_actions_without_a_valid_token_change_nothing(admin, redis_client, jobs, headers):
    """Requeue, delete, requeue-all (POST and GET), empty and compact are refused; the queue is unchanged."""
    before = queue_state(redis_client)
    assert len(before[0]) == 3 and len(before[1]) == 2
    for method, url in dashboard_actions(*jobs):
        response = admin.open(url, method=method, headers=headers)
        assert response.status_code == (405 if method == "GET" else 403), (method, url)
        assert queue_state(redis_client) == before, (method, url)


def test_dashboard_actions_from_another_origin_are_refused_even_with_the_token(admin, redis_client, jobs):
    """A valid token does not help a request whose Origin is another site."""
    before = queue_state(redis_client)
    token = csrf_token(admin)
    for method, url in dashboard_actions(*jobs):
        if method == "POST":
            response = admin.post(url, headers={"X-CSRFToken": token, "Origin": "https://evil.example"})
            assert response.status_code == 403, url
    assert queue_state(redis_client) == before


def test_requeue_all_by_get_is_refused_even_with_the_token(admin, redis_client, jobs):
    """Upstream requeues everything on a plain GET; here that method is not allowed at all."""
    before = queue_state(redis_client)
    response = admin.get("/rq/requeue/gifs", headers={"X-CSRFToken": csrf_token(admin)})
    assert response.status_code == 405
    assert admin.head("/rq/requeue/gifs").status_code == 405
    assert queue_state(redis_client) == before


def test_dashboard_actions_with_the_token_work(admin, redis_client, jobs):
    """The same actions, sent as the dashboard's JavaScript sends them (header token), do their job."""
    failed_id, queued_id = jobs
    token = {"X-CSRFToken": csrf_token(admin), "Origin": "http://localhost"}
    queue = gif_queue(redis_client)
    assert admin.post(f"/rq/job/{failed_id}/requeue", headers=token).get_json() == {"status": "OK"}
    assert failed_id in queue.job_ids
    assert admin.post(f"/rq/job/{queued_id}/delete", headers=token).get_json() == {"status": "OK"}
    assert queued_id not in queue.job_ids
    assert admin.post("/rq/requeue/gifs", headers=token).get_json() == {"status": "OK", "count": 1}
    assert admin.post("/rq/queue/gifs/compact", headers=token).status_code == 200
    assert admin.post("/rq/queue/gifs/queued/empty", headers=token).status_code == 200
    assert queue.count == 0


def test_dashboard_pages_hand_the_token_to_its_javascript(admin):
    """rq-dashboard's JS reads the `_csrf_token` cookie; it holds the session's token, only under /rq."""
    response = admin.get("/rq/")
    cookie = next(c for c in response.headers.getlist("Set-Cookie") if c.startswith("_csrf_token="))
    assert f"_csrf_token={csrf_token(admin)};" in cookie
    assert "Path=/rq" in cookie and "SameSite=Strict" in cookie


@pytest.fixture
def user(redis_client: Redis) -> int:
    seed_user(redis_client, USER_ID)
    return USER_ID


@pytest.mark.parametrize(
    "path", ["ban", "unban", "quota", "quota/clear"], ids=["ban", "unban", "quota", "clear-quota"]
)
def test_our_forms_without_the_token_are_refused(admin, redis_client, user, path):
    """Ban, unban and quota changes need the form's token."""
    limits.set_quota(redis_client, user, per_hour=7)
    response = admin.post(f"/users/{user}/{path}", data={"max_active": "1", "per_hour": "1"})
    assert response.status_code == 403
    assert "security token" in response.get_data(as_text=True)
    assert not limits.is_banned(redis_client, user)
    assert redis_client.hgetall(keys.quota(user)) == {b"per_hour": b"7"}


def test_ban_form_with_the_token_bans(admin, redis_client, user):
    """The same POST with the token does change the store."""
    response = admin.post(f"/users/{user}/ban", data={"csrf_token": csrf_token(admin)})
    assert response.status_code == 303
    assert limits.is_banned(redis_client, user)


def test_login_form_needs_its_token_too(client):
    """No login CSRF: a login POST without the form's token is refused."""
    response = client.post("/login", data={"username": "admin", "password": "x"})
    assert response.status_code == 403


def test_logout_is_a_post_with_the_token(admin):
    """A cross-site page cannot sign the admin out: GET is not allowed, POST needs the token."""
    assert admin.get("/logout").status_code == 405
    assert admin.post("/logout").status_code == 403
    assert admin.get("/").status_code == 200
    assert admin.post("/logout", data={"csrf_token": csrf_token(admin)}).status_code == 302
    assert admin.get("/").status_code == 302
