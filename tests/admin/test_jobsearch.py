"""Find any job: search every user's recent jobs by user, job id, status and window; paged, linked,
reasons in an admin's words, hostile names escaped; the index behind it is bounded."""

from __future__ import annotations

import inspect
import re
import time

import pytest
from flask.testing import FlaskClient
from redis import Redis

from admin import jobsearch, reasons
from app import intake
from core import errors, jobindex, keys, stats
from core.models import Outcome
from jobs import lost
from tests.admin.helpers import EVIL_NAME, enqueue_jobs

ROW = re.compile(r'<tr data-job-id="([^"]+)">')
HOUR = 3600


def job_ids(html: str) -> list[str]:
    """The job ids of the jobs table's rows, in order."""
    return ROW.findall(html)


def add_job(
    redis: Redis, user_id: int, n: int, ago_s: float, outcome: Outcome | None, reason: str = "", **names: str
) -> str:
    """Record a job as the bot and a worker do, received `ago_s` seconds ago; returns its id."""
    now, job_id = time.time(), f"gif_{user_id}_{n}"
    who = stats.Profile(user_id, names.get("username", f"u{user_id}"), names.get("first_name", "Test"))
    stats.record_video(redis, who, job_id, 1_000_000, now=now - ago_s)
    if outcome is not None:
        stats.record_outcome(redis, user_id, job_id, outcome, reason=reason, now=now - ago_s + 5)
    return job_id


@pytest.fixture
def seeded(redis_client: Redis) -> dict[str, str]:
    """Three users' jobs over two days: delivered, failed, refused, one still queued."""
    return {
        "alice_new": add_job(redis_client, 1, 1, 60, Outcome.DELIVERED, username="alice", first_name="Alice"),
        "alice_old": add_job(redis_client, 1, 2, 30 * HOUR, Outcome.FAILED, "error_failed", username="alice"),
        "bob_refused": add_job(redis_client, 2, 1, 7200, Outcome.REFUSED, "error_not_video", username="bob"),
        "carol_queued": add_job(redis_client, 3, 1, 10, None, username="carol", first_name="Carol"),
    }  # fmt: skip


def test_search_filters_by_user_job_id_status_and_window(admin: FlaskClient, seeded: dict[str, str]):
    """Each filter narrows the jobs of every user; together they combine; newest first."""
    search = lambda query: job_ids(admin.get("/jobs?" + query).get_data(as_text=True))  # noqa: E731
    assert search("") == [seeded[k] for k in ("carol_queued", "alice_new", "bob_refused", "alice_old")]
    assert search("user=1") == [seeded["alice_new"], seeded["alice_old"]]
    assert search("user=@ALI") == [seeded["alice_new"], seeded["alice_old"]], "username, any case"
    assert search("user=carol") == [seeded["carol_queued"]], "first name"
    assert search("job=gif_2_") == [seeded["bob_refused"]]
    assert search("status=refused") == [seeded["bob_refused"]]
    assert search("status=queued") == [seeded["carol_queued"]]
    assert search("window=1h") == [seeded["carol_queued"], seeded["alice_new"]]
    assert search("window=24h&user=alice") == [seeded["alice_new"]]
    assert search("window=1h&status=failed") == []
    start = time.strftime("%Y-%m-%dT%H:%M", time.gmtime(time.time() - 31 * HOUR))
    end = time.strftime("%Y-%m-%dT%H:%M", time.gmtime(time.time() - 29 * HOUR))
    assert search(f"from={start}&to={end}") == [seeded["alice_old"]], "a custom UTC window"
    assert search(f"window=1h&job={seeded['alice_old']}") == [seeded["alice_old"]], "an exact id: any window"
    assert search("status=sideways&window=forever&page=x") == search(""), "bad values fall back"


def test_results_link_to_the_user_and_to_the_job_in_rq_dashboard(
    admin: FlaskClient, redis_client: Redis, seeded: dict[str, str]
):
    """A row links to its user's page, and to rq-dashboard's job page while RQ still has the job."""
    live = enqueue_jobs(redis_client, 1)[0]
    add_job(redis_client, 4, 1, 5, None)
    stats.record_video(redis_client, stats.Profile(4, "u4"), live.id, 1_000)
    html = admin.get("/jobs?user=4").get_data(as_text=True)
    assert 'href="/users/4"' in html
    assert f'href="/rq/0/view/job/{live.id}"' in html
    assert 'href="/rq/0/view/job/gif_4_1"' not in html and "(gone from RQ)" in html


def test_results_are_paged_and_pages_keep_the_filters(admin: FlaskClient, redis_client: Redis):
    """60 matching jobs: 50 on page 1, 10 on page 2, whose links keep the search; past the end clamps."""
    for n in range(60):
        add_job(redis_client, 5, n, 100 + n, Outcome.DELIVERED)
    add_job(redis_client, 6, 1, 50, Outcome.DELIVERED)
    first = admin.get("/jobs?user=5").get_data(as_text=True)
    assert len(job_ids(first)) == 50 and "60 jobs" in first and "page 1 of 2" in first
    assert 'href="/jobs?user=5&amp;window=7d&amp;page=2"' in first
    second = job_ids(admin.get("/jobs?user=5&page=2").get_data(as_text=True))
    assert second == [f"gif_5_{n}" for n in range(50, 60)]
    assert job_ids(admin.get("/jobs?user=5&page=99").get_data(as_text=True)) == second
    unfiltered = jobsearch.find_jobs(redis_client, jobsearch.JobQuery(page=2), time.time(), page_size=50)
    assert (unfiltered.total, unfiltered.pages, len(unfiltered.rows)) == (61, 2, 11)


def test_a_search_reads_at_most_the_newest_jobs_of_its_window_and_says_so(
    admin: FlaskClient, redis_client: Redis, monkeypatch: pytest.MonkeyPatch
):
    """Past SCAN_CAP jobs in the window, a filtered search reads the newest and tells the admin."""
    monkeypatch.setattr(jobsearch, "SCAN_CAP", 3)
    for n in range(5):
        add_job(redis_client, 7, n, 100 + n, Outcome.DELIVERED)
    html = admin.get("/jobs?user=7").get_data(as_text=True)
    assert job_ids(html) == ["gif_7_0", "gif_7_1", "gif_7_2"]
    assert "only the newest 3 were searched" in html


def test_reasons_read_as_words_an_admin_understands(admin: FlaskClient, seeded: dict[str, str]):
    """A failure or refusal shows its reason in words, never the internal text key."""
    html = admin.get("/jobs").get_data(as_text=True)
    assert "not a video" in html and "failed after every retry" in html
    assert "error_not_video" not in html and "error_failed" not in html


def test_every_reason_the_product_records_has_admin_words():
    """Each error's text key, each refusal and each plain reason the workers record is mapped."""
    recorded = {cls.text_key for cls in all_subclasses(errors.UserFacingError)}
    recorded |= {"error_failed", "blocked", "cancelled", lost.NOTICE}  # jobs/delivery.py, jobs/lost.py
    recorded |= set(re.findall(r'self\.refuse\(\s*ask, "(\w+)"', source(intake)))
    assert {"too_big", "banned", "bad_trim", "quota"} <= recorded
    assert sorted(recorded - reasons.ADMIN_WORDS.keys()) == []
    assert reasons.words("something_new") == "other (something_new)"


def test_hostile_user_names_are_escaped_in_the_results(admin: FlaskClient, redis_client: Redis):
    """A user named like a script tag is found by that name and shown as text."""
    add_job(redis_client, 8, 1, 30, Outcome.DELIVERED, username="x", first_name=EVIL_NAME)
    html = admin.get("/jobs?user=<script>").get_data(as_text=True)
    assert job_ids(html) == ["gif_8_1"]
    assert EVIL_NAME not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_the_job_index_is_trimmed_by_age_and_length_and_expires(redis_client: Redis):
    """Entries past 30 days and beyond the length cap leave at the next write; the key has a TTL."""
    now = time.time()
    jobindex.add(redis_client, "gif_9_1", now - jobindex.KEEP_S - 60)
    for n in range(2, 6):
        jobindex.add(redis_client, f"gif_9_{n}", now - 10 + n, max_jobs=3)
    assert jobindex.newest(redis_client, 0, now + 1) == ["gif_9_5", "gif_9_4", "gif_9_3"]
    assert 0 < redis_client.ttl(keys.RECENT_JOBS) <= jobindex.KEEP_S


def all_subclasses(cls: type) -> set[type]:
    """Every subclass of `cls`, at any depth."""
    return {sub for direct in cls.__subclasses__() for sub in {direct, *all_subclasses(direct)}}


def source(module: object) -> str:
    """A module's source text."""
    return inspect.getsource(module)  # type: ignore[arg-type]
