"""Per-chat pacing shared by the bot and every worker: about one message or edit a second per chat."""

from __future__ import annotations

import time

from redis import Redis

from app import keys

CHAT_INTERVAL_S = 1.05  # Telegram allows about one message a second per chat
MAX_WAIT_S = 10.0

# Reserve the next free slot on Redis's clock (boxes' clocks may differ): slot = max(now, last + interval).
_RESERVE = """
local last = tonumber(redis.call('get', KEYS[1]) or '0')
local t = redis.call('time')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local slot = math.max(now, last + tonumber(ARGV[1]))
if ARGV[2] == '0' and slot > now then return '-1' end
redis.call('set', KEYS[1], tostring(slot), 'EX', 60)
return tostring(slot - now)
"""


def reserve(redis: Redis, chat_id: int, *, wait: bool = True) -> bool:
    """Take this chat's next slot: sleep until it if wait, else only if free now. True if taken."""
    delay = float(redis.eval(_RESERVE, 1, keys.chat_pace(chat_id), CHAT_INTERVAL_S, "1" if wait else "0"))
    if delay < 0:
        return False
    time.sleep(min(delay, MAX_WAIT_S))
    return True
