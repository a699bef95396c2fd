"""Shared helpers for the admin panel's tests: log in, CSRF tokens, seeded users and real RQ jobs."""

from __future__ import annotations

import base64
import re

from flask.testing import FlaskClient
from redis import Redis
from rq import Queue, SimpleWorker, Worker
from rq.job import Job
from rq.serializers import JSONSerializer
from werkzeug.test import TestResponse

from core import stats
from core.models import Outcome

USERNAME = "admin"
PASSWORD = "correct horse battery staple"
QUEUE = "gifs"
EVIL_NAME = "<script>alert(1)</script>"
TOKEN_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


def basic_auth(username: str = USERNAME, password: str = PASSWORD) -> dict[str, str]:
    """An HTTP Basic Authorization header."""
    raw = base64.b64encode(f"{username}:{password}".encode()).decode()
    return {"Authorization": f"Basic {raw}"}


def csrf_token(client: FlaskClient) -> str:
    """The CSRF token of the client's session, made by visiting a page that shows a form."""
    with client.session_transaction() as session:
        token = session.get("csrf")
    if token:
        return token
    page = client.get("/login")
    match = TOKEN_FIELD.search(page.get_data(as_text=True))
    assert match, "the login page carries a CSRF token"
    return match.group(1)


def login(client: FlaskClient, username: str = USERNAME, password: str = PASSWORD) -> TestResponse:
    """Submit the login form as a browser would."""
    token = csrf_token(client)
    return client.post("/login", data={"username": username, "password": password, "csrf_token": token})


def seed_user(
    redis: Redis,
    user_id: int,
    *,
    username: str = "",
    first_name: str = "Test",
    delivered: int = 1,
    failed: int = 0,
    refused: int = 0,
    seconds: float = 2.0,
) -> None:
    """Record a user's videos and outcomes through core.stats, as the bot and workers do."""
    profile = stats.Profile(user_id, username or f"user{user_id}", first_name, "", "en")
    outcomes = [Outcome.DELIVERED] * delivered + [Outcome.FAILED] * failed + [Outcome.REFUSED] * refused
    for n, outcome in enumerate(outcomes):
        job_id = f"gif_{user_id}_{n + 1}"
        stats.record_video(redis, profile, job_id, 1_000_000)
        delivered_now = outcome is Outcome.DELIVERED
        stats.record_outcome(
            redis,
            user_id,
            job_id,
            outcome,
            seconds=seconds if delivered_now else None,
            size_out=500_000 if delivered_now else 0,
            reason="" if delivered_now else "error_broken",
        )


def gif_queue(redis: Redis) -> Queue:
    """The conversion queue, as the bot makes it."""
    return Queue(QUEUE, connection=redis, serializer=JSONSerializer)


def enqueue_jobs(redis: Redis, count: int) -> list[Job]:
    """Queue `count` real RQ jobs (a harmless builtin) that nobody runs."""
    queue = gif_queue(redis)
    return [queue.enqueue("builtins.len", [1, 2], description="test job") for _ in range(count)]


def fail_jobs(redis: Redis, count: int) -> list[Job]:
    """Run `count` jobs that raise in a real (in-process) worker, leaving them in the failed registry."""
    queue = gif_queue(redis)
    jobs = [queue.enqueue("builtins.int", "not a number", description="failing job") for _ in range(count)]
    SimpleWorker([queue], connection=redis, serializer=JSONSerializer).work(burst=True)
    return jobs


def busy_worker(redis: Redis, name: str = "test-worker") -> tuple[Worker, Job]:
    """Register a worker that reports itself busy with a real job (nothing actually runs)."""
    queue = gif_queue(redis)
    worker = Worker([queue], connection=redis, serializer=JSONSerializer, name=name)
    worker.register_birth()
    job = queue.enqueue("builtins.len", [1, 2, 3], description="running job")
    worker.prepare_execution(job)
    worker.set_state("busy")
    return worker, job
