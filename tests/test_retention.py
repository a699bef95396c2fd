"""Bounded Redis: a user's data expires after USER_DATA_DAYS of inactivity, admin decisions stay,
hourly counters never lose their TTL, and all-time totals survive both (real redis-server)."""

from __future__ import annotations

import time

import pytest
from redis import Redis

from core import keys, limits, prefs, retention, stats
from core.hourly import hour_bucket
from core.models import Outcome
from core.settings import Settings

DAY_S = 24 * 3600


def record_one(redis: Redis, user_id: int, ttl_s: int, now: float | None = None) -> None:
    """A video, its delivery and a /settings choice, as the bot and a worker record them."""
    job_id = f"gif_{user_id}_1"
    stats.record_video(redis, stats.Profile(user_id, "u"), job_id, 1000, now=now, ttl_s=ttl_s)
    stats.record_outcome(redis, user_id, job_id, Outcome.DELIVERED, seconds=1.0, size_out=10, ttl_s=ttl_s)
    prefs.save_choice(redis, user_id, "fps", "15", ttl_s=ttl_s)


def test_user_days_setting_accepts_a_fraction():
    """USER_DATA_DAYS defaults to 90 days and takes a fraction (tests use seconds)."""
    assert Settings().user_data_ttl_s == 90 * DAY_S
    assert Settings.from_env({"USER_DATA_DAYS": "0.0001"}).user_data_ttl_s == 9
    with pytest.raises(SystemExit, match="USER_DATA_DAYS"):
        Settings.from_env({"USER_DATA_DAYS": "0"})


def test_every_key_of_a_users_data_gets_the_ttl(redis_client: Redis):
    """Recording a video, its outcome or a settings choice gives all the user's keys the TTL."""
    record_one(redis_client, 5, ttl_s=1234)
    for key in retention.user_keys(5):
        assert 1200 < redis_client.ttl(key) <= 1234, key


def test_give_back_hourly_never_creates_a_counter_without_ttl(redis_client: Redis):
    """Giving back to an hour counter that is gone (expired, or the hour turned) creates nothing."""
    limits.give_back_hourly(redis_client, 8)
    assert not redis_client.exists(keys.user_hour(8, hour_bucket()))
    assert limits.take_hourly(redis_client, 8, per_hour=5)
    limits.give_back_hourly(redis_client, 8)
    key = keys.user_hour(8, hour_bucket())
    assert redis_client.get(key) == b"0"
    assert 0 < redis_client.ttl(key) <= limits.HOUR_COUNTER_TTL_S


def test_inactive_users_are_forgotten_and_admin_decisions_stay(redis_client: Redis):
    """The scheduler's pass deletes an inactive user's data (even keys an old version left without
    a TTL) and index entry; an active user stays; a ban and a quota override never go."""
    long_ago = time.time() - 100 * DAY_S
    record_one(redis_client, 1, ttl_s=retention.USER_DATA_TTL_S, now=long_ago)
    for key in retention.user_keys(1):
        redis_client.persist(key)  # as an older version wrote them
    limits.ban(redis_client, 1)
    limits.set_quota(redis_client, 1, per_hour=2)
    record_one(redis_client, 2, ttl_s=retention.USER_DATA_TTL_S)
    assert retention.forget_inactive(redis_client, retention.USER_DATA_TTL_S) == 1
    assert not any(redis_client.exists(key) for key in retention.user_keys(1))
    assert redis_client.zscore(keys.USERS, "1") is None
    assert all(redis_client.exists(key) for key in retention.user_keys(2))
    assert limits.is_banned(redis_client, 1)
    assert redis_client.hgetall(keys.quota(1)) == {b"per_hour": b"2"}
    assert (redis_client.ttl(keys.BANNED), redis_client.ttl(keys.quota(1))) == (-1, -1)


def test_totals_are_filled_once_from_an_older_installs_users(redis_client: Redis):
    """An install from before keys.TOTALS gets its totals added up from every user's hash, once;
    later videos count on top, and users forgotten afterwards stay counted."""
    redis_client.zadd(keys.USERS, {"1": time.time() - 100 * DAY_S, "2": time.time()})
    redis_client.hset(keys.user(1), mapping={"videos": 3, "delivered": 2, "failed": 1, "bytes_in": 30})
    redis_client.hset(keys.user(2), mapping={"videos": 1, "refused": 1, "bytes_in": 5})
    record_one(redis_client, 3, ttl_s=retention.USER_DATA_TTL_S)  # the new version, before the fill
    assert stats.totals(redis_client) | {"bytes_out": 0} == {
        "videos": 5,
        "delivered": 3,
        "failed": 1,
        "refused": 1,
        "bytes_in": 1035,
        "bytes_out": 0,
    }
    assert not stats.fill_totals(redis_client)  # done before: never added twice
    retention.forget_inactive(redis_client, retention.USER_DATA_TTL_S)
    record_one(redis_client, 3, ttl_s=retention.USER_DATA_TTL_S)
    assert stats.totals(redis_client)["videos"] == 6
    assert stats.totals(redis_client)["bytes_out"] == 20
