"""Per-group settings chosen by a group's admins (today one: convert every video posted there).

A group's settings expire with its inactivity like a user's data (core.retention): every /gif, video
or settings change in the group gives them USER_DATA_DAYS more. /forget does not touch them: they
belong to the group, not to the user who changed them.
"""

from __future__ import annotations

from redis import Redis

from core import keys, retention

EVERY_VIDEO = "every_video"  # "1": convert plain videos posted in the group (needs privacy mode off)


def converts_every_video(redis: Redis, chat_id: int) -> bool:
    """True if the group's admins turned on converting every video posted there (off by default)."""
    return redis.hget(keys.group(chat_id), EVERY_VIDEO) == b"1"


def set_every_video(redis: Redis, chat_id: int, on: bool, ttl_s: int = retention.USER_DATA_TTL_S) -> None:
    """Store the group's choice; it lives `ttl_s` more."""
    with redis.pipeline() as pipe:
        pipe.hset(keys.group(chat_id), EVERY_VIDEO, "1" if on else "0")
        pipe.expire(keys.group(chat_id), ttl_s)
        pipe.execute()


def touch(redis: Redis, chat_id: int, ttl_s: int = retention.USER_DATA_TTL_S) -> None:
    """The group used the bot: its settings live `ttl_s` more (a no-op if it has none)."""
    redis.expire(keys.group(chat_id), ttl_s)
