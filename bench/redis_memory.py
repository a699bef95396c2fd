"""Redis memory: `used_memory` after a real run (videos from many users through the bot, two workers
and the scheduler, every video a cache miss, so a real job), and the 30-day steady state from it.

How the 30-day figure is derived. A day's traffic is taken to be the run itself (500 videos from
100 users in the full bench), from users who are new every day (the worst case for per-user data),
every day for 30 days. After the run every key is measured (MEMORY USAGE) and its TTL read; keys
are grouped into families (ids replaced by *). On day 30 a family holds `copies` days' worth of
what one day wrote, as its TTL allows:
    copies = min(TTL, 30 days) / 1 day    a TTL of a day or more (job records, cache, markers,
                                          per-user data with USER_DATA_DAYS, RQ results)
    copies = min(USER_DATA_DAYS, 30)      the users index (no TTL; pruned past USER_DATA_DAYS)
    copies x 24                           per-hour counters (one small hash per hour)
    copies = 1                            bounded keys without a TTL, and TTLs under a day
    30-day used_memory = used_memory after the run + k * sum(family bytes * (copies - 1))
where k = (used_memory after - before) / (MEMORY USAGE after - before): what Redis holds for each
byte MEMORY USAGE counts (expiry entries, allocator rounding). Bytes per video and per user come
from two phases: one video from each user, then the rest from the same users.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import redis

from bench.stack import LiveStack
from core import keys
from core.settings import Settings
from tests import factories
from tests.gifcheck import all_done
from tests.services import wait_until

DAY_S = 24 * 3600
HORIZON_DAYS = 30
MB = 1024 * 1024
FIRST_USER_ID = 950_000  # far from the other parts' user ids
GIFS_TIMEOUT_S = 1800
HOURLY = ("gifbot:hour:*",)  # one hash per UTC hour, of the same few counters however busy


@dataclass(frozen=True)
class Family:
    """Keys of one kind (ids as *): how many, their MEMORY USAGE, longest TTL, copies on day 30."""

    pattern: str
    keys: int
    bytes: int
    ttl_s: int | None  # None: some key of the family has no TTL
    copies: float


@dataclass(frozen=True)
class RedisMemory:
    """used_memory before, after one video per user, and after the whole run; and what follows."""

    users: int
    videos: int
    used_before: int
    used_first: int
    used_after: int
    overhead: float  # k: used_memory bytes per MEMORY USAGE byte the run added
    families: list[Family]

    @property
    def bytes_per_video(self) -> float:
        """From the second phase: the same users, videos only."""
        return (self.used_after - self.used_first) / max(1, self.videos - self.users)

    @property
    def bytes_per_user(self) -> float:
        """From the first phase (one video each), less that video."""
        return (self.used_first - self.used_before) / self.users - self.bytes_per_video

    @property
    def day30(self) -> float:
        """used_memory on day 30 of this run's traffic every day (see the module docstring)."""
        extra = sum(f.bytes * (f.copies - 1) for f in self.families)
        return self.used_after + self.overhead * extra


def family_of(key: str) -> str:
    """The key with every part that holds an id, a time or a hash written as *."""
    return ":".join("*" if re.search(r"\d", part) else part for part in key.split(":"))


def copies(pattern: str, ttl_s: int | None, user_days: float, horizon_days: int = HORIZON_DAYS) -> float:
    """How many days' worth of this family Redis holds on day `horizon_days` (module docstring)."""
    if pattern == keys.USERS:
        return min(user_days, horizon_days)
    if ttl_s is None or ttl_s < DAY_S:
        return 1.0
    days = min(round(ttl_s / 3600) / 24, horizon_days)  # the TTL left just after the run, to the hour
    return days * 24 if pattern in HOURLY else days


def measure_keys(client: redis.Redis) -> dict[str, tuple[int, int]]:
    """Every key -> (MEMORY USAGE bytes, TTL in seconds or -1)."""
    names = list(client.scan_iter(count=1000))
    with client.pipeline(transaction=False) as pipe:
        for name in names:
            pipe.memory_usage(name, samples=0)
            pipe.ttl(name)
        found = pipe.execute()
    return {
        name.decode(): (int(size or 0), int(ttl))
        for name, size, ttl in zip(names, found[::2], found[1::2], strict=True)
        if ttl != -2  # expired between SCAN and MEMORY USAGE
    }


def families(measured: dict[str, tuple[int, int]], user_days: float) -> list[Family]:
    """Group measured keys into families, largest first."""
    groups: dict[str, list[tuple[int, int]]] = {}
    for name, found in measured.items():
        groups.setdefault(family_of(name), []).append(found)
    result = []
    for pattern, members in groups.items():
        ttl = None if any(t < 0 for _, t in members) else max(t for _, t in members)
        size = sum(s for s, _ in members)
        result.append(Family(pattern, len(members), size, ttl, copies(pattern, ttl, user_days)))
    return sorted(result, key=lambda f: -f.bytes * f.copies)


def used_memory(client: redis.Redis) -> int:
    """Redis's own count of the bytes it has allocated."""
    return int(client.info("memory")["used_memory"])


def send_round(live: LiveStack, clip: bytes, users: list[int], each: int) -> list[tuple[int, int]]:
    """`each` videos from every user (a new file each: a cache miss), in one batch; wait for the
    GIFs and for every job to end. Returns (chat, message) pairs."""
    updates = [
        factories.make_video_update(live.api.add_file(clip), user_id=user, chat_id=user)
        for _ in range(each)
        for user in users
    ]
    live.api.push_updates(updates)
    messages = [(u["message"]["chat"]["id"], u["message"]["message_id"]) for u in updates]
    wait_until(lambda: all_done(live.redis, messages), GIFS_TIMEOUT_S, interval=1.0, what="every job to end")
    wait_until(live.workers_idle, 60, what="workers idle")
    return messages


def measure(
    live: LiveStack, clip: bytes, users: int, per_user: int, log: Callable[[str], None]
) -> RedisMemory:
    """Run `users` x `per_user` videos through the stack and measure Redis before, between, after."""
    client = live.redis
    ids = list(range(FIRST_USER_ID, FIRST_USER_ID + users))
    before_keys, before = measure_keys(client), used_memory(client)
    send_round(live, clip, ids, 1)
    first = used_memory(client)
    log(f"redis: {users} videos from {users} users, used_memory {before / MB:.2f} -> {first / MB:.2f} MB")
    send_round(live, clip, ids, per_user - 1)
    after, after_keys = used_memory(client), measure_keys(client)
    gifs = len([c for c in live.api.sent_animations() if c.chat_id and int(c.chat_id) in set(ids)])
    jobs = sum(1 for name in after_keys if name.startswith("rq:job:"))
    if gifs != users * per_user or jobs < users * per_user:
        raise RuntimeError(f"expected {users * per_user} real jobs and GIFs, saw {jobs} jobs, {gifs} GIFs")
    added = sum(s for s, _ in after_keys.values()) - sum(s for s, _ in before_keys.values())
    user_days = Settings().user_data_days
    return RedisMemory(
        users,
        users * per_user,
        before,
        first,
        after,
        (after - before) / added,
        families(after_keys, user_days),
    )


def report(found: RedisMemory) -> tuple[dict[str, float], dict[str, Any]]:
    """The bench figures and the JSON details (with every family and the formula)."""
    figures = {
        "redis_used_memory_mb": found.used_after / MB,
        "redis_30day_mb": found.day30 / MB,
        "redis_kb_per_video": found.bytes_per_video / 1024,
        "redis_kb_per_user": found.bytes_per_user / 1024,
    }
    details = {
        "users": found.users,
        "videos": found.videos,
        "used_memory_before": found.used_before,
        "used_memory_after_one_video_each": found.used_first,
        "used_memory_after": found.used_after,
        "used_memory_per_memory_usage_byte": round(found.overhead, 3),
        "assumed_traffic": f"this run every day for {HORIZON_DAYS} days, from new users each day",
        "formula": "day30 = used_memory_after + k * sum(bytes * (copies - 1)); copies = min(TTL, "
        f"{HORIZON_DAYS} d) / 1 d (x24 for per-hour hashes; USER_DATA_DAYS for the users index; 1 for "
        "bounded keys and TTLs under a day); k = used_memory_per_memory_usage_byte",
        "families": [asdict(f) for f in found.families],
    }
    return figures, details
