"""Per-chat pacing shared by the bot and every worker: about one message or edit a second per chat."""

from __future__ import annotations

import time

from redis import Redis

from core import keys

CHAT_INTERVAL_S = 1.05  # Telegram allows about one message a second per chat
BURST_S = CHAT_INTERVAL_S  # a chat that was quiet may take one message right after another
MAX_WAIT_S = 10.0

# A GCRA on Redis's clock (boxes' clocks may differ). The key holds the chat's "theoretical arrival
# time": when it is next free at the steady rate. A message that must go out (wait=1) goes now if
# it is at most BURST_S early, else waits; an optional one (a progress tick, wait=0) goes only if
# the chat is free now. So the long-run rate is one per interval, with bursts of two at most.
_RESERVE = """
local tat = tonumber(redis.call('get', KEYS[1]) or '0')
local t = redis.call('time')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local interval = tonumber(ARGV[1])
if ARGV[2] == '0' then
  if tat > now then return '-1' end
  redis.call('set', KEYS[1], tostring(now + interval), 'EX', 60)
  return '0'
end
local allow_at = math.max(now, tat - tonumber(ARGV[3]))
redis.call('set', KEYS[1], tostring(math.max(tat, now) + interval), 'EX', 60)
return tostring(allow_at - now)
"""


def reserve(redis: Redis, chat_id: int, *, wait: bool = True) -> bool:
    """Take a slot in this chat: sleep until allowed if wait, else only if free now. True if taken."""
    mode = "1" if wait else "0"
    delay = float(redis.eval(_RESERVE, 1, keys.chat_pace(chat_id), CHAT_INTERVAL_S, mode, BURST_S))
    if delay < 0:
        return False
    time.sleep(min(delay, MAX_WAIT_S))
    return True
