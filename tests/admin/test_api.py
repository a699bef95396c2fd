"""The JSON API and /healthz (/metrics: test_metrics.py)."""

from __future__ import annotations

from flask.testing import FlaskClient
from redis import Redis

from core import hourly, limits
from tests.admin.helpers import basic_auth, busy_worker, enqueue_jobs, seed_user


def test_api_users_lists_counters_and_takes_the_page_parameters(client: FlaskClient, redis_client: Redis):
    """GET /api/users returns every user's counters; ?q= and ?sort= work as on the page."""
    seed_user(redis_client, 1, username="alice", delivered=2)
    seed_user(redis_client, 2, username="bob", delivered=1, failed=1)
    data = client.get("/api/users?sort=failed&order=desc", headers=basic_auth()).get_json()
    assert [u["user_id"] for u in data["users"]] == [2, 1]
    assert data["users"][0] | {"last_seen": 0} == {
        "user_id": 2,
        "username": "bob",
        "name": "Test",
        "videos": 2,
        "delivered": 1,
        "failed": 1,
        "refused": 0,
        "bytes_in": 2_000_000,
        "bytes_out": 500_000,
        "median_seconds": 2.0,
        "last_seen": 0,
        "banned": False,
    }
    assert (data["total"], data["page"], data["pages"]) == (2, 1, 1)
    assert client.get("/api/users?q=ali", headers=basic_auth()).get_json()["total"] == 1


def test_api_user_has_limits_and_recent_jobs(client: FlaskClient, redis_client: Redis, settings):
    """GET /api/users/<id>: counters, effective limits, override flag and jobs, newest first."""
    seed_user(redis_client, 2, delivered=1, failed=1)
    limits.set_quota(redis_client, 2, per_hour=5)
    data = client.get("/api/users/2", headers=basic_auth()).get_json()
    assert data["limits"] == {
        "max_active": settings.max_active_per_user,
        "max_pending": settings.max_pending_per_user,
        "per_hour": 5,
    }
    assert data["quota_override"] is True
    jobs = [(j["job_id"], j["status"]) for j in data["jobs"]]
    assert jobs == [("gif_2_2", "failed"), ("gif_2_1", "delivered")]


def test_a_group_posting_as_itself_is_a_user_with_a_negative_id(
    client: FlaskClient, admin: FlaskClient, redis_client: Redis
):
    """An anonymous admin's videos count for their group (app.intake.profile_of): its negative id
    opens and is found by a search like any user's."""
    group = -1001234567890
    seed_user(redis_client, group, username="somegroup", delivered=1)
    assert client.get(f"/api/users/{group}", headers=basic_auth()).get_json()["user"]["user_id"] == group
    found = client.get(f"/api/users?q={group}", headers=basic_auth()).get_json()["users"]
    assert [u["user_id"] for u in found] == [group]
    page = admin.get(f"/users/{group}")
    assert page.status_code == 200 and b"somegroup" in page.data


def test_api_unknown_user_is_a_json_404(client: FlaskClient):
    """An unknown id gives 404 with a JSON error body."""
    response = client.get("/api/users/12345", headers=basic_auth())
    assert response.status_code == 404
    assert response.get_json()["error"] == "Not Found"


def test_api_stats_reports_queue_workers_today_hours_and_depth(client: FlaskClient, redis_client: Redis):
    """GET /api/stats: the queue's counts, workers, today's totals, 24 hours and depth samples."""
    seed_user(redis_client, 1, delivered=2, refused=1)
    enqueue_jobs(redis_client, 3)
    hourly.record_depth(redis_client, 3)
    busy_worker(redis_client, name="w1")
    data = client.get("/api/stats", headers=basic_auth()).get_json()
    assert data["queue"]["name"] == "gifs" and data["queue"]["queued"] == 4  # 3 + the busy worker's
    assert [(w["name"], w["state"]) for w in data["workers"]] == [("w1", "busy")]
    assert data["workers"][0]["last_heartbeat"]
    today = data["today"]
    assert (today["videos"], today["delivered"], today["failed"], today["refused"]) == (3, 2, 0, 1)
    assert len(data["hours"]) == 24
    assert data["hours"][-1]["delivered"] == 2 and data["hours"][-1]["samples"] == 2
    assert [d["depth"] for d in data["depth"]] == [3]


def test_healthz_counts_workers_and_queue_depth(client: FlaskClient, redis_client: Redis):
    """/healthz needs no login and reports Redis, workers and depth."""
    enqueue_jobs(redis_client, 2)
    busy_worker(redis_client)
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {
        "redis": True,
        "workers": 1,
        "queue_depth": 3,
        "boxes": [],  # busy_worker publishes no status; GifWorker does (tests/test_worker_disk.py)
        "low_disk_boxes": [],
    }
