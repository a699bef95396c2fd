"""Per-chat pacing (core.pace): a GCRA on a real redis-server's clock, one message per interval.

The interval is shrunk for speed: the tests prove the algorithm, not Telegram's constant.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from types import SimpleNamespace

import pytest
import redis

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


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Record the delays pace would sleep instead of sleeping: callers that all go at once."""
    recorded: list[float] = []
    monkeypatch.setattr(pace, "time", SimpleNamespace(sleep=recorded.append))
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
