"""Failures that retrying cannot fix end at once with one clear message: Telegram's 413, a GIF over the cap.

The 413 test runs the real job (download from the fake Bot API, real ffmpeg) in an in-process RQ
worker, so RQ's own retry handling decides what happens after our failure callback.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import redis
from rq import Queue, SimpleWorker
from rq.job import JobStatus
from rq.serializers import JSONSerializer

from core import admission, keys, markers, stats
from core.errors import GifTooBig
from core.limits import UserLimits
from core.models import ConversionRequest, MediaKind
from core.settings import Settings
from core.texts import EN, ZH, text
from jobs import delivery, fit, runtime
from jobs.recipe import GifOptions, Limits
from tests import media
from tests.factories import DEFAULT_USER_ID, next_message_id
from tests.fakes.telegram_api import FakeTelegramAPI

ROOMY = UserLimits(max_active=3, max_pending=5, per_hour=100)


def submitted(
    queue: Queue, settings: Settings, fake_api: FakeTelegramAPI, video: bytes, lang: str
) -> ConversionRequest:
    """A real video registered with the fake Bot API, submitted as the bot does (status message kept)."""
    record = fake_api.add_file(video)
    status = runtime.client().send_message(DEFAULT_USER_ID, "Queued…")
    request = ConversionRequest(
        chat_id=DEFAULT_USER_ID,
        user_id=DEFAULT_USER_ID,
        message_id=next_message_id(),
        status_message_id=status.message_id,
        file_id=record.file_id,
        file_unique_id=record.file_unique_id,
        file_size=record.file_size,
        kind=MediaKind.VIDEO,
        lang=lang,
        width=160,
        fps=8,
        max_seconds=2.0,
    )
    markers.remember_status(queue.connection, request.job_id, status.message_id)
    assert admission.submit(queue, request, settings, ROOMY) is admission.Admission.QUEUED
    return request


def times_told(api: FakeTelegramAPI, request: ConversionRequest, body: str) -> int:
    """How often the user was shown `body`: status-message edits plus replies."""
    edits = [c for c in api.calls("editMessageText", request.chat_id) if c.params.get("text") == body]
    return len(edits) + api.messages_to(request.chat_id).count(body)


@pytest.mark.parametrize("lang", [EN, ZH])
def test_a_413_on_upload_is_told_once_and_never_retried(
    redis_client: redis.Redis,
    queue: Queue,
    settings: Settings,
    fake_api: FakeTelegramAPI,
    clip_bytes: bytes,
    lang: str,
):
    """Telegram answers 413 to the upload: one attempt, the job fails for good, one clear message."""
    request = submitted(queue, settings, fake_api, clip_bytes, lang)
    fake_api.fail("sendAnimation", 413, times=10)

    SimpleWorker([queue], connection=redis_client, serializer=JSONSerializer).work(burst=True)

    attempts = fake_api.calls("sendAnimation", request.chat_id, ok_only=False)
    assert [c.status for c in attempts] == [413], "uploaded once, never retried"
    job = queue.fetch_job(request.job_id)
    assert job is not None and job.get_status() == JobStatus.FAILED
    assert queue.scheduled_job_registry.get_job_ids() == [] and queue.count == 0
    body = text("error_gif_too_big", lang)
    assert times_told(fake_api, request, body) == 1
    assert fake_api.message_text(request.chat_id, request.status_message_id) == body
    assert markers.send_state(redis_client, request.job_id) is None, "a refused upload keeps no claim"
    assert redis_client.zcard(keys.user_active(request.user_id)) == 0, "its slot is free"
    assert stats.user_stats(redis_client, request.user_id).refused == 1


def test_a_gif_still_over_the_cap_after_shrinking_is_refused_and_removed(tmp_path: Path):
    """fit.convert raises GifTooBig (instead of returning an oversized GIF) and leaves no GIF behind."""
    out = tmp_path / "out.gif"
    with pytest.raises(GifTooBig):
        fit.convert(media.make_clip(tmp_path), out, GifOptions(), Limits(max_output_bytes=2_000))
    assert not out.exists()


def test_an_over_cap_gif_is_not_sent_and_the_user_is_told_it_is_too_large(
    redis_client: redis.Redis, queue: Queue, settings: Settings, fake_api: FakeTelegramAPI, clip_bytes: bytes
):
    """A job ending in GifTooBig sends no GIF, is not retried, and tells the user 'too large' once."""
    request = submitted(queue, settings, fake_api, clip_bytes, EN)
    job = queue.fetch_job(request.job_id)
    assert job is not None
    error = GifTooBig("GIF still 60000000 bytes after shrinking")

    delivery.report_failure(job, redis_client, GifTooBig, error, None)
    delivery.report_failure(job, redis_client, GifTooBig, error, None)

    assert job.retries_left == 0
    assert fake_api.sent_animations(request.chat_id) == []
    assert times_told(fake_api, request, text("error_gif_too_big", EN)) == 1
