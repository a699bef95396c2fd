"""jobs.lost: the scheduler frees the slots of jobs deleted in rq-dashboard and tells their users once.

Real redis-server, real RQ jobs made through core.admission, the fake Bot API for what users see.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import redis
from rq import Queue
from telebot import apihelper

from core import admission, keys, markers, stats
from core.admission import Admission
from core.limits import UserLimits
from core.models import ConversionRequest, MediaKind, Outcome, message_of
from core.settings import Settings
from core.texts import EN, ZH, text
from jobs import lost, maintenance, scheduler
from tests.factories import DEFAULT_USER_ID, next_message_id
from tests.fakes.telegram_api import FakeTelegramAPI

ONE_AT_A_TIME = UserLimits(max_active=1, max_pending=5, per_hour=100)
LANGUAGE_CODES = {EN: "en", ZH: "zh-hant"}


@pytest.fixture
def settings(fake_api: FakeTelegramAPI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Scheduler settings pointed at the fake Bot API (telebot's globals restored afterwards)."""
    for name in ("API_URL", "FILE_URL", "CONNECT_TIMEOUT", "READ_TIMEOUT"):
        monkeypatch.setattr(apihelper, name, getattr(apihelper, name))
    return Settings(
        telegram_bot_token=fake_api.token, telegram_api_url=fake_api.base_url, tmp_dir=str(tmp_path)
    )


@pytest.fixture
def queue(redis_client: redis.Redis, settings: Settings) -> Queue:
    """The conversion queue on the test Redis."""
    return admission.gif_queue(redis_client, settings)


@pytest.fixture
def tell(redis_client: redis.Redis, settings: Settings) -> lost.Tell:
    """What the scheduler tells users with: the real Telegram client against the fake API."""
    return lost.teller(redis_client, settings)


def video(redis_client: redis.Redis, settings: Settings, lang: str = EN) -> ConversionRequest:
    """A video as the bot takes it in: the user's profile recorded, a status message sent and kept."""
    profile = stats.Profile(DEFAULT_USER_ID, "someone", "Some", "", LANGUAGE_CODES[lang])
    message_id = next_message_id()
    status = lost.telegram.build_client(settings).send_message(DEFAULT_USER_ID, "Queued…")
    request = ConversionRequest(
        chat_id=DEFAULT_USER_ID,
        user_id=DEFAULT_USER_ID,
        message_id=message_id,
        status_message_id=status.message_id,
        file_id=f"BAACAgIAAxkBlost{message_id}",
        file_unique_id=f"AgADlost{message_id}",
        file_size=12_345,
        kind=MediaKind.VIDEO,
        lang=lang,
        width=480,
        fps=12,
        max_seconds=15.0,
    )
    stats.record_video(redis_client, profile, request.job_id, request.file_size)
    markers.remember_status(redis_client, request.job_id, status.message_id)
    return request


def two_videos(
    queue: Queue, settings: Settings, lang: str = EN
) -> tuple[ConversionRequest, ConversionRequest]:
    """Two videos of one user allowed one job at a time: the first queued, the second waiting."""
    first, second = video(queue.connection, settings, lang), video(queue.connection, settings, lang)
    assert admission.submit(queue, first, settings, ONE_AT_A_TIME) is Admission.QUEUED
    assert admission.submit(queue, second, settings, ONE_AT_A_TIME) is Admission.WAITING
    return first, second


def delete_like_rq_dashboard(queue: Queue, job_id: str) -> None:
    """What rq-dashboard's delete action does to a job: Job.fetch(...).delete()."""
    job = queue.fetch_job(job_id)
    assert job is not None
    job.delete()


def job_record(redis_client: redis.Redis, request: ConversionRequest) -> stats.JobRecord:
    """The admin panel's record of the request's job."""
    return next(r for r in stats.recent_jobs(redis_client, request.user_id) if r.job_id == request.job_id)


def times_told(api: FakeTelegramAPI, request: ConversionRequest, body: str) -> int:
    """How often the user was shown `body`: status-message edits plus replies."""
    edits = [c for c in api.calls("editMessageText", request.chat_id) if c.params.get("text") == body]
    return len(edits) + api.messages_to(request.chat_id).count(body)


@pytest.mark.parametrize("lang", [EN, ZH])
def test_a_deleted_job_frees_its_slot_queues_the_next_video_and_tells_the_user_once(
    redis_client: redis.Redis, queue: Queue, settings: Settings, fake_api: FakeTelegramAPI, tell, lang: str
):
    """Deleted like rq-dashboard does: the pass queues the waiting video and tells the user once."""
    first, second = two_videos(queue, settings, lang)
    delete_like_rq_dashboard(queue, first.job_id)

    assert lost.free_lost_slots(redis_client, settings, tell) == 1

    assert queue.get_job_ids() == [second.job_id]
    slots = {raw.decode() for raw in redis_client.zrange(keys.user_active(first.user_id), 0, -1)}
    assert slots == {second.job_id}
    notice = text("job_deleted", lang)
    assert times_told(fake_api, first, notice) == 1
    assert fake_api.message_text(first.chat_id, first.status_message_id) == notice
    assert job_record(redis_client, first).reason == "job_deleted"

    assert lost.free_lost_slots(redis_client, settings, tell) == 0, "a second pass does nothing"
    assert queue.get_job_ids() == [second.job_id]
    assert times_told(fake_api, first, notice) == 1


def test_a_deleted_redo_job_tells_its_user_once(
    redis_client: redis.Redis, queue: Queue, settings: Settings, fake_api: FakeTelegramAPI, tell
):
    """A redo job (a tweak button under a GIF) lost like any other: slot freed, its user told once."""
    redo = replace(video(redis_client, settings), redo="s")
    stats.record_video(redis_client, stats.Profile(redo.user_id), redo.job_id, redo.file_size)
    markers.remember_status(redis_client, redo.job_id, redo.status_message_id)
    assert admission.submit(queue, redo, settings, ONE_AT_A_TIME) is Admission.QUEUED
    delete_like_rq_dashboard(queue, redo.job_id)

    assert lost.free_lost_slots(redis_client, settings, tell) == 1

    notice = text("job_deleted")
    assert fake_api.message_text(redo.chat_id, redo.status_message_id) == notice
    assert job_record(redis_client, redo).reason == "job_deleted"
    assert lost.free_lost_slots(redis_client, settings, tell) == 0
    assert times_told(fake_api, redo, notice) == 1


def test_live_jobs_keep_their_slots(redis_client: redis.Redis, queue: Queue, settings: Settings, tell):
    """While the job exists in RQ the pass frees nothing and promotes nothing."""
    first, _ = two_videos(queue, settings)

    assert lost.free_lost_slots(redis_client, settings, tell) == 0

    assert queue.get_job_ids() == [first.job_id]
    assert admission.waiting_count(redis_client, first.user_id) == 1


def test_a_gone_job_whose_gif_was_sent_is_freed_without_a_notice(
    redis_client: redis.Redis, queue: Queue, settings: Settings, fake_api: FakeTelegramAPI, tell
):
    """A job whose GIF went out (or may have) frees its slot, but its user hears nothing more."""
    first, second = two_videos(queue, settings)
    markers.claim_send(redis_client, first.job_id)
    delete_like_rq_dashboard(queue, first.job_id)

    assert lost.free_lost_slots(redis_client, settings, tell) == 1

    assert queue.get_job_ids() == [second.job_id]
    assert times_told(fake_api, first, text("job_deleted", EN)) == 0
    assert stats.user_stats(redis_client, first.user_id).failed == 0


def test_a_user_told_of_a_failure_before_is_not_told_again(
    redis_client: redis.Redis, queue: Queue, settings: Settings, fake_api: FakeTelegramAPI, tell
):
    """If the failure callback already told the user, the deletion notice is not added."""
    first, _ = two_videos(queue, settings)
    assert markers.claim_failure_notice(redis_client, first.job_id)
    delete_like_rq_dashboard(queue, first.job_id)

    assert lost.free_lost_slots(redis_client, settings, tell) == 1
    assert times_told(fake_api, first, text("job_deleted", EN)) == 0


def test_users_without_slots_leave_the_scanned_set(
    redis_client: redis.Redis, queue: Queue, settings: Settings, tell
):
    """Once a user's last job ended, the pass drops them, so its scan stays as small as the live users."""
    request = video(redis_client, settings)
    admission.submit(queue, request, settings, ONE_AT_A_TIME)
    assert redis_client.smembers(keys.ACTIVE_USERS) == {str(request.user_id).encode()}
    lost.free_lost_slots(redis_client, settings, tell)
    assert redis_client.scard(keys.ACTIVE_USERS) == 1, "a user with a live job stays"

    admission.release(queue, request.job_id, request.user_id, settings)
    lost.free_lost_slots(redis_client, settings, tell)
    assert redis_client.scard(keys.ACTIVE_USERS) == 0


def test_release_lost_frees_only_a_job_rq_no_longer_has(queue: Queue, settings: Settings, redis_client):
    """release_lost refuses while the job exists, frees once it is gone, and only once."""
    first, second = two_videos(queue, settings)
    assert not admission.release_lost(queue, first.job_id, first.user_id, settings)
    delete_like_rq_dashboard(queue, first.job_id)
    assert admission.release_lost(queue, first.job_id, first.user_id, settings)
    assert not admission.release_lost(queue, first.job_id, first.user_id, settings)
    assert queue.get_job_ids() == [second.job_id]


def test_the_scheduler_runs_the_pass_and_records_it(
    redis_client: redis.Redis, queue: Queue, settings: Settings
):
    """free_lost_slots is one of the scheduler's periodic tasks, recorded like the others."""
    assert "free_lost_slots" in dict(scheduler.TASKS)
    first, second = two_videos(queue, settings)
    delete_like_rq_dashboard(queue, first.job_id)
    leader = scheduler.build_scheduler(settings, redis_client, "test-scheduler")

    record = maintenance.run_pass(redis_client, "free_lost_slots", leader.task("free_lost_slots"))

    assert record.result == 1 and not record.error
    assert maintenance.last_passes(redis_client)["free_lost_slots"] == record
    assert queue.get_job_ids() == [second.job_id]
    assert job_record(redis_client, first).status == Outcome.FAILED.value


@pytest.mark.parametrize(
    ("job_id", "expected"),
    [
        ("gif_4242_17", (4242, 17)),
        ("gif_-1001234_5", (-1001234, 5)),
        ("gif_-1001234_5_s", (-1001234, 5)),  # a redo of the GIF in message 5 (core.tweaks)
        ("other_1_2", None),
        ("gif_x_2", None),
        ("gif_1_2_3", None),
    ],
)
def test_message_of_reads_back_the_chat_and_message_of_a_job_id(job_id: str, expected):
    """message_of inverts job_id_for, negative (group) chat ids included; other ids give None."""
    assert message_of(job_id) == expected
