"""How long a user's data lives: profile, settings and counters expire USER_DATA_DAYS after the
user was last active; bans and quota overrides (an admin's decisions) never expire.

Every write to a user's data refreshes the TTL of all of it (`refresh`), so it expires as a whole.
The scheduler's hourly pass (`forget_inactive`) drops users past the cutoff from the users index,
and deletes their data if an older version left it without a TTL. A group's settings
(core.groups) expire the same way, by their TTL alone, refreshed whenever the group uses the bot.
"""

from __future__ import annotations

import time

from redis import Redis
from redis.client import Pipeline

from core import keys

USER_DATA_TTL_S = 90 * 24 * 3600  # USER_DATA_DAYS' default, for callers that have no settings
FORGET_BATCH = 500  # users looked at per round trip

# KEYS: the users index, then the user's data keys; ARGV: user id, cutoff (unix s). Forgets the
# user only if they are still inactive, so a user who came back meanwhile keeps their data.
_FORGET = """
local seen = redis.call('zscore', KEYS[1], ARGV[1])
if not seen or tonumber(seen) > tonumber(ARGV[2]) then return 0 end
redis.call('zrem', KEYS[1], ARGV[1])
for i = 2, #KEYS do redis.call('del', KEYS[i]) end
return 1
"""


def user_keys(user_id: int) -> tuple[str, ...]:
    """The keys that expire with a user's inactivity (not their ban nor their quota override)."""
    return (keys.user(user_id), keys.user_jobs(user_id), keys.user_seconds(user_id), keys.prefs(user_id))


def refresh(pipe: Pipeline | Redis, user_id: int, ttl_s: int) -> None:
    """Give every key of the user's data `ttl_s` more seconds (in the caller's pipeline)."""
    for key in user_keys(user_id):
        pipe.expire(key, ttl_s)


def active_users(redis: Redis, ttl_s: int, now: float | None = None) -> int:
    """How many users were active within the last `ttl_s` seconds."""
    now = time.time() if now is None else now
    return int(redis.zcount(keys.USERS, now - ttl_s, "+inf"))


def forget_inactive(redis: Redis, ttl_s: int, now: float | None = None) -> int:
    """Drop users inactive for `ttl_s` from the users index, with their data; return how many."""
    cutoff = (time.time() if now is None else now) - ttl_s
    forgotten = 0
    while ids := redis.zrangebyscore(keys.USERS, "-inf", cutoff, start=0, num=FORGET_BATCH):
        with redis.pipeline(transaction=False) as pipe:
            for raw in ids:
                user_id = int(raw)
                pipe.eval(
                    _FORGET, 1 + len(user_keys(user_id)), keys.USERS, *user_keys(user_id), user_id, cutoff
                )
            forgotten += sum(int(n) for n in pipe.execute())
    return forgotten
