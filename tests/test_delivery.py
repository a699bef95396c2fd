"""jobs.delivery: the RQ callbacks that send the GIF once, tell the user once, and free the slot.

Each test builds a real RQ job through core.admission (so job.kwargs is a real ConversionRequest),
puts a real GIF where the conversion leaves it, and calls the callback directly against a real
redis-server and the fake Bot API.
"""

from __future__ import annotations

import itertools
import multiprocessing
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import pytest
import redis
from rq import SimpleWorker
from rq.job import Job, JobStatus
from rq.queue import Queue
from rq.serializers import JSONSerializer

from core import admission, keys, markers, pace, stats
from core.connection import connect_url
from core.errors import NotAVideo, TransientError
from core.limits import UserLimits
from core.models import ConversionRequest, ConversionResult, MediaKind, Outcome, OutputKind
from core.settings import Settings
from core.texts import EN, ZH, text
from jobs import delivery, runtime, status, workdir
from tests import media
from tests.factories import DEFAULT_USER_ID, next_message_id
from tests.fakes.redis_cut import RedisCut
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.services import RedisServer, wait_until

GIF_NAME = "animation.gif"
GIF_SIZE = (32, 24)
ROOMY = UserLimits(max_active=3, max_pending=5, per_hour=100)
ONE_AT_A_TIME = UserLimits(max_active=1, max_pending=5, per_hour=100)
_file_seq = itertools.count(1)


@pytest.fixture(scope="session")
def gif_bytes(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A tiny real GIF (32x24, 0.3 s) made with ffmpeg."""
    out = tmp_path_factory.mktemp("gif") / GIF_NAME
    media.ffmpeg("-f", "lavfi", "-i", f"color=red:s={GIF_SIZE[0]}x{GIF_SIZE[1]}:d=0.3", str(out))
    return out.read_bytes()


def make_request(*, lang: str = EN, status: bool = True, **overrides: object) -> ConversionRequest:
    """A ConversionRequest for a fresh message of the default user; a bot status message if `status`."""
    n = next(_file_seq)
    status_message_id = 0
    if status:
        status_message_id = runtime.client().send_message(DEFAULT_USER_ID, "Queued…").message_id
    values: dict[str, object] = {
        "chat_id": DEFAULT_USER_ID,
        "user_id": DEFAULT_USER_ID,
        "message_id": next_message_id(),
        "status_message_id": status_message_id,
        "file_id": f"BAACAgIAAxkBAAIdelivery{n:04d}",
        "file_unique_id": f"AgADdelivery{n:04d}",
        "file_size": 12_345,
        "kind": MediaKind.VIDEO,
        "lang": lang,
        "width": 480,
        "fps": 12,
        "max_seconds": 15.0,
        "variant": "480w12f",
    }
    return ConversionRequest(**{**values, **overrides})  # type: ignore[arg-type]


def submit(
    queue: Queue, settings: Settings, request: ConversionRequest, limits: UserLimits = ROOMY
) -> admission.Admission:
    """Submit through core.admission, as the bot does."""
    return admission.submit(queue, request, settings, limits)


def queued_job(queue: Queue, settings: Settings, request: ConversionRequest) -> Job:
    """Submit the request (it must be queued now) and return its real RQ job."""
    assert submit(queue, settings, request) is admission.Admission.QUEUED
    job = queue.fetch_job(request.job_id)
    assert job is not None
    return job


def converted(settings: Settings, job: Job, gif: bytes, **fields: object) -> dict[str, object]:
    """Leave the GIF where convert_video does and return the result RQ hands to on_success."""
    folder = workdir.new_attempt_dir(settings.tmp_root, job.id)
    (folder / GIF_NAME).write_bytes(gif)
    width, height = GIF_SIZE
    done = ConversionResult(
        gif=GIF_NAME,
        workdir=folder.name,
        size_in=12_345,
        size_bytes=len(gif),
        width=width,
        height=height,
        duration=0.3,
    )
    return ConversionResult.from_json({**done.to_json(), **fields}).to_json()


def holds_slot(client: redis.Redis, request: ConversionRequest) -> bool:
    """True while the request's job holds one of the user's active slots."""
    return client.zscore(keys.user_active(request.user_id), request.job_id) is not None


def times_told(api: FakeTelegramAPI, request: ConversionRequest, body: str) -> int:
    """How often the user was shown `body`: status-message edits plus replies."""
    edits = [c for c in api.calls("editMessageText", request.chat_id) if c.params.get("text") == body]
    return len(edits) + api.messages_to(request.chat_id).count(body)


def video_request(api: FakeTelegramAPI, clip: bytes) -> ConversionRequest:
    """A request for a real clip the fake Bot API serves, so the job can really run."""
    record = api.add_file(clip)
    return make_request(
        file_id=record.file_id, file_unique_id=record.file_unique_id, file_size=record.file_size
    )


def run_jobs(queue: Queue) -> None:
    """Run every queued job, retries included, through RQ's own worker loop in this process."""
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        SimpleWorker([queue], connection=queue.connection, serializer=JSONSerializer).work(burst=True)
    finally:
        for sig, handler in handlers.items():  # RQ installs its own; give pytest back its own
            signal.signal(sig, handler)


def refused_writes(client: redis.Redis) -> int:
    """How many commands Redis refused with NOREPLICAS so far."""
    return int(client.info("errorstats").get("errorstat_NOREPLICAS", {}).get("count", 0))


def refuse_writes_once_uploaded(client: redis.Redis, api: FakeTelegramAPI, chat_id: int) -> int:
    """As soon as Telegram has the GIF, make Redis refuse writes until it refused one; return refusals."""
    api.wait_for(lambda: api.sent_animations(chat_id), timeout=30, message="the upload")
    client.config_set("min-replicas-to-write", 1)  # no replica here: every write is refused
    try:
        before = refused_writes(client)
        wait_until(lambda: refused_writes(client) > before, timeout=30, what="a write refused")
        return refused_writes(client) - before
    finally:
        client.config_set("min-replicas-to-write", 0)


# ---------------------------------------------------------------- send_gif


def test_send_gif_uploads_once_and_a_second_call_sends_nothing(
    redis_client: redis.Redis, queue: Queue, settings: Settings, fake_api: FakeTelegramAPI, gif_bytes: bytes
):
    """The GIF goes out once and the job is marked sent; calling send_gif again sends nothing more."""
    request = make_request()
    job = queued_job(queue, settings, request)
    result = converted(settings, job, gif_bytes)

    delivery.send_gif(job, redis_client, result)
    assert markers.already_sent(redis_client, job.id)
    delivery.send_gif(job, redis_client, result)

    sent = fake_api.sent_animations(request.chat_id)
    assert len(sent) == 1
    assert sent[0].files["animation"] == gif_bytes
    assert stats.user_stats(redis_client, request.user_id).delivered == 1


def test_document_output_sends_a_gif_file_without_content_type_detection(
    redis_client: redis.Redis, queue: Queue, settings: Settings, fake_api: FakeTelegramAPI, gif_bytes: bytes
):
    """output=DOCUMENT sends the GIF as a document Telegram must not turn into an animation."""
    request = make_request(output=OutputKind.DOCUMENT)
    job = queued_job(queue, settings, request)

    delivery.send_gif(job, redis_client, converted(settings, job, gif_bytes))

    (sent,) = fake_api.sent_animations(request.chat_id)
    assert sent.method == "sendDocument"
    assert sent.params["disable_content_type_detection"].lower() == "true"
    assert "animation" not in sent.result and sent.result["document"]["mime_type"] == "image/gif"


def test_animation_output_sends_an_animation_with_its_size_replying_to_the_video(
    redis_client: redis.Redis, queue: Queue, settings: Settings, fake_api: FakeTelegramAPI, gif_bytes: bytes
):
    """output=ANIMATION sends an animation with width/height, replying to the video, no caption."""
    request = make_request(output=OutputKind.ANIMATION)
    job = queued_job(queue, settings, request)

    delivery.send_gif(job, redis_client, converted(settings, job, gif_bytes))

    (sent,) = fake_api.sent_animations(request.chat_id)
    assert sent.method == "sendAnimation"
    assert (sent.params["width"], sent.params["height"]) == tuple(str(n) for n in GIF_SIZE)
    assert f'"message_id": {request.message_id}' in sent.params["reply_parameters"]
    assert sent.result.get("caption") is None


@pytest.mark.parametrize("lang", [EN, ZH])
def test_truncated_and_shrunk_results_carry_the_catalogue_captions(
    redis_client: redis.Redis,
    queue: Queue,
    settings: Settings,
    fake_api: FakeTelegramAPI,
    gif_bytes: bytes,
    lang: str,
):
    """A cut and shrunk GIF is captioned with the 'truncated' and 'shrunk' texts in the user's language."""
    request = make_request(lang=lang, max_seconds=5.0)
    job = queued_job(queue, settings, request)

    delivery.send_gif(job, redis_client, converted(settings, job, gif_bytes, truncated=True, shrunk=True))

    (sent,) = fake_api.sent_animations(request.chat_id)
    expected = [text("truncated", lang, max_seconds="5"), text("shrunk", lang)]
    assert sent.result["caption"] == "\n".join(expected)


def test_send_gif_removes_the_temp_dir_and_the_status_message(
    redis_client: redis.Redis, queue: Queue, settings: Settings, fake_api: FakeTelegramAPI, gif_bytes: bytes
):
    """After the upload the job's temp dir is gone and so is its status message."""
    request = make_request()
    job = queued_job(queue, settings, request)
    result = converted(settings, job, gif_bytes)
    folder = settings.tmp_root / str(result["workdir"])
    assert (folder / GIF_NAME).exists()

    delivery.send_gif(job, redis_client, result)

    assert not folder.exists()
    assert fake_api.message(request.chat_id, request.status_message_id) is None


def test_the_status_message_the_bot_stored_after_queueing_is_removed_with_the_gif(
    redis_client: redis.Redis, queue: Queue, settings: Settings, fake_api: FakeTelegramAPI, gif_bytes: bytes
):
    """The bot queues the job, then replies and stores the reply's id: the job's arguments lack it,
    and the delivery still finds and deletes it. A job whose bot reply failed (id 0 stored) does not
    wait for one: its GIF goes, and nothing else is deleted."""
    status_id = runtime.client().send_message(DEFAULT_USER_ID, "Queued…").message_id
    request = make_request(status=False)
    markers.remember_status(redis_client, request.job_id, status_id)
    job = queued_job(queue, settings, request)
    delivery.send_gif(job, redis_client, converted(settings, job, gif_bytes))
    assert fake_api.message(request.chat_id, status_id) is None

    other_chat = DEFAULT_USER_ID + 1  # a chat of its own: no pacing wait behind the first GIF
    request = make_request(status=False, chat_id=other_chat, user_id=other_chat)
    markers.remember_status(redis_client, request.job_id, 0)
    job = queued_job(queue, settings, request)
    started = time.monotonic()
    delivery.send_gif(job, redis_client, converted(settings, job, gif_bytes))
    assert time.monotonic() - started < status.FINAL_WAIT_S  # it did not wait for a reply
    assert len(fake_api.sent_animations(other_chat)) == 1 and not fake_api.calls("deleteMessage", other_chat)


def test_a_rerun_whose_result_says_already_sent_sends_nothing(
    redis_client: redis.Redis, queue: Queue, settings: Settings, fake_api: FakeTelegramAPI
):
    """A re-run that found the GIF delivered (already_sent=True) uploads nothing."""
    request = make_request()
    job = queued_job(queue, settings, request)

    delivery.send_gif(job, redis_client, ConversionResult(already_sent=True).to_json())

    assert fake_api.sent_animations(request.chat_id) == []


@pytest.mark.parametrize("how", ["result_flag", "sent_marker"])
def test_a_rerun_that_finds_the_gif_already_sent_still_frees_the_slot(
    redis_client: redis.Redis,
    queue: Queue,
    settings: Settings,
    fake_api: FakeTelegramAPI,
    gif_bytes: bytes,
    how: str,
):
    """The job ends for good either way, so the user's next waiting video is queued."""
    first, second = make_request(status=False), make_request(status=False)
    assert submit(queue, settings, first, ONE_AT_A_TIME) is admission.Admission.QUEUED
    assert submit(queue, settings, second, ONE_AT_A_TIME) is admission.Admission.WAITING
    job = queue.fetch_job(first.job_id)
    assert job is not None
    markers.confirm_sent(redis_client, job.id)  # an earlier attempt delivered, then died
    if how == "result_flag":
        result = ConversionResult(already_sent=True).to_json()
    else:
        result = converted(settings, job, gif_bytes)

    delivery.send_gif(job, redis_client, result)

    assert fake_api.sent_animations(first.chat_id) == []
    assert not holds_slot(redis_client, first)
    assert second.job_id in queue.get_job_ids()


def test_an_unconfirmed_claim_means_send_nothing_and_tell_nothing(
    redis_client: redis.Redis, queue: Queue, settings: Settings, fake_api: FakeTelegramAPI, gif_bytes: bytes
):
    """A re-run that finds an earlier attempt's 'sending' claim sends nothing, tells nothing, ends the job."""
    request = make_request()
    job = queued_job(queue, settings, request)
    assert markers.claim_send(redis_client, job.id) is None  # the earlier attempt, whose send ended in doubt
    said_before = len(fake_api.calls(chat_id=request.chat_id))

    delivery.send_gif(job, redis_client, converted(settings, job, gif_bytes))
    job.retries_left = 0
    delivery.report_failure(job, redis_client, TransientError, TransientError("late"), None)

    assert fake_api.sent_animations(request.chat_id) == []
    assert len(fake_api.calls(chat_id=request.chat_id)) == said_before
    assert markers.send_state(redis_client, job.id) == "sending"  # never released by a guess
    assert not holds_slot(redis_client, request)


def test_a_blocked_bot_marks_sent_and_records_a_failure_without_retry(
    redis_client: redis.Redis, queue: Queue, settings: Settings, fake_api: FakeTelegramAPI, gif_bytes: bytes
):
    """A 403 on upload ends the job quietly: marked sent, counted failed, slot freed, nothing raised."""
    request = make_request()
    job = queued_job(queue, settings, request)
    fake_api.fail("sendAnimation", 403)

    delivery.send_gif(job, redis_client, converted(settings, job, gif_bytes))

    assert markers.already_sent(redis_client, job.id)
    counters = stats.user_stats(redis_client, request.user_id)
    assert (counters.failed, counters.delivered) == (1, 0)
    assert not holds_slot(redis_client, request)
    attempts = fake_api.calls("sendAnimation", request.chat_id, ok_only=False)
    assert [c.status for c in attempts] == [403]


def test_a_server_error_on_upload_releases_the_claim_for_the_retry(
    redis_client: redis.Redis, queue: Queue, settings: Settings, fake_api: FakeTelegramAPI, gif_bytes: bytes
):
    """A 5xx raises TransientError and drops the claim, so the retry sends the GIF."""
    request = make_request()
    job = queued_job(queue, settings, request)
    fake_api.fail("sendAnimation", 502)

    with pytest.raises(TransientError):
        delivery.send_gif(job, redis_client, converted(settings, job, gif_bytes))
    assert not markers.already_sent(redis_client, job.id)
    assert fake_api.sent_animations(request.chat_id) == []
    assert holds_slot(redis_client, request)

    delivery.send_gif(job, redis_client, converted(settings, job, gif_bytes))
    assert len(fake_api.sent_animations(request.chat_id)) == 1
    assert markers.already_sent(redis_client, job.id)


@pytest.mark.parametrize("retries", [2, 0], ids=["retried", "last_try"])
@pytest.mark.parametrize("answer", ["reset", "read_timeout"])
def test_a_send_in_doubt_keeps_its_claim_so_no_retry_sends_again_or_says_failed(
    redis_client: redis.Redis,
    queue: Queue,
    settings: Settings,
    fake_api: FakeTelegramAPI,
    clip_bytes: bytes,
    monkeypatch: pytest.MonkeyPatch,
    answer: str,
    retries: int,
):
    """Telegram took the upload but its answer was lost: exactly one GIF, and never a 'failed' text."""
    if answer == "reset":
        fake_api.answer_late("sendAnimation", 0, reset=True)  # reset right after the request
    else:
        monkeypatch.setattr(delivery, "SEND_TIMEOUT_S", 1)  # the upload's read timeout
        fake_api.answer_late("sendAnimation", 3, reset=True)
    request = video_request(fake_api, clip_bytes)
    job = queued_job(queue, replace(settings, retry_max=retries, retry_interval=0), request)

    run_jobs(queue)

    uploads = fake_api.calls("sendAnimation", request.chat_id, ok_only=False)
    assert len(uploads) == 1 and uploads[0].ok, "the GIF was uploaded again, or never"
    assert times_told(fake_api, request, text("error_failed")) == 0
    assert markers.send_state(redis_client, job.id) == "sending"
    assert job.get_status() == (JobStatus.FINISHED if retries else JobStatus.FAILED)
    assert not holds_slot(redis_client, request)


def test_a_5xx_on_upload_releases_the_claim_and_the_retry_sends_exactly_one_gif(
    redis_client: redis.Redis, queue: Queue, settings: Settings, fake_api: FakeTelegramAPI, clip_bytes: bytes
):
    """Telegram answered 502 (surely not sent): the claim goes, the RQ retry sends the one GIF."""
    fake_api.fail("sendAnimation", 502)
    request = video_request(fake_api, clip_bytes)
    job = queued_job(queue, replace(settings, retry_interval=0), request)

    run_jobs(queue)

    assert [c.status for c in fake_api.calls("sendAnimation", request.chat_id, ok_only=False)] == [502, 200]
    assert len(fake_api.sent_animations(request.chat_id)) == 1
    assert markers.send_state(redis_client, job.id) == "sent"
    assert job.get_status() == JobStatus.FINISHED
    assert times_told(fake_api, request, text("error_failed")) == 0


def test_the_sent_marker_lands_although_redis_refuses_writes_right_after_the_upload(
    redis_client: redis.Redis,
    redis_server: RedisServer,
    queue: Queue,
    settings: Settings,
    fake_api: FakeTelegramAPI,
    gif_bytes: bytes,
):
    """Redis refuses writes (NOREPLICAS) as the upload's answer arrives: the GIF is still marked sent."""
    request = make_request()
    job = queued_job(queue, settings, request)
    fake_api.answer_late("sendAnimation", 2.0)  # Telegram has the GIF; its answer takes 2 s
    try:
        with ThreadPoolExecutor(max_workers=1) as pool:
            refusals = pool.submit(
                refuse_writes_once_uploaded, redis_server.client(), fake_api, request.chat_id
            )
            delivery.send_gif(job, redis_client, converted(settings, job, gif_bytes))
            assert refusals.result() >= 1
    finally:
        redis_client.config_set("min-replicas-to-write", 0)

    assert markers.send_state(redis_client, job.id) == "sent"
    delivery.send_gif(job, redis_client, converted(settings, job, gif_bytes))  # a retry sends nothing
    assert len(fake_api.sent_animations(request.chat_id)) == 1
    assert stats.user_stats(redis_client, request.user_id).delivered == 1


def test_a_claim_whose_answer_was_lost_is_still_this_attempts_so_the_gif_goes_once(
    redis_client: redis.Redis,
    redis_server: RedisServer,
    queue: Queue,
    settings: Settings,
    fake_api: FakeTelegramAPI,
    gif_bytes: bytes,
):
    """The connection drops after the claim reached Redis, before its answer came back (a failover,
    a network cut): asked again, the claim is this attempt's own, so the GIF goes out once, not never."""
    request = make_request()
    job = queued_job(queue, settings, request)
    with RedisCut(redis_server.port) as cut:
        cut.drop_answer_to(b"sending")
        delivery.send_gif(job, connect_url(cut.url), converted(settings, job, gif_bytes))
        assert cut.cuts == 1

    assert len(fake_api.sent_animations(request.chat_id)) == 1
    assert markers.send_state(redis_client, job.id) == "sent"


def _send_in_a_box(url: str, job_id: str, result: dict[str, object]) -> None:
    """send_gif in a forked process (a worker box) with its own Redis connection."""
    connection = redis.Redis.from_url(url)
    job = Job.fetch(job_id, connection=connection, serializer=JSONSerializer)
    delivery.send_gif(job, connection, result)


def _evals(client: redis.Redis) -> int:
    return int(client.info("commandstats").get("cmdstat_eval", {}).get("calls", 0))


def test_a_box_that_dies_while_its_gif_waits_for_the_budget_leaves_no_claim_so_the_retry_sends_it(
    redis_client: redis.Redis,
    redis_server: RedisServer,
    queue: Queue,
    settings: Settings,
    fake_api: FakeTelegramAPI,
    gif_bytes: bytes,
    monkeypatch: pytest.MonkeyPatch,
):
    """In a burst a GIF may wait a minute for a slot of the global budget. A box killed meanwhile
    has not claimed the send yet, so the retry sends the GIF (a claim would mean "maybe sent": none)."""
    monkeypatch.setattr(pace, "_global_interval", 1 / 26)
    now = redis_client.time()
    redis_client.set(keys.GLOBAL_PACE, now[0] + now[1] / 1e6 + 60, ex=120)  # booked a minute ahead
    request = make_request()
    job = queued_job(queue, settings, request)
    result = converted(settings, job, gif_bytes)
    asked = _evals(redis_client)
    box = multiprocessing.get_context("fork").Process(
        target=_send_in_a_box, args=(redis_server.url, job.id, result)
    )
    box.start()
    try:
        # the GIF asked the budget, heard it is booked a minute ahead, and sleeps until then
        wait_until(lambda: _evals(redis_client) > asked, timeout=30, what="the GIF asking for a slot")
    finally:
        box.kill()
        box.join()
    assert markers.send_state(redis_client, job.id) is None
    assert fake_api.sent_animations(request.chat_id) == []

    redis_client.delete(keys.GLOBAL_PACE)  # the burst is over: the retry finds the budget free
    delivery.send_gif(job, redis_client, converted(settings, job, gif_bytes))
    assert len(fake_api.sent_animations(request.chat_id)) == 1
    assert markers.send_state(redis_client, job.id) == "sent"


def test_a_failed_attempt_removes_only_its_own_temp_dir(
    redis_client: redis.Redis, queue: Queue, settings: Settings, fake_api: FakeTelegramAPI, gif_bytes: bytes
):
    """on_failure of one attempt leaves another attempt's GIF on the same box intact (and sendable)."""
    request = make_request()
    job = queued_job(queue, settings, request)
    other = converted(settings, job, gif_bytes)  # a second run of the job on this box, done converting
    mine = workdir.new_attempt_dir(settings.tmp_root, job.id)  # this horse's attempt, failing mid-way
    (mine / "in-partial").write_bytes(b"half a video")

    delivery.report_failure(job, redis_client, TransientError, TransientError("502"), None)

    assert not mine.exists()
    assert (settings.tmp_root / str(other["workdir"]) / GIF_NAME).read_bytes() == gif_bytes
    delivery.send_gif(job, redis_client, other)
    assert len(fake_api.sent_animations(request.chat_id)) == 1


def test_success_frees_the_slot_and_queues_the_users_next_video(
    redis_client: redis.Redis, queue: Queue, settings: Settings, gif_bytes: bytes
):
    """With one slot, the second video waits and is put in RQ once the first GIF was sent."""
    first, second = make_request(), make_request()
    assert submit(queue, settings, first, ONE_AT_A_TIME) is admission.Admission.QUEUED
    assert submit(queue, settings, second, ONE_AT_A_TIME) is admission.Admission.WAITING
    assert second.job_id not in queue.get_job_ids()
    job = queue.fetch_job(first.job_id)
    assert job is not None

    delivery.send_gif(job, redis_client, converted(settings, job, gif_bytes))

    assert second.job_id in queue.get_job_ids()
    assert not holds_slot(redis_client, first) and holds_slot(redis_client, second)
    assert admission.waiting_count(redis_client, first.user_id) == 0


# ---------------------------------------------------------------- report_failure / report_stopped


@pytest.mark.parametrize("status", [True, False], ids=["edits_status", "replies"])
def test_a_user_facing_error_stops_retries_and_tells_the_user_once(
    redis_client: redis.Redis, queue: Queue, settings: Settings, fake_api: FakeTelegramAPI, status: bool
):
    """NotAVideo: no retry, the catalogue text shown once (edit or reply) even if reported twice."""
    request = make_request(lang=ZH, status=status)
    job = queued_job(queue, settings, request)
    assert job.retries_left == settings.retry_max
    error = NotAVideo("no video stream")

    delivery.report_failure(job, redis_client, NotAVideo, error, None)
    assert job.retries_left == 0
    delivery.report_failure(job, redis_client, NotAVideo, error, None)

    body = text("error_not_video", ZH)
    assert times_told(fake_api, request, body) == 1
    if status:
        assert fake_api.message_text(request.chat_id, request.status_message_id) == body
    assert stats.user_stats(redis_client, request.user_id).refused == 1
    assert not holds_slot(redis_client, request)


def test_a_transient_error_with_retries_left_tells_nothing_and_keeps_the_slot(
    redis_client: redis.Redis, queue: Queue, settings: Settings, fake_api: FakeTelegramAPI
):
    """A passing failure while retries remain: silence, the slot stays, retries are untouched."""
    request = make_request()
    job = queued_job(queue, settings, request)
    calls_before = len(fake_api.calls())

    delivery.report_failure(job, redis_client, TransientError, TransientError("502"), None)

    assert job.retries_left == settings.retry_max
    assert fake_api.calls()[calls_before:] == []
    assert holds_slot(redis_client, request)
    assert not redis_client.exists(keys.told(job.id))
    assert stats.user_stats(redis_client, request.user_id).failed == 0


def test_report_stopped_records_a_cancelled_failure_and_frees_the_slot(
    redis_client: redis.Redis, queue: Queue, settings: Settings, fake_api: FakeTelegramAPI, gif_bytes: bytes
):
    """/cancel of a running job: counted as failed (reason cancelled), temp dir removed, slot freed."""
    request = make_request()
    stats.record_video(redis_client, stats.Profile(request.user_id), request.job_id, request.file_size)
    job = queued_job(queue, settings, request)
    converted(settings, job, gif_bytes)  # a half-finished attempt's files

    delivery.report_stopped(job, redis_client)

    assert stats.user_stats(redis_client, request.user_id).failed == 1
    (record,) = stats.recent_jobs(redis_client, request.user_id)
    assert (record.status, record.reason) == (Outcome.FAILED.value, "cancelled")
    assert not list(settings.tmp_root.glob(f"{job.id}.*"))
    assert not holds_slot(redis_client, request)
    assert fake_api.sent_animations(request.chat_id) == []
