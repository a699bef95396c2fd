"""Pacing shared by the bot and every worker: about one message a second per chat, and a global
budget of TELEGRAM_GLOBAL_RATE messages a second across all chats, shared out by priority."""

from __future__ import annotations

import math
import random
import threading
import time
from dataclasses import dataclass
from enum import StrEnum

from redis import Redis

from core import keys
from core.connection import REDIS_DOWN

CHAT_INTERVAL_S = 1.05  # Telegram allows about one message a second per chat
BURST_S = CHAT_INTERVAL_S  # a chat that was quiet may take one message right after another
MAX_WAIT_S = 10.0  # the longest sleep for a chat's slot (a global slot is always waited for)
DEFAULT_GLOBAL_RATE = 26.0  # a margin under Telegram's ~30 messages a second in all
MIN_BACKOFF_S = 0.02
# A sender that wakes (or hears back from Redis) this much after its global slot books a new one: 26
# slots a second, each used within 50 ms of its time, put at most 27.3 messages in any second, so
# ~100 ms of jitter after the check (the HTTP send in a busy process) still stays under 30. At 28 a
# second only ~20 ms was left, and a 1,000-user burst on a saturated 2-core box drew a few 429s.
LATE_S = 0.05
MAX_REBOOKS = 3


class Kind(StrEnum):
    """What a message is, highest priority first."""

    ACK = "ack"  # the bot's answer to a user: "queued", command replies, refusals, cached GIFs
    GIF = "gif"  # the converted GIF
    STATUS = "status"  # status message steps, its removal, error texts
    PROGRESS = "progress"  # "converting 40 %": dropped first


@dataclass(frozen=True)
class Rule:
    """How a kind of message takes the global budget.

    It books a slot only while the global schedule is booked less than `backlog_s` ahead, else it
    backs off so higher kinds go first; after `max_wait_s` of that it books anyway, at the back.
    """

    backlog_s: float
    max_wait_s: float


# The bot answers on 8 chat lanes: while acks flow they keep ~0.2-0.3 s booked ahead (8 slots at
# 26/s), so GIFs and status edits, whose limits lie under that, wait for the acks to pass.
RULES = {
    Kind.ACK: Rule(math.inf, 0.0),
    Kind.GIF: Rule(0.15, 60.0),
    Kind.STATUS: Rule(0.1, 10.0),
    Kind.PROGRESS: Rule(0.0, 0.0),  # only if the budget is free right now
}
GLOBAL_KEY_TTL_S = 60  # past the last booked slot

# One GCRA per chat and one for the whole bot, both on Redis's clock (boxes' clocks may differ).
# A key holds a "theoretical arrival time": when it is next free at its steady rate. A chat takes
# two messages back to back after a quiet spell (BURST_S); the global budget takes none early.
# ARGV: chat interval, mode, chat burst, global interval (0: no global budget), this kind's limit.
# Modes: 'wait' (a required message), 'optional' (only if the chat is free now), 'booked' (its
# chat slot was taken by an earlier 'later' answer), 'global' (no chat: a status message delete).
# Answers {verdict, seconds}: 'go' (send after seconds), 'chat' (optional and the chat is busy),
# 'global' (the schedule is booked `seconds` ahead, over this kind's limit: back off and ask again),
# 'later' (the chat is the wait: its slot is taken; sleep seconds, then ask again in 'booked' mode,
# so a chat's wait never holds a global slot idle).
_RESERVE = """
local t = redis.call('time')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local ci, mode, gi, limit = tonumber(ARGV[1]), ARGV[2], tonumber(ARGV[4]), tonumber(ARGV[5])
local tat = 0
if mode ~= 'global' then tat = tonumber(redis.call('get', KEYS[1]) or '0') end
local allow = now
if mode == 'optional' and tat > now then return {'chat', '0'} end
if mode == 'wait' then allow = math.max(now, tat - tonumber(ARGV[3])) end
local gfree = now
if gi > 0 then gfree = math.max(now, tonumber(redis.call('get', KEYS[2]) or '0')) end
if allow <= gfree and gfree - now > limit then return {'global', tostring(gfree - now)} end
if gi > 0 and allow > gfree then
  redis.call('set', KEYS[1], tostring(math.max(tat, now) + ci), 'EX', 60)
  return {'later', tostring(allow - now)}
end
local send_at = math.max(allow, gfree)
if gi > 0 then
  redis.call('set', KEYS[2], tostring(send_at + gi), 'EX', math.ceil(send_at + gi - now) + 60)
end
if mode == 'booked' then
  redis.call('set', KEYS[1], tostring(tat + send_at - now), 'EX', 60)
elseif mode ~= 'global' then
  redis.call('set', KEYS[1], tostring(math.max(tat, now) + ci + send_at - allow), 'EX', 60)
end
return {'go', tostring(send_at - now)}
"""

_global_interval = 1 / DEFAULT_GLOBAL_RATE


def configure(rate: float) -> None:
    """Set this process's global budget: `rate` messages a second in all chats (0: no budget)."""
    global _global_interval
    _global_interval = 1 / rate if rate > 0 else 0.0


def reserve(redis: Redis, chat_id: int | None, *, wait: bool = True, kind: Kind = Kind.STATUS) -> bool:
    """Take a slot in this chat and in the global budget: sleep until allowed if `wait`, else only
    if free now. chat_id None takes a global slot only. True if taken.

    While Redis is away the same rule runs on this process's own clock (_LOCAL), so a process that
    tells users about an outage still keeps to Telegram's limits.
    """
    rule = RULES[kind]
    mode = "global" if chat_id is None else "wait" if wait else "optional"
    started, limit, rebooked = time.monotonic(), rule.backlog_s, 0
    while True:
        verdict, seconds, booked = _ask(redis, chat_id, mode, limit)
        if verdict == "go":
            # The slot is `seconds` after the booking, made at `booked` at the earliest: an answer
            # that took long to come back (a busy box) makes us late as surely as a late wake.
            due = booked + seconds
            time.sleep(seconds if _global_interval else min(seconds, MAX_WAIT_S))
            if _global_interval and time.monotonic() - due > LATE_S and rebooked < MAX_REBOOKS:
                # late: sending now would crowd the slots booked after ours, so take the next
                # free one instead (the chat's slot stays ours)
                mode, limit, rebooked = "global" if chat_id is None else "booked", math.inf, rebooked + 1
                continue
            return True
        if verdict == "chat" or (verdict == "global" and (not wait or kind is Kind.PROGRESS)):
            return False
        if verdict == "later":
            time.sleep(min(seconds, MAX_WAIT_S))
            mode = "booked"
            continue
        # over this kind's limit: sleep until the backlog could be under it, with some jitter
        time.sleep(max(MIN_BACKOFF_S, seconds - limit) * random.uniform(1.0, 1.5))
        if time.monotonic() - started >= rule.max_wait_s:
            limit = math.inf  # waited long enough: take the next free slot, whoever is ahead


def _ask(redis: Redis, chat_id: int | None, mode: str, limit: float) -> tuple[str, float, float]:
    """One booking attempt on Redis (or on this process's clock while Redis is away): the verdict,
    its seconds, and the earliest moment (time.monotonic) the booking can have been made."""
    chat_key = keys.chat_pace(chat_id) if chat_id is not None else keys.GLOBAL_PACE
    args = (CHAT_INTERVAL_S, mode, BURST_S, _global_interval, min(limit, 1e9))
    asked = time.monotonic()
    try:
        verdict, seconds = redis.eval(_RESERVE, 2, chat_key, keys.GLOBAL_PACE, *args)
    except REDIS_DOWN:  # booked here and now, however long the failed attempt took
        booked = time.monotonic()
        return (*_LOCAL.ask(chat_id, mode, limit), booked)
    return (verdict.decode() if isinstance(verdict, bytes) else verdict), float(seconds), asked


class LocalPace:
    """The rule of _RESERVE in this process's memory: the fallback while Redis is away."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.tat: dict[int | None, float] = {}  # chat id -> tat; None -> the global budget's
        self.clock = time.monotonic

    def ask(self, chat_id: int | None, mode: str, limit: float) -> tuple[str, float]:
        """A verdict and seconds, as _RESERVE answers."""
        with self.lock:
            now, gi = self.clock(), _global_interval
            tat = self.tat.get(chat_id, 0.0) if chat_id is not None else 0.0
            if mode == "optional" and tat > now:
                return "chat", 0.0
            allow = max(now, tat - BURST_S) if mode == "wait" else now
            gfree = max(now, self.tat.get(None, 0.0)) if gi else now
            if allow <= gfree and gfree - now > limit:
                return "global", gfree - now
            if gi and allow > gfree:
                self.tat[chat_id] = max(tat, now) + CHAT_INTERVAL_S
                return "later", allow - now
            send_at = max(allow, gfree)
            if gi:
                self.tat[None] = send_at + gi
            if mode == "booked":
                self.tat[chat_id] = tat + send_at - now
            elif mode != "global":
                self.tat[chat_id] = max(tat, now) + CHAT_INTERVAL_S + send_at - allow
            self._forget(now)
            return "go", send_at - now

    def _forget(self, now: float) -> None:
        """Drop chats that are long free, so the map stays small."""
        if len(self.tat) > 10_000:
            self.tat = {c: t for c, t in self.tat.items() if t > now}


_LOCAL = LocalPace()
