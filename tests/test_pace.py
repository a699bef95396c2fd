"""Pacing (core.pace) on a real redis-server's clock: per chat, one message per interval; over
all chats, a global budget where acks go first and progress edits are dropped first.

Intervals are shrunk for speed: the tests prove the algorithm, not Telegram's constants. The
per-chat tests run with the global budget off, the global ones with it on.
"""

from __future__ import annotations

import math
import socket
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from core import keys, pace
from tests.services import wait_until

INTERVAL = 0.2
CHAT = 4242
OTHER_CHAT = -1001234


@pytest.fixture(autouse=True)
def short_interval(monkeypatch: pytest.MonkeyPatch) -> None:
    """One message per 0.2 s per chat, bursts of two, as the real 1.05 s/1.05 s but faster."""
    monkeypatch.setattr(pace, "CHAT_INTERVAL_S", INTERVAL)
    monkeypatch.setattr(pace, "BURST_S", INTERVAL)
    monkeypatch.setattr(pace, "_global_interval", 0.0)


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Record the delays pace would sleep instead of sleeping: callers that all go at once."""
    recorded: list[float] = []
    monkeypatch.setattr(pace, "time", SimpleNamespace(sleep=recorded.append, monotonic=time.monotonic))
    return recorded


def timed(call: Callable[[], object]) -> tuple[object, float]:
    """The call's result and its wall-clock duration in seconds."""
    start = time.monotonic()
    result = call()
    return result, time.monotonic() - start


def redis_now(redis_client: redis.Redis) -> float:
    seconds, micros = redis_client.time()
    return seconds + micros / 1_000_000


def test_first_two_reserves_in_a_quiet_chat_do_not_sleep(redis_client):
    """A quiet chat takes two messages back to back (the burst) without waiting."""
    taken, elapsed = timed(lambda: [pace.reserve(redis_client, CHAT) for _ in range(2)])
    assert taken == [True, True]
    assert elapsed < INTERVAL * 0.5


def test_third_reserve_waits_about_one_interval(redis_client):
    """After the burst of two, a third message waits until one interval after the first."""
    start = time.monotonic()
    pace.reserve(redis_client, CHAT)
    pace.reserve(redis_client, CHAT)
    taken, elapsed = timed(lambda: pace.reserve(redis_client, CHAT))
    assert taken is True
    assert time.monotonic() - start >= INTERVAL * 0.95
    assert INTERVAL * 0.25 <= elapsed < INTERVAL * 1.5 + 0.1


def test_average_rate_is_one_per_interval(redis_client):
    """N reserves in a row take at least (N-2) intervals: the burst of two, then one per interval."""
    n = 6
    taken, elapsed = timed(lambda: [pace.reserve(redis_client, CHAT) for _ in range(n)])
    assert taken == [True] * n
    assert (n - 2) * INTERVAL * 0.9 <= elapsed < (n - 2) * INTERVAL * 1.5 + 0.2


def test_callers_at_the_same_moment_are_spaced_one_interval_apart(redis_client, sleeps):
    """Reserves that do not wait in between (many processes at once) get delays 0, 0, 1, 2, 3 intervals."""
    for _ in range(5):
        assert pace.reserve(redis_client, CHAT) is True
    expected = [0, 0, INTERVAL, 2 * INTERVAL, 3 * INTERVAL]
    assert sleeps == pytest.approx(expected, abs=0.08)


def test_wait_is_capped_at_max_wait(redis_client, sleeps, monkeypatch):
    """No caller sleeps longer than MAX_WAIT_S, however far ahead the chat is booked."""
    monkeypatch.setattr(pace, "MAX_WAIT_S", INTERVAL * 1.5)
    for _ in range(6):
        pace.reserve(redis_client, CHAT)
    assert max(sleeps) == pytest.approx(INTERVAL * 1.5)
    assert all(delay <= pace.MAX_WAIT_S for delay in sleeps)


def test_optional_reserve_is_refused_while_the_chat_is_busy(redis_client):
    """An optional message (wait=False) right after another is refused at once, without sleeping."""
    pace.reserve(redis_client, CHAT)
    taken, elapsed = timed(lambda: pace.reserve(redis_client, CHAT, wait=False))
    assert taken is False
    assert elapsed < INTERVAL * 0.5


def test_optional_reserve_is_taken_in_a_quiet_chat(redis_client):
    """An optional message in a quiet chat goes at once, and then makes the chat busy."""
    assert pace.reserve(redis_client, CHAT, wait=False) is True
    assert pace.reserve(redis_client, CHAT, wait=False) is False


def test_optional_reserve_is_taken_once_the_chat_is_free_again(redis_client):
    """A busy chat takes an optional message again about one interval after the last one."""
    start = time.monotonic()
    pace.reserve(redis_client, CHAT)
    wait_until(
        lambda: pace.reserve(redis_client, CHAT, wait=False), timeout=5, interval=0.01, what="free chat"
    )
    assert INTERVAL * 0.95 <= time.monotonic() - start < INTERVAL * 1.5 + 0.1


def test_refused_optional_reserve_does_not_use_up_the_burst(redis_client):
    """A refused progress tick books nothing: the next required message still goes at once."""
    pace.reserve(redis_client, CHAT)
    assert pace.reserve(redis_client, CHAT, wait=False) is False
    taken, elapsed = timed(lambda: pace.reserve(redis_client, CHAT))
    assert taken is True
    assert elapsed < INTERVAL * 0.5


def test_chats_are_paced_independently(redis_client):
    """A busy chat does not delay another chat: its burst is whole and its optional message goes."""
    for _ in range(3):
        pace.reserve(redis_client, CHAT)
    assert pace.reserve(redis_client, CHAT, wait=False) is False
    taken, elapsed = timed(lambda: [pace.reserve(redis_client, OTHER_CHAT) for _ in range(2)])
    assert taken == [True, True]
    assert elapsed < INTERVAL * 0.5
    assert pace.reserve(redis_client, OTHER_CHAT + 1, wait=False) is True


def test_a_chat_quiet_for_a_while_gets_its_burst_back(redis_client, sleeps):
    """Once the booked time has passed (by Redis's clock), two messages go without waiting again."""
    for _ in range(3):
        pace.reserve(redis_client, CHAT)
    redis_client.set(keys.chat_pace(CHAT), redis_now(redis_client) - 10 * INTERVAL)
    sleeps.clear()
    pace.reserve(redis_client, CHAT)
    pace.reserve(redis_client, CHAT)
    assert sleeps == pytest.approx([0, 0], abs=0.08)


def test_key_holds_the_next_free_time_on_redis_clock(redis_client):
    """The chat's key holds when it is next free at the steady rate: Redis's now plus one interval."""
    before = redis_now(redis_client)
    pace.reserve(redis_client, CHAT, wait=False)
    after = redis_now(redis_client)
    booked = float(redis_client.get(keys.chat_pace(CHAT)))
    assert before + INTERVAL - 0.01 <= booked <= after + INTERVAL + 0.01


@pytest.mark.parametrize("wait", [True, False])
def test_chat_key_expires(redis_client, wait):
    """Every reserve gives the chat's key a TTL, so idle chats leave nothing behind in Redis."""
    pace.reserve(redis_client, CHAT, wait=wait)
    assert 0 < redis_client.ttl(keys.chat_pace(CHAT)) <= 60


# ---------------------------------------------------------------- the global budget

RATE = 20.0  # messages a second over all chats; one global slot every 0.05 s
SLOT = 1 / RATE
DEAD = "redis://127.0.0.1:1/0"


@pytest.fixture
def budget(monkeypatch: pytest.MonkeyPatch) -> float:
    """The global budget on, at RATE messages a second; returns its interval."""
    monkeypatch.setattr(pace, "_global_interval", SLOT)
    return SLOT


def sent_at(redis_client: redis.Redis, chat: int | None, kind: pace.Kind, wait: bool = True) -> float | None:
    """Reserve, then return when the message would go (time.monotonic()), or None if refused."""
    return time.monotonic() if pace.reserve(redis_client, chat, wait=wait, kind=kind) else None


def booked_ahead(redis_client: redis.Redis) -> float:
    """How far ahead the global budget is booked now, in seconds."""
    return float(redis_client.get(keys.GLOBAL_PACE) or 0) - redis_now(redis_client)


def ack_flood(redis_client: redis.Redis, threads: int, per_thread: int) -> tuple[ThreadPoolExecutor, list]:
    """`threads` senders each answering `per_thread` chats in a row, like the bot's chat lanes."""
    pool = ThreadPoolExecutor(threads)
    futures = [
        pool.submit(
            lambda n=n: [
                sent_at(redis_client, 10_000 + n * 100 + i, pace.Kind.ACK) for i in range(per_thread)
            ]
        )
        for n in range(threads)
    ]
    return pool, futures


def test_global_budget_spaces_messages_over_all_chats(redis_client, budget):
    """30 messages to 30 chats from 6 senders at once go one global slot apart: never over the rate."""
    with ThreadPoolExecutor(6) as pool:
        times = sorted(
            t
            for f in [pool.submit(sent_at, redis_client, 7000 + i, pace.Kind.ACK) for i in range(30)]
            for t in [f.result()]
        )
    assert times[-1] - times[0] >= 29 * SLOT * 0.9
    assert max(sum(1 for t in times if start <= t < start + 0.5) for start in times) <= 0.5 * RATE + 1


def test_acks_go_before_gifs_and_status_messages(redis_client, budget):
    """While 8 senders answer users, a GIF and a status message wait until the acks have passed."""
    pool, futures = ack_flood(redis_client, threads=8, per_thread=6)
    wait_until(lambda: booked_ahead(redis_client) > 0.25, timeout=5, interval=0.005, what="acks flowing")
    with ThreadPoolExecutor(2) as others:
        gif = others.submit(sent_at, redis_client, 1, pace.Kind.GIF)
        status = others.submit(sent_at, redis_client, 2, pace.Kind.STATUS)
        acks = sorted(t for f in futures for t in f.result())
        gif_at, status_at = gif.result(), status.result()
    pool.shutdown()
    assert sum(1 for t in acks if t < gif_at) >= 40, "the GIF went before the acks had passed"
    assert sum(1 for t in acks if t < status_at) >= 40, "the status went before the acks had passed"


def test_progress_is_dropped_while_anything_is_booked_ahead(redis_client, budget):
    """A progress edit goes only if the budget is free right now; it books nothing when refused,
    while an ack (any backlog) and a GIF (a short one) still go."""
    redis_client.set(keys.GLOBAL_PACE, redis_now(redis_client) + 0.1)
    assert pace.reserve(redis_client, 3, wait=False, kind=pace.Kind.PROGRESS) is False
    assert redis_client.get(keys.chat_pace(3)) is None
    assert pace.reserve(redis_client, 4, kind=pace.Kind.GIF) is True
    assert pace.reserve(redis_client, 5, kind=pace.Kind.ACK) is True
    wait_until(
        lambda: pace.reserve(redis_client, 3, wait=False, kind=pace.Kind.PROGRESS), timeout=2, what="free"
    )


def test_optional_status_is_dropped_and_a_gif_waits_over_their_limits(redis_client, budget):
    """With the budget booked 0.4 s ahead an optional status edit is skipped at once; a GIF waits until
    the backlog is under its limit, then goes."""
    redis_client.set(keys.GLOBAL_PACE, redis_now(redis_client) + 0.4)
    taken, elapsed = timed(lambda: pace.reserve(redis_client, 5, wait=False, kind=pace.Kind.STATUS))
    assert taken is False and elapsed < 0.05
    taken, elapsed = timed(lambda: pace.reserve(redis_client, 6, kind=pace.Kind.GIF))
    assert taken is True
    assert 0.4 - 0.05 <= elapsed < 0.4 + 0.3


def test_a_gif_books_anyway_after_its_max_wait(redis_client, budget, monkeypatch):
    """A GIF held back by a long flood of acks takes a slot at the back after its max wait: no starving."""
    monkeypatch.setitem(pace.RULES, pace.Kind.GIF, pace.Rule(backlog_s=0.15, max_wait_s=0.3))
    pool, futures = ack_flood(redis_client, threads=8, per_thread=10)  # ~4 s of acks
    wait_until(lambda: booked_ahead(redis_client) > 0.25, timeout=5, interval=0.005, what="acks flowing")
    started = time.monotonic()
    gif_at = sent_at(redis_client, 1, pace.Kind.GIF)
    acks = sorted(t for f in futures for t in f.result())
    pool.shutdown()
    # Generous for a loaded CI box (it once took 1.06 s); not starving is the second assert: most of
    # the ~4 s of acks are still to come when the GIF goes.
    assert gif_at - started < 0.3 + 8 * SLOT + 1.0
    assert sum(1 for t in acks if t > gif_at) >= 40, "the GIF should have gone long before the acks ended"


def test_a_chat_wait_holds_no_global_slot(redis_client, budget):
    """A message waiting for its busy chat does not book the global budget meanwhile: others go at once."""
    pace.reserve(redis_client, CHAT, kind=pace.Kind.STATUS)
    pace.reserve(redis_client, CHAT, kind=pace.Kind.STATUS)  # the chat's burst is used up
    with ThreadPoolExecutor(1) as pool:
        third = pool.submit(timed, lambda: pace.reserve(redis_client, CHAT, kind=pace.Kind.STATUS))
        wait_until(
            lambda: float(redis_client.get(keys.chat_pace(CHAT))) > redis_now(redis_client) + INTERVAL * 1.5,
            timeout=2,
        )
        taken, elapsed = timed(lambda: pace.reserve(redis_client, OTHER_CHAT, kind=pace.Kind.GIF))
        assert taken is True and elapsed < 2 * SLOT + 0.05
        assert third.result()[0] is True and third.result()[1] >= INTERVAL * 0.8


def test_global_key_expires(redis_client, budget):
    """The global budget's key has a TTL, so it never outlives its use."""
    pace.reserve(redis_client, CHAT, kind=pace.Kind.GIF)
    assert 0 < redis_client.ttl(keys.GLOBAL_PACE) <= pace.GLOBAL_KEY_TTL_S + 1


def test_a_delete_takes_only_a_global_slot(redis_client, budget):
    """chat None (the status message's delete) books the budget and leaves every chat's pace alone."""
    assert pace.reserve(redis_client, None, kind=pace.Kind.STATUS) is True
    assert redis_client.exists(keys.GLOBAL_PACE) and not redis_client.keys(keys.chat_pace(0)[:-1] + "[0-9-]*")


def test_budget_off_books_no_global_key(redis_client):
    """TELEGRAM_GLOBAL_RATE=0: only the chat is paced, as before the budget existed."""
    pace.configure(0)
    pace.reserve(redis_client, CHAT, kind=pace.Kind.GIF)
    assert not redis_client.exists(keys.GLOBAL_PACE)


def test_local_fallback_keeps_the_global_rate(budget, monkeypatch):
    """With Redis away, this process still spaces its messages one global slot apart."""
    monkeypatch.setattr(pace, "_LOCAL", pace.LocalPace())
    dead = redis.Redis.from_url(DEAD, socket_connect_timeout=0.1)
    times = [sent_at(dead, 500 + i, pace.Kind.ACK) for i in range(6)]
    assert times[-1] - times[0] >= 5 * SLOT * 0.9
    assert pace._LOCAL.ask(600, "wait", math.inf) == ("go", pytest.approx(0.0, abs=SLOT))
    assert pace._LOCAL.ask(601, "optional", 0.0)[0] == "global", "progress is dropped while booked ahead"


def test_a_sender_that_wakes_late_takes_a_fresh_slot(redis_client, budget, monkeypatch):
    """Waking more than LATE_S after its slot (a busy box), a sender books the next free slot instead of
    crowding the ones booked after it."""
    late = iter([0.1])

    def sleep(seconds: float) -> None:
        time.sleep(seconds + next(late, 0.0))

    monkeypatch.setattr(pace, "time", SimpleNamespace(sleep=sleep, monotonic=time.monotonic))
    before = redis_now(redis_client)
    assert pace.reserve(redis_client, CHAT, kind=pace.Kind.GIF) is True
    assert float(redis_client.get(keys.GLOBAL_PACE)) >= before + 0.1 + SLOT - 0.01


def test_a_sender_whose_booking_comes_back_late_takes_a_fresh_slot(redis_client, budget):
    """Redis's answer reaching the sender 0.1 s after Redis booked the slot (a busy box, a slow
    network) makes it as late as waking late: it books the next free slot instead of crowding the
    ones booked after it."""
    slow = iter([0.1])

    class SlowAnswer:
        """The real Redis; its first booking's answer arrives 0.1 s after Redis made it."""

        def eval(self, *args: object) -> object:
            answer = redis_client.eval(*args)
            time.sleep(next(slow, 0.0))
            return answer

    before = redis_now(redis_client)
    assert pace.reserve(SlowAnswer(), CHAT, kind=pace.Kind.GIF) is True  # type: ignore[arg-type]
    assert float(redis_client.get(keys.GLOBAL_PACE)) >= before + 0.1 + SLOT - 0.01


def test_a_redis_that_fails_slowly_costs_one_attempt_not_one_per_rebooking(budget, monkeypatch):
    """A Redis that goes silent fails each booking only after its timeout; the slot is then booked
    on this process's clock at that moment, so the failed attempt is no lateness to re-book for."""
    monkeypatch.setattr(pace, "_LOCAL", pace.LocalPace())
    with socket.create_server(("127.0.0.1", 0)) as silent:  # takes connections, never answers
        port = silent.getsockname()[1]
        once = {"socket_timeout": 0.2, "socket_connect_timeout": 0.2, "retry": Retry(NoBackoff(), 0)}
        client = redis.Redis(port=port, **once)
        start = time.monotonic()
        with pytest.raises(redis.RedisError):
            client.ping()
        one_attempt = time.monotonic() - start
        assert pace.reserve(client, CHAT, kind=pace.Kind.ACK) is True
        _, reserve = timed(lambda: pace.reserve(client, OTHER_CHAT, kind=pace.Kind.ACK))
    assert one_attempt >= 0.2
    assert reserve < 2 * one_attempt, f"{reserve:.2f} s: the booking was judged late and made again"
