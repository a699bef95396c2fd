"""app.leader: one bot holds the lease; a standby takes over when it lapses or is released."""

from __future__ import annotations

import threading

import redis

from app import leader
from app.leader import Leadership
from core import keys


def test_the_first_bot_holds_and_a_second_stands_by(redis_client: redis.Redis) -> None:
    """Only one of two instances holds the lease, and the holder can renew it."""
    first, second = Leadership(redis_client, "a.1"), Leadership(redis_client, "b.2")
    assert first.try_hold() and first.held()
    assert not second.try_hold() and not second.held()
    assert first.try_hold()
    assert redis_client.get(keys.BOT_LOCK) == b"a.1"


def test_a_released_lease_passes_to_the_standby_at_once(redis_client: redis.Redis) -> None:
    """A bot stopping cleanly gives the lease up; the standby takes it on its next try."""
    first, second = Leadership(redis_client, "a.1"), Leadership(redis_client, "b.2")
    first.try_hold()
    first.release()
    assert not first.held()
    assert second.try_hold()


def test_a_lapsed_lease_passes_to_the_standby(redis_client: redis.Redis) -> None:
    """When the holder stops renewing (it died), the standby holds within the lease time."""
    first = Leadership(redis_client, "a.1", lease_s=0.3)
    second = Leadership(redis_client, "b.2", lease_s=0.3)
    assert first.try_hold()
    stop = threading.Event()
    timer = threading.Timer(5, stop.set)
    timer.start()
    try:
        assert second.wait_for_lease(stop), "the standby never got the lease"
        assert not first.try_hold(), "the old holder must not take the lease back while it is held"
    finally:
        timer.cancel()
        second.release()


def test_a_holder_keeps_its_lease_through_a_short_redis_outage() -> None:
    """While Redis does not answer, a holder still counts as holding until its lease lapses."""
    dead = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)
    lease = Leadership(dead, "a.1", lease_s=leader.LEASE_S)
    lease.valid_until = float("inf")
    assert lease.try_hold() and lease.held()
    lease.valid_until = 0.0
    assert not lease.try_hold()


def test_a_holder_cut_off_from_redis_may_poll_until_another_bot_shows_up() -> None:
    """Through an outage the last holder keeps polling (to tell users); a 409 from Telegram stops it."""
    dead = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)
    lease = Leadership(dead, "a.1")
    lease.announced = True  # it held the lease before Redis went away
    assert not lease.try_hold()
    assert lease.may_poll(), "the last holder stops telling users while Redis is away"
    lease.lose()
    assert not lease.may_poll()


def test_a_standby_never_polls_while_redis_is_away() -> None:
    """A bot that never held the lease does not start polling just because Redis is away."""
    dead = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)
    lease = Leadership(dead, "b.2")
    assert not lease.try_hold() and not lease.may_poll()
