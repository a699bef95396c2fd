"""Speaking in a chat from any process: paced per chat, and a failure is logged, never raised."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from redis import Redis

from core import pace, telegram

log = logging.getLogger(__name__)
T = TypeVar("T")


def paced_send(
    redis: Redis,
    chat_id: int,
    method: str,
    fn: Callable[[], T],
    *,
    wait: bool = True,
    max_wait: float = telegram.MAX_RETRY_AFTER_WAIT_S,
    kind: pace.Kind = pace.Kind.STATUS,
) -> T | None:
    """Run one Bot API call in this chat's next free slot and a global one for its `kind`; None if
    it failed or, unless `wait`, if the chat or the budget was busy."""
    if not pace.reserve(redis, chat_id, wait=wait, kind=kind):  # local time while Redis is away
        return None
    try:
        return telegram.call(method, fn, max_wait=max_wait)
    except telegram.SEND_ERRORS as exc:
        log.warning("%s in chat %s failed: %s", method, chat_id, type(exc).__name__)
        return None
