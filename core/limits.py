"""Bans and per-user quotas: the store admins change and the checks the bot makes."""

from __future__ import annotations

from dataclasses import dataclass

from redis import Redis

from core import keys
from core.hourly import hour_bucket
from core.settings import Settings

HOUR_COUNTER_TTL_S = 2 * 3600
# KEYS: the hour counter. Gives one back only to a counter that still exists (DECR keeps its TTL):
# a plain DECR after the hour turned, or after the counter expired, made a new one with no TTL.
_GIVE_BACK = """
if redis.call('exists', KEYS[1]) == 1 then return redis.call('decr', KEYS[1]) end
return 0
"""


@dataclass(frozen=True)
class UserLimits:
    """How much one user may ask of the bot."""

    max_active: int  # jobs queued or running at once
    max_pending: int  # videos waiting for a free slot
    per_hour: int  # videos accepted per UTC hour


def ban(redis: Redis, user_id: int) -> None:
    """Refuse this user's videos from now on."""
    redis.sadd(keys.BANNED, user_id)


def unban(redis: Redis, user_id: int) -> None:
    """Accept this user's videos again."""
    redis.srem(keys.BANNED, user_id)


def is_banned(redis: Redis, user_id: int) -> bool:
    """True if an admin banned this user."""
    return bool(redis.sismember(keys.BANNED, user_id))


def set_quota(
    redis: Redis, user_id: int, *, max_active: int | None = None, per_hour: int | None = None
) -> None:
    """Override one user's limits (None leaves a limit as it is)."""
    update = {k: v for k, v in (("max_active", max_active), ("per_hour", per_hour)) if v is not None}
    if update:
        redis.hset(keys.quota(user_id), mapping=update)


def clear_quota(redis: Redis, user_id: int) -> None:
    """Drop a user's overrides: the defaults apply again."""
    redis.delete(keys.quota(user_id))


def limits_for(redis: Redis, user_id: int, settings: Settings) -> UserLimits:
    """The user's limits: admin overrides over the settings' defaults."""
    raw = {k.decode(): int(v) for k, v in redis.hgetall(keys.quota(user_id)).items()}
    return UserLimits(
        max_active=raw.get("max_active", settings.max_active_per_user),
        max_pending=settings.max_pending_per_user,
        per_hour=raw.get("per_hour", settings.hourly_quota),
    )


def take_hourly(redis: Redis, user_id: int, per_hour: int) -> bool:
    """Count one video against the hourly quota; False (and not counted) if it is used up."""
    key = keys.user_hour(user_id, hour_bucket())
    with redis.pipeline() as pipe:
        pipe.incr(key)
        pipe.expire(key, HOUR_COUNTER_TTL_S)
        used, _ = pipe.execute()
    if used > per_hour:
        redis.eval(_GIVE_BACK, 1, key)
        return False
    return True


def give_back_hourly(redis: Redis, user_id: int) -> None:
    """Return a counted video to the quota (it was not accepted after all)."""
    redis.eval(_GIVE_BACK, 1, keys.user_hour(user_id, hour_bucket()))
