"""Per-user slots and waiting lists (core.admission) against a real redis-server: WATCH matters."""

from __future__ import annotations

import itertools
import json
import threading
import time
import zlib
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

import pytest
import redis
from rq import Queue
from rq.job import Job
from rq.utils import import_attribute

from core import admission, keys, stats
from core.admission import Admission, release, submit, waiting_count
from core.contract import JOB_DESCRIPTION, JOB_FUNC
from core.limits import UserLimits
from core.models import ConversionRequest, job_id_for
from core.settings import Settings

USER_A = 4242
USER_B = 5151
SETTINGS = Settings(queue_name="gifs-test", job_timeout=123, retry_max=2, retry_interval=7)
LIMITS = UserLimits(max_active=2, max_pending=3, per_hour=100)

CALLBACK_EVENTS = ("success", "failure", "stopped")

_message_ids = itertools.count(1000)


def make_request(**overrides: Any) -> ConversionRequest:
    """Build a ConversionRequest for a video in a private chat; every field a keyword override."""
    user_id = overrides.pop("user_id", USER_A)
    message_id = overrides.pop("message_id", next(_message_ids))
    fields: dict[str, Any] = {
        "chat_id": user_id,
        "user_id": user_id,
        "message_id": message_id,
        "status_message_id": message_id + 1,
        "file_id": f"BAACAgIAAxkBvideo{message_id}",
        "file_unique_id": f"AgADvideo{message_id}",
        "file_size": 1_234_567,
        "kind": "video",
        "lang": "en",
        "width": 480,
        "fps": 12,
        "max_seconds": 15.0,
    }
    return ConversionRequest(**{**fields, **overrides})


@pytest.fixture
def queue(redis_client: redis.Redis) -> Queue:
    return admission.gif_queue(redis_client, SETTINGS)


def active_ids(redis_client: redis.Redis, user_id: int) -> set[str]:
    """The job ids holding one of the user's slots."""
    return {raw.decode() for raw in redis_client.zrange(keys.user_active(user_id), 0, -1)}


def submit_all(
    queue: Queue, requests: list[ConversionRequest], limits: UserLimits = LIMITS
) -> list[Admission]:
    return [submit(queue, request, SETTINGS, limits) for request in requests]


def in_parallel(calls: list[Callable[[], object]]) -> list[object]:
    """Run the calls in threads released together by a barrier; their results in call order."""
    barrier = threading.Barrier(len(calls))

    def run(call: Callable[[], object]) -> object:
        barrier.wait()
        return call()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))


# --- submit ---------------------------------------------------------------------------------------


def test_submit_queues_while_user_has_free_slots(queue, redis_client):
    """Videos go straight into RQ while the user holds fewer than max_active slots."""
    requests = [make_request() for _ in range(LIMITS.max_active)]
    assert submit_all(queue, requests) == [Admission.QUEUED] * LIMITS.max_active
    assert queue.job_ids == [r.job_id for r in requests]
    assert active_ids(redis_client, USER_A) == {r.job_id for r in requests}
    assert waiting_count(redis_client, USER_A) == 0


def test_submit_beyond_max_active_puts_video_in_waiting_list(queue, redis_client):
    """Once every slot is taken, the next video waits in the user's list and is not in RQ."""
    submit_all(queue, [make_request() for _ in range(LIMITS.max_active)])
    extra = make_request()
    assert submit(queue, extra, SETTINGS, LIMITS) is Admission.WAITING
    assert extra.job_id not in queue.job_ids
    assert not Job.exists(extra.job_id, connection=redis_client)
    assert extra.job_id not in active_ids(redis_client, USER_A)
    assert waiting_count(redis_client, USER_A) == 1


def test_submit_refuses_full_once_waiting_list_holds_max_pending(queue, redis_client):
    """With every slot taken and max_pending videos waiting, a further video is refused as FULL."""
    accepted = submit_all(queue, [make_request() for _ in range(LIMITS.max_active + LIMITS.max_pending)])
    assert accepted == [Admission.QUEUED] * LIMITS.max_active + [Admission.WAITING] * LIMITS.max_pending
    refused = make_request()
    assert submit(queue, refused, SETTINGS, LIMITS) is Admission.FULL
    assert waiting_count(redis_client, USER_A) == LIMITS.max_pending
    assert len(queue.job_ids) == LIMITS.max_active
    assert not Job.exists(refused.job_id, connection=redis_client)


def test_refused_video_may_be_submitted_again_once_there_is_room(queue, redis_client):
    """FULL leaves no 'queued' marker, so the same message is accepted after a slot frees."""
    queued = submit_all(queue, [make_request() for _ in range(LIMITS.max_active + LIMITS.max_pending)])
    assert queued.count(Admission.QUEUED) == LIMITS.max_active
    refused = make_request()
    assert submit(queue, refused, SETTINGS, LIMITS) is Admission.FULL
    release(queue, queue.job_ids[0], USER_A, SETTINGS)  # promotes one waiting video: room in the list
    assert submit(queue, refused, SETTINGS, LIMITS) is Admission.WAITING


def test_max_pending_zero_refuses_as_soon_as_slots_are_taken(queue):
    """A user allowed no waiting videos is refused, not queued, once every slot is taken."""
    limits = UserLimits(max_active=1, max_pending=0, per_hour=100)
    assert submit_all(queue, [make_request(), make_request()], limits) == [Admission.QUEUED, Admission.FULL]


def test_second_submit_of_queued_message_is_duplicate_and_creates_no_job(queue, redis_client):
    """A re-delivered update for a queued video is DUPLICATE: one RQ job, one slot."""
    request = make_request()
    assert submit(queue, request, SETTINGS, LIMITS) is Admission.QUEUED
    assert submit(queue, request, SETTINGS, LIMITS) is Admission.DUPLICATE
    assert queue.job_ids == [request.job_id]
    assert active_ids(redis_client, USER_A) == {request.job_id}


def test_second_submit_of_waiting_message_is_duplicate_and_waits_once(queue, redis_client):
    """A re-delivered update for a waiting video is DUPLICATE: it is in the waiting list once."""
    submit_all(queue, [make_request() for _ in range(LIMITS.max_active)])
    request = make_request()
    assert submit(queue, request, SETTINGS, LIMITS) is Admission.WAITING
    assert submit(queue, request, SETTINGS, LIMITS) is Admission.DUPLICATE
    assert waiting_count(redis_client, USER_A) == 1


def test_duplicate_is_detected_even_after_the_job_ended(queue, redis_client):
    """The 'queued' marker outlives the slot: a late re-delivery after release is still DUPLICATE."""
    request = make_request()
    submit(queue, request, SETTINGS, LIMITS)
    release(queue, request.job_id, USER_A, SETTINGS)
    assert submit(queue, request, SETTINGS, LIMITS) is Admission.DUPLICATE
    assert active_ids(redis_client, USER_A) == set()


def test_concurrent_submits_never_exceed_the_limits(queue, redis_client):
    """Submits racing from many threads still queue max_active, wait max_pending, refuse the rest."""
    requests = [make_request() for _ in range(LIMITS.max_active + LIMITS.max_pending + 3)]
    outcomes = in_parallel([lambda r=r: submit(queue, r, SETTINGS, LIMITS) for r in requests])
    assert Counter(outcomes) == {
        Admission.QUEUED: LIMITS.max_active,
        Admission.WAITING: LIMITS.max_pending,
        Admission.FULL: 3,
    }
    assert len(queue.job_ids) == LIMITS.max_active
    assert len(active_ids(redis_client, USER_A)) == LIMITS.max_active
    assert waiting_count(redis_client, USER_A) == LIMITS.max_pending


def test_concurrent_submits_of_one_message_create_one_job(queue, redis_client):
    """The same message submitted from many threads at once is queued once, the rest DUPLICATE."""
    request = make_request()
    outcomes = in_parallel([lambda: submit(queue, request, SETTINGS, LIMITS) for _ in range(8)])
    assert Counter(outcomes) == {Admission.QUEUED: 1, Admission.DUPLICATE: 7}
    assert queue.job_ids == [request.job_id]


def record_of(request: ConversionRequest) -> Callable[[Any], None]:
    """What the bot adds to the transaction of a video it queues: the video's record."""
    return lambda pipe: stats.add_video(pipe, stats.Profile(request.user_id), request.job_id, 1000)


def test_a_queued_job_is_never_without_its_record(queue, redis_client):
    """A worker takes a job the moment it is in RQ and may end it at once: the record `admitted`
    adds is written in the same transaction, so a reader never sees the job without it (a job that
    ended first kept a record saying "queued"). Videos that wait get theirs too."""
    requests = [make_request(user_id=USER_A + n % 3) for n in range(60)]  # queued, waiting, refused
    seen_without: list[str] = []
    stop = threading.Event()

    def watch() -> None:
        """Read every job key and every record at one instant (MULTI/EXEC), again and again."""
        with redis_client.pipeline() as pipe:
            while not stop.is_set():
                for request in requests:
                    pipe.exists(Job.key_for(request.job_id))
                    pipe.exists(keys.job_record(request.job_id))
                found = pipe.execute()
                pairs = zip(requests, found[::2], found[1::2], strict=True)
                seen_without.extend(r.job_id for r, job, record in pairs if job and not record)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        outcomes = [submit(queue, r, SETTINGS, LIMITS, record_of(r)) for r in requests]
    finally:
        stop.set()
        watcher.join()
    assert not seen_without, f"jobs in RQ without their record: {sorted(set(seen_without))}"
    counts = Counter(outcomes)
    assert counts[Admission.QUEUED] == 3 * LIMITS.max_active and counts[Admission.FULL] > 0
    recorded = {r.job_id for r in requests if redis_client.exists(keys.job_record(r.job_id))}
    assert recorded == {r.job_id for r, o in zip(requests, outcomes, strict=True) if o is not Admission.FULL}


def test_a_duplicate_video_adds_no_second_record(queue, redis_client):
    """The same message submitted again records nothing more: the user has one video, not two."""
    request = make_request()
    assert submit(queue, request, SETTINGS, LIMITS, record_of(request)) is Admission.QUEUED
    assert submit(queue, request, SETTINGS, LIMITS, record_of(request)) is Admission.DUPLICATE
    assert redis_client.hget(keys.user(request.user_id), stats.VIDEOS) == b"1"
    assert redis_client.lrange(keys.user_jobs(request.user_id), 0, -1) == [request.job_id.encode()]


# --- release --------------------------------------------------------------------------------------


def test_release_frees_slot_and_promotes_oldest_waiting_video(queue, redis_client):
    """Releasing a job frees its slot and queues the oldest waiting video into it."""
    running = [make_request() for _ in range(LIMITS.max_active)]
    waiting = [make_request(), make_request()]
    submit_all(queue, running + waiting)
    promoted = release(queue, running[0].job_id, USER_A, SETTINGS)
    assert promoted == waiting[0]
    assert active_ids(redis_client, USER_A) == {running[1].job_id, waiting[0].job_id}
    assert queue.job_ids[-1] == waiting[0].job_id
    assert waiting_count(redis_client, USER_A) == 1


def test_releases_promote_waiting_videos_in_fifo_order(queue, redis_client):
    """Several releases queue the waiting videos in the order they were submitted."""
    running = [make_request() for _ in range(LIMITS.max_active)]
    waiting = [make_request() for _ in range(LIMITS.max_pending)]
    submit_all(queue, running + waiting)
    ended = [r.job_id for r in running]
    promoted = []
    for _ in waiting:
        request = release(queue, ended.pop(0), USER_A, SETTINGS)
        assert request is not None
        promoted.append(request)
        ended.append(request.job_id)
    assert promoted == waiting
    assert queue.job_ids == [r.job_id for r in running + waiting]
    assert waiting_count(redis_client, USER_A) == 0


def test_promoted_video_holds_a_slot(queue):
    """A video queued by release counts against max_active: the next submit waits."""
    submit_all(queue, [make_request() for _ in range(LIMITS.max_active)] + [make_request()])
    release(queue, queue.job_ids[0], USER_A, SETTINGS)
    assert submit(queue, make_request(), SETTINGS, LIMITS) is Admission.WAITING


def test_release_without_waiting_videos_only_frees_the_slot(queue, redis_client):
    """With nothing waiting, release returns None and the freed slot takes the next submit."""
    running = [make_request() for _ in range(LIMITS.max_active)]
    submit_all(queue, running)
    assert release(queue, running[0].job_id, USER_A, SETTINGS) is None
    assert active_ids(redis_client, USER_A) == {running[1].job_id}
    assert submit(queue, make_request(), SETTINGS, LIMITS) is Admission.QUEUED


def test_second_release_of_same_job_promotes_nothing(queue, redis_client):
    """Releasing a job twice promotes one waiting video, not two: the second call returns None."""
    running = [make_request() for _ in range(LIMITS.max_active)]
    submit_all(queue, [*running, make_request(), make_request()])
    assert release(queue, running[0].job_id, USER_A, SETTINGS) is not None
    assert release(queue, running[0].job_id, USER_A, SETTINGS) is None
    assert waiting_count(redis_client, USER_A) == 1
    assert len(queue.job_ids) == LIMITS.max_active + 1


def test_concurrent_releases_of_one_job_promote_once(queue, redis_client):
    """Callbacks racing to release the same job (success and stop, say) promote exactly one video."""
    running = [make_request() for _ in range(LIMITS.max_active)]
    submit_all(queue, [*running, make_request(), make_request()])
    results = in_parallel([lambda: release(queue, running[0].job_id, USER_A, SETTINGS) for _ in range(8)])
    assert sum(result is not None for result in results) == 1
    assert waiting_count(redis_client, USER_A) == 1
    assert len(active_ids(redis_client, USER_A)) == LIMITS.max_active


def test_release_of_unknown_job_does_nothing(queue, redis_client):
    """Releasing a job id that holds no slot changes neither slots, waiting list nor RQ."""
    running = [make_request() for _ in range(LIMITS.max_active)]
    submit_all(queue, [*running, make_request()])
    before = (active_ids(redis_client, USER_A), waiting_count(redis_client, USER_A), queue.job_ids)
    assert release(queue, job_id_for(USER_A, 999_999), USER_A, SETTINGS) is None
    assert (active_ids(redis_client, USER_A), waiting_count(redis_client, USER_A), queue.job_ids) == before


def test_release_under_another_user_does_nothing(queue, redis_client):
    """A job is released only from its own user's slots: another user's id frees nothing."""
    running = [make_request() for _ in range(LIMITS.max_active)]
    submit_all(queue, [*running, make_request()])
    assert release(queue, running[0].job_id, USER_B, SETTINGS) is None
    assert running[0].job_id in active_ids(redis_client, USER_A)
    assert waiting_count(redis_client, USER_A) == 1


def test_promoted_request_survives_the_waiting_list_unchanged(queue, redis_client):
    """Every field of a waiting request (floats, None, bools) comes back equal when promoted."""
    first = make_request()
    odd = make_request(start=1.25, end=None, speed=0.5, reverse=True, output="document", variant="w320f8")
    submit(queue, first, SETTINGS, UserLimits(max_active=1, max_pending=1, per_hour=100))
    submit(queue, odd, SETTINGS, UserLimits(max_active=1, max_pending=1, per_hour=100))
    assert release(queue, first.job_id, USER_A, SETTINGS) == odd
    job = Job.fetch(odd.job_id, connection=redis_client, serializer=queue.serializer)
    assert ConversionRequest.from_kwargs(job.kwargs) == odd


# --- stale slots ----------------------------------------------------------------------------------


def age_slots(redis_client: redis.Redis, user_id: int, seconds: float) -> None:
    """Pretend every slot of the user was taken `seconds` ago."""
    ids = active_ids(redis_client, user_id)
    redis_client.zadd(keys.user_active(user_id), dict.fromkeys(ids, time.time() - seconds))


def test_stale_slots_are_dropped_on_next_submit(queue, redis_client):
    """Slots older than STALE_ACTIVE_S belong to lost jobs: the next submit drops them and queues."""
    lost = [make_request() for _ in range(LIMITS.max_active)]
    submit_all(queue, lost)
    age_slots(redis_client, USER_A, admission.STALE_ACTIVE_S + 60)
    newcomer = make_request()
    assert submit(queue, newcomer, SETTINGS, LIMITS) is Admission.QUEUED
    assert active_ids(redis_client, USER_A) == {newcomer.job_id}


def test_slots_younger_than_stale_limit_are_kept(queue, redis_client):
    """A slot a little younger than STALE_ACTIVE_S still counts: the next video waits."""
    running = [make_request() for _ in range(LIMITS.max_active)]
    submit_all(queue, running)
    age_slots(redis_client, USER_A, admission.STALE_ACTIVE_S - 60)
    assert submit(queue, make_request(), SETTINGS, LIMITS) is Admission.WAITING
    assert active_ids(redis_client, USER_A) == {r.job_id for r in running}


def test_slots_freed_from_stale_jobs_go_to_waiting_videos_first(queue, redis_client):
    """Slots freed by dropping lost jobs are filled from the waiting list, oldest first."""
    lost = [make_request() for _ in range(LIMITS.max_active)]
    waiting = [make_request() for _ in range(LIMITS.max_active)]
    submit_all(queue, lost + waiting)
    age_slots(redis_client, USER_A, admission.STALE_ACTIVE_S + 60)
    newcomer = make_request()
    submit(queue, newcomer, SETTINGS, LIMITS)
    assert active_ids(redis_client, USER_A) == {r.job_id for r in waiting}
    assert waiting_count(redis_client, USER_A) == 1  # the newcomer, behind the older videos


# --- fairness between users -----------------------------------------------------------------------


def test_one_users_burst_leaves_at_most_max_active_jobs_in_rq(queue, redis_client):
    """A burst of 10 videos from one user puts only max_active of them in RQ; the rest wait."""
    limits = UserLimits(max_active=3, max_pending=20, per_hour=100)
    outcomes = submit_all(queue, [make_request(user_id=USER_A) for _ in range(10)], limits)
    assert outcomes == [Admission.QUEUED] * 3 + [Admission.WAITING] * 7
    assert len(queue.job_ids) == 3
    assert waiting_count(redis_client, USER_A) == 7


def test_other_users_video_is_queued_behind_at_most_max_active_of_a_burst(queue):
    """User B's video, sent after user A's burst of 10, has at most max_active of A's jobs ahead."""
    limits = UserLimits(max_active=3, max_pending=20, per_hour=100)
    submit_all(queue, [make_request(user_id=USER_A) for _ in range(10)], limits)
    video_b = make_request(user_id=USER_B)
    assert submit(queue, video_b, SETTINGS, limits) is Admission.QUEUED
    assert queue.job_ids.index(video_b.job_id) == limits.max_active


def test_users_burst_interleaves_with_another_users_video(queue):
    """A's next video, promoted when one of A's jobs ends, goes behind B's earlier video."""
    limits = UserLimits(max_active=3, max_pending=20, per_hour=100)
    burst = [make_request(user_id=USER_A) for _ in range(10)]
    submit_all(queue, burst, limits)
    video_b = make_request(user_id=USER_B)
    submit(queue, video_b, SETTINGS, limits)
    promoted = release(queue, burst[0].job_id, USER_A, SETTINGS)
    assert promoted == burst[3]
    assert queue.job_ids[-2:] == [video_b.job_id, burst[3].job_id]


def test_users_slots_and_waiting_lists_are_independent(queue, redis_client):
    """One user's full slots and waiting list do not count against another user."""
    submit_all(queue, [make_request(user_id=USER_A) for _ in range(LIMITS.max_active + LIMITS.max_pending)])
    assert submit(queue, make_request(user_id=USER_B), SETTINGS, LIMITS) is Admission.QUEUED
    assert waiting_count(redis_client, USER_B) == 0


# --- the RQ job -----------------------------------------------------------------------------------


def test_job_id_is_derived_from_chat_and_message(queue):
    """The job id comes from (chat_id, message_id): same message id in two chats is two jobs."""
    here = make_request(chat_id=-100_1, message_id=7)
    there = make_request(chat_id=-100_2, message_id=7)
    assert submit_all(queue, [here, there]) == [Admission.QUEUED, Admission.QUEUED]
    assert queue.job_ids == [job_id_for(-100_1, 7), job_id_for(-100_2, 7)]


def test_job_is_stored_with_the_json_serializer(queue, redis_client):
    """The job's payload in Redis is JSON (readable by every process), not pickle."""
    request = make_request()
    submit(queue, request, SETTINGS, LIMITS)
    raw = zlib.decompress(redis_client.hget(Job.key_for(request.job_id), "data"))
    func_name, _instance, args, kwargs = json.loads(raw)
    assert (func_name, args, kwargs) == (JOB_FUNC, [], request.to_kwargs())


def test_job_runs_the_conversion_with_the_requests_kwargs(queue, redis_client):
    """The job calls JOB_FUNC with the request's fields, under the fixed description."""
    request = make_request(speed=2.0, reverse=True)
    submit(queue, request, SETTINGS, LIMITS)
    job = Job.fetch(request.job_id, connection=redis_client, serializer=queue.serializer)
    assert job.func_name == JOB_FUNC
    assert job.description == JOB_DESCRIPTION
    assert ConversionRequest.from_kwargs(job.kwargs) == request


def test_job_takes_timeout_and_retry_from_settings(queue, redis_client):
    """The job's timeout and Retry(max, interval) are the settings' job_timeout, retry_max, retry_interval."""
    request = make_request()
    submit(queue, request, SETTINGS, LIMITS)
    job = Job.fetch(request.job_id, connection=redis_client, serializer=queue.serializer)
    assert job.timeout == SETTINGS.job_timeout
    assert job.retries_left == SETTINGS.retry_max
    assert job.retry_intervals == [SETTINGS.retry_interval]


def test_retry_max_zero_queues_jobs_that_are_never_retried(queue, redis_client):
    """RETRY_MAX=0 is a valid setting: the job is queued (RQ's Retry refuses max=0) with no retry."""
    request = make_request()
    assert submit(queue, request, replace(SETTINGS, retry_max=0), LIMITS) is Admission.QUEUED
    job = Job.fetch(request.job_id, connection=redis_client, serializer=queue.serializer)
    assert not job.retries_left and not job.should_retry


def test_job_keeps_results_and_failures_for_the_modules_ttls(queue, redis_client):
    """Finished jobs keep their result RESULT_TTL_S and their failure FAILURE_TTL_S."""
    request = make_request()
    submit(queue, request, SETTINGS, LIMITS)
    job = Job.fetch(request.job_id, connection=redis_client, serializer=queue.serializer)
    assert (job.result_ttl, job.failure_ttl) == (admission.RESULT_TTL_S, admission.FAILURE_TTL_S)


def test_job_callbacks_are_the_modules_named_callbacks(queue, redis_client):
    """on_success/on_failure/on_stopped are stored by the module's names and timeouts."""
    request = make_request()
    submit(queue, request, SETTINGS, LIMITS)
    fields = [f"{event}_callback_{part}" for event in CALLBACK_EVENTS for part in ("name", "timeout")]
    values = redis_client.hmget(Job.key_for(request.job_id), fields)
    stored = {field: value.decode() for field, value in zip(fields, values, strict=True)}
    assert stored["success_callback_name"] == admission.ON_SUCCESS == "jobs.delivery.send_gif"
    assert stored["failure_callback_name"] == admission.ON_FAILURE == "jobs.delivery.report_failure"
    assert stored["stopped_callback_name"] == admission.ON_STOPPED == "jobs.delivery.report_stopped"
    assert int(stored["success_callback_timeout"]) == admission.success_callback_timeout(SETTINGS.job_timeout)
    assert int(stored["failure_callback_timeout"]) == admission.FAILURE_CALLBACK_TIMEOUT_S
    assert int(stored["stopped_callback_timeout"]) == admission.FAILURE_CALLBACK_TIMEOUT_S


@pytest.mark.parametrize("name", [admission.ON_SUCCESS, admission.ON_FAILURE, admission.ON_STOPPED])
def test_callback_names_resolve_to_functions(name):
    """Each callback name imports to a callable, as a worker will resolve it when the job ends."""
    assert callable(import_attribute(name))


def test_promoted_job_has_the_same_options_as_a_queued_one(queue, redis_client):
    """A video queued by release gets the same serializer, retry and callbacks as one queued by submit."""
    limits = UserLimits(max_active=1, max_pending=1, per_hour=100)
    first, second = make_request(), make_request()
    submit_all(queue, [first, second], limits)
    release(queue, first.job_id, USER_A, SETTINGS)
    direct = Job.fetch(first.job_id, connection=redis_client, serializer=queue.serializer)
    promoted = Job.fetch(second.job_id, connection=redis_client, serializer=queue.serializer)

    def options(job: Job) -> tuple:
        return (
            job.func_name,
            job.timeout,
            job.retries_left,
            job.retry_intervals,
            job.result_ttl,
            job.failure_ttl,
            job._success_callback_name,
            job._failure_callback_name,
            job._stopped_callback_name,
        )

    assert options(promoted) == options(direct)


# --- waiting_count --------------------------------------------------------------------------------


def test_waiting_count_is_zero_for_an_unknown_user(redis_client):
    """A user who never sent a video has nothing waiting."""
    assert waiting_count(redis_client, 1) == 0


def test_waiting_count_follows_submits_and_releases(queue, redis_client):
    """waiting_count rises with each waiting video and falls as releases promote them."""
    running = [make_request() for _ in range(LIMITS.max_active)]
    submit_all(queue, running)
    counts = []
    for _ in range(LIMITS.max_pending):
        submit(queue, make_request(), SETTINGS, LIMITS)
        counts.append(waiting_count(redis_client, USER_A))
    release(queue, running[0].job_id, USER_A, SETTINGS)
    counts.append(waiting_count(redis_client, USER_A))
    assert counts == [1, 2, 3, 2]
    assert waiting_count(redis_client, USER_B) == 0


# --- outlook --------------------------------------------------------------------------------------


def test_outlook_counts_what_is_ahead_the_workers_and_the_typical_time(queue, redis_client):
    """A new video's position counts the queue and the user's own waiting videos; the wait uses
    the workers on this queue and the median of the last conversion times (5 s before any)."""
    assert admission.outlook(queue, USER_A) == (0, 0, 5.0)
    submit_all(queue, [make_request() for _ in range(LIMITS.max_active + 1)])  # 2 queued, 1 waits
    submit_all(queue, [make_request(user_id=USER_B)])  # someone else's, queued too
    for name in ("box-a.1", "box-b.7"):
        redis_client.sadd(f"rq:workers:{queue.name}", f"rq:worker:{name}")
    redis_client.rpush(keys.RECENT_SECONDS, "2.0", "9.0", "4.0")

    assert admission.outlook(queue, USER_A) == (3 + 1, 2, 4.0)
    assert admission.outlook(queue, USER_B) == (3, 2, 4.0)
