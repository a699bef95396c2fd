"""Per-chat inboxes in Redis: an update is confirmed to Telegram only once it is stored here.

Storing is cheap and handling is not, so the bot confirms a batch as soon as it is stored (and
replicated) and handles each chat's inbox in order afterwards. One chat's flood therefore cannot
hold the getUpdates offset back for everyone, and an update stored before a crash or an outage is
handled when the bot is back, without the user sending it again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from redis import Redis

from core import keys

INBOX_MAX = 50  # stored updates per chat; more than a user's waiting list plus their slots
SEEN_TTL_S = 2 * 24 * 3600  # longer than Telegram's 24 h re-delivery window
FULL_NOTICE_TTL_S = 60  # an overflowing chat is told at most once a minute

# KEYS: inbox list, chats zset, seen marker, full marker; ARGV: raw update, chat id, max, seen ttl,
# now, full ttl. Returns 1 stored, 0 stored before, 2 inbox full (tell the chat), 3 full (told).
_STORE = """
if redis.call('exists', KEYS[3]) == 1 then return 0 end
redis.call('set', KEYS[3], '1', 'EX', ARGV[4])
if redis.call('llen', KEYS[1]) >= tonumber(ARGV[3]) then
  if redis.call('set', KEYS[4], '1', 'NX', 'EX', ARGV[6]) then return 2 end
  return 3
end
redis.call('rpush', KEYS[1], ARGV[1])
redis.call('zadd', KEYS[2], ARGV[5], ARGV[2])
return 1
"""
# KEYS: inbox list, chats zset; ARGV: the handled update, chat id. Pops it if still at the head,
# and forgets the chat once its inbox is empty.
_POP = """
if redis.call('lindex', KEYS[1], 0) == ARGV[1] then redis.call('lpop', KEYS[1]) end
if redis.call('llen', KEYS[1]) == 0 then redis.call('zrem', KEYS[2], ARGV[2]) end
return redis.call('llen', KEYS[1])
"""


class Stored(StrEnum):
    """What became of one update offered to the inbox."""

    STORED = "stored"
    SEEN = "seen"  # stored before: a re-delivery
    OVERFLOW = "overflow"  # the chat's inbox is full: tell the chat (once)
    DROPPED = "dropped"  # full, and the chat was told already
    IGNORED = "ignored"  # not something the bot handles (an edit, a channel post, ...)


@dataclass(frozen=True)
class Offered:
    """An update's id, its chat (0 if none) and what storing it did."""

    update_id: int
    chat_id: int
    outcome: Stored


def chat_of(raw: dict[str, Any]) -> int:
    """The chat a raw update belongs to (a button press: its user); 0 if the bot ignores it."""
    message = raw.get("message")
    if isinstance(message, dict):
        return int((message.get("chat") or {}).get("id") or 0)
    query = raw.get("callback_query")
    if isinstance(query, dict):
        return int((query.get("from") or {}).get("id") or 0)
    return 0


def store(redis: Redis, updates: list[dict[str, Any]], now: float) -> list[Offered]:
    """Store a batch of raw updates in their chats' inboxes, each once, in one round trip."""
    chats = [chat_of(raw) for raw in updates]
    with redis.pipeline(transaction=False) as pipe:
        for raw, chat in zip(updates, chats, strict=True):
            if chat:
                update_keys = [keys.inbox(chat), keys.INBOX_CHATS, keys.update_seen(raw["update_id"])]
                args = [json.dumps(raw), chat, INBOX_MAX, SEEN_TTL_S, now, FULL_NOTICE_TTL_S]
                pipe.eval(_STORE, 4, *update_keys, keys.inbox_full(chat), *args)
        codes = iter(pipe.execute())
    outcomes = {1: Stored.STORED, 0: Stored.SEEN, 2: Stored.OVERFLOW, 3: Stored.DROPPED}
    return [
        Offered(int(raw["update_id"]), chat, outcomes[int(next(codes))] if chat else Stored.IGNORED)
        for raw, chat in zip(updates, chats, strict=True)
    ]


def head(redis: Redis, chat_id: int) -> str | None:
    """The oldest unhandled update of a chat (raw JSON), None if its inbox is empty."""
    raw = redis.lindex(keys.inbox(chat_id), 0)
    return raw.decode() if raw is not None else None


def pop(redis: Redis, chat_id: int, raw: str) -> int:
    """Drop a handled update from the head of its chat's inbox; return how many remain."""
    return int(redis.eval(_POP, 2, keys.inbox(chat_id), keys.INBOX_CHATS, raw, chat_id))


def pending_chats(redis: Redis) -> list[int]:
    """Every chat with stored updates, oldest activity first."""
    return [int(chat) for chat in redis.zrange(keys.INBOX_CHATS, 0, -1)]
