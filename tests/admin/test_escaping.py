"""Untrusted text (Telegram names, job descriptions, exceptions) is shown as text everywhere."""

from __future__ import annotations

import html

import pytest
from flask.testing import FlaskClient
from redis import Redis
from rq import Queue, SimpleWorker
from rq.serializers import JSONSerializer

from core import stats
from tests.admin.helpers import EVIL_NAME, busy_worker, gif_queue

EVIL_ID = 666
ESCAPED = html.escape(EVIL_NAME, quote=False)


@pytest.fixture
def evil_user(redis_client: Redis) -> int:
    """A user whose username, first and last name are all a script tag."""
    profile = stats.Profile(EVIL_ID, EVIL_NAME, EVIL_NAME, EVIL_NAME, "en")
    stats.record_video(redis_client, profile, f"gif_{EVIL_ID}_1", 1234)
    return EVIL_ID


@pytest.fixture
def evil_job(redis_client: Redis) -> str:
    """A failed job whose description and exception message are a script tag."""
    queue = gif_queue(redis_client)
    job = queue.enqueue("builtins.int", EVIL_NAME, description=EVIL_NAME)
    SimpleWorker([queue], connection=redis_client, serializer=JSONSerializer).work(burst=True)
    return job.id


def test_users_pages_escape_telegram_names(admin: FlaskClient, evil_user: int):
    """The users table, a search for the name, and the user page show the name as text."""
    for url in ("/users", f"/users?q={EVIL_NAME}", f"/users/{evil_user}", "/"):
        body = admin.get(url).get_data(as_text=True)
        assert EVIL_NAME not in body, url
    assert ESCAPED in admin.get("/users").get_data(as_text=True)
    assert ESCAPED in admin.get(f"/users/{evil_user}").get_data(as_text=True)


def test_every_response_keeps_the_name_escaped(app, admin: FlaskClient, evil_user: int, evil_job: str):
    """No GET route of ours or rq-dashboard's returns the raw tag, JSON included."""
    urls = [
        "/users",
        f"/users/{evil_user}",
        "/api/users",
        f"/api/users/{evil_user}",
        "/api/stats",
        "/metrics",
        "/",
        f"/rq/0/view/job/{evil_job}",
        f"/rq/0/data/job/{evil_job}.json",
        "/rq/0/data/jobs/gifs/failed/8/asc/1.json",
        "/rq/0/data/queues.json",
        "/rq/0/data/workers.json",
    ]
    for url in urls:
        response = admin.get(url)
        assert response.status_code == 200, url
        assert "<script>alert" not in response.get_data(as_text=True), url


def test_api_json_still_decodes_to_the_real_name(admin: FlaskClient, evil_user: int):
    """The API escapes < > & as \\u sequences, so a JSON client gets the exact name back."""
    data = admin.get(f"/api/users/{evil_user}").get_json()
    assert data["user"]["username"] == EVIL_NAME
    assert data["user"]["name"] == f"{EVIL_NAME} {EVIL_NAME}"


def test_dashboard_job_json_is_html_escaped_for_its_raw_template(admin: FlaskClient, evil_job: str):
    """rq-dashboard's job page inserts these strings unescaped, so the JSON carries entities."""
    job = admin.get(f"/rq/0/data/job/{evil_job}.json").get_json()
    assert job["description"] == ESCAPED
    assert "&lt;script&gt;" in job["exc_info"] and "<script>" not in job["exc_info"]


def test_dashboard_queue_names_are_escaped(admin: FlaskClient, redis_client: Redis):
    """A queue name is inserted raw by the queues page, so it is escaped in queues.json."""
    Queue("<img src=x onerror=alert(1)>", connection=redis_client, serializer=JSONSerializer).enqueue(
        "builtins.len", [1]
    )
    names = [q["name"] for q in admin.get("/rq/0/data/queues.json").get_json()["queues"]]
    assert "&lt;img src=x onerror=alert(1)&gt;" in names


def test_dashboard_workers_json_reads_busy_jobs_with_json_and_escapes_them(
    admin: FlaskClient, redis_client: Redis
):
    """A busy worker's current job is read with the JSON serializer (upstream would try pickle)."""
    _worker, job = busy_worker(redis_client)
    [row] = admin.get("/rq/0/data/workers.json").get_json()["workers"]
    assert row["state"] == "busy"
    assert row["current_job"]["job_id"] == job.id
    assert row["current_job"]["call_string"] == "builtins.len([1, 2, 3])"
