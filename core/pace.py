"""Per-chat pacing shared by the bot and every worker: about one message or edit a second per chat."""

from __future__ import annotations

import threading
import time

from redis import Redis

from core import keys
from core.connection import REDIS_DOWN

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
    """Take a slot in this chat: sleep until allowed if wait, else only if free now. True if taken.

    While Redis is away the same rule runs on this process's own clock (_LOCAL), so a process that
    tells users about an outage still keeps to Telegram's per-chat limit.
    """
    mode = "1" if wait else "0"
    try:
        delay = float(redis.eval(_RESERVE, 1, keys.chat_pace(chat_id), CHAT_INTERVAL_S, mode, BURST_S))
    except REDIS_DOWN:
        delay = _LOCAL.reserve(chat_id, wait)
    if delay < 0:
        return False
    time.sleep(min(delay, MAX_WAIT_S))
    return True


class LocalPace:
    """The GCRA of _RESERVE in this process's memory: the fallback while Redis is away."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.tat: dict[int, float] = {}

    def reserve(self, chat_id: int, wait: bool) -> float:
        """Seconds to wait before sending in this chat; -1 if optional and the chat is busy."""
        with self.lock:
            now, tat = time.monotonic(), self.tat.get(chat_id, 0.0)
            if not wait and tat > now:
                return -1.0
            allow_at = max(now, tat - BURST_S) if wait else now
            self.tat[chat_id] = max(tat, now) + CHAT_INTERVAL_S
            if len(self.tat) > 10_000:  # forget chats that are long free
                self.tat = {c: t for c, t in self.tat.items() if t > now}
            return allow_at - now


_LOCAL = LocalPace()
