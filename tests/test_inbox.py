"""app.inbox: updates stored once per chat, in order, bounded, and popped only when handled."""

from __future__ import annotations

import json
import time

import pytest
import redis

from app import inbox
from core import keys
from tests import factories

CHAT = 5151


def text_update(update_id: int, chat_id: int = CHAT) -> dict:
    return factories.make_text_update("hello", user_id=chat_id, chat_id=chat_id, update_id=update_id)


def test_updates_are_stored_in_their_chats_inbox_in_order(redis_client: redis.Redis) -> None:
    """A batch lands in each chat's inbox in arrival order, and the chats are listed as pending."""
    batch = [text_update(1), text_update(2, chat_id=6161), text_update(3)]
    offered = inbox.store(redis_client, batch, time.time())
    assert [o.outcome for o in offered] == [inbox.Stored.STORED] * 3
    heads = [json.loads(raw)["update_id"] for raw in redis_client.lrange(keys.inbox(CHAT), 0, -1)]
    assert heads == [1, 3]
    assert sorted(inbox.pending_chats(redis_client)) == [CHAT, 6161]


def test_a_redelivered_update_is_stored_once(redis_client: redis.Redis) -> None:
    """Telegram re-sends an update until confirmed: the second copy is SEEN and not stored again."""
    inbox.store(redis_client, [text_update(7)], time.time())
    (again,) = inbox.store(redis_client, [text_update(7)], time.time())
    assert again.outcome is inbox.Stored.SEEN
    assert redis_client.llen(keys.inbox(CHAT)) == 1


def test_a_handled_update_is_seen_even_after_its_pop(redis_client: redis.Redis) -> None:
    """Once handled and popped, a late re-delivery of the same update is still not stored."""
    inbox.store(redis_client, [text_update(8)], time.time())
    inbox.pop(redis_client, CHAT, inbox.head(redis_client, CHAT))
    (again,) = inbox.store(redis_client, [text_update(8)], time.time())
    assert again.outcome is inbox.Stored.SEEN and inbox.head(redis_client, CHAT) is None


def test_a_flooding_chat_is_bounded_and_told_once(redis_client: redis.Redis) -> None:
    """Past INBOX_MAX a chat's updates are not stored; only the first excess one asks for a notice."""
    flood = [text_update(100 + n) for n in range(inbox.INBOX_MAX + 5)]
    outcomes = [o.outcome for o in inbox.store(redis_client, flood, time.time())]
    assert outcomes[: inbox.INBOX_MAX] == [inbox.Stored.STORED] * inbox.INBOX_MAX
    assert outcomes[inbox.INBOX_MAX :] == [inbox.Stored.OVERFLOW] + [inbox.Stored.DROPPED] * 4
    assert redis_client.llen(keys.inbox(CHAT)) == inbox.INBOX_MAX


def test_updates_the_bot_does_not_handle_are_ignored(redis_client: redis.Redis) -> None:
    """An edited message or a channel post is confirmed without being stored."""
    edited = {"update_id": 40, "edited_message": text_update(0)["message"]}
    (offered,) = inbox.store(redis_client, [edited], time.time())
    assert offered.outcome is inbox.Stored.IGNORED and inbox.pending_chats(redis_client) == []


def test_button_presses_go_to_the_pressing_users_inbox(redis_client: redis.Redis) -> None:
    """A callback query belongs to the user who pressed it."""
    press = factories.make_callback_update("noop", user_id=777, update_id=41)
    inbox.store(redis_client, [press], time.time())
    assert json.loads(inbox.head(redis_client, 777) or "{}")["update_id"] == 41


def test_pop_removes_only_the_handled_head_and_forgets_an_empty_chat(redis_client: redis.Redis) -> None:
    """Popping a stale copy leaves the inbox alone; popping the last update forgets the chat."""
    inbox.store(redis_client, [text_update(1), text_update(2)], time.time())
    first = inbox.head(redis_client, CHAT)
    assert first is not None
    assert inbox.pop(redis_client, CHAT, first) == 1
    assert inbox.pop(redis_client, CHAT, first) == 1  # handled twice: the second pop changes nothing
    second = inbox.head(redis_client, CHAT)
    assert second is not None and json.loads(second)["update_id"] == 2
    assert inbox.pop(redis_client, CHAT, second) == 0
    assert inbox.pending_chats(redis_client) == []


@pytest.mark.parametrize(
    ("raw", "chat"),
    [
        ({"update_id": 1}, 0),
        ({"update_id": 1, "message": {"chat": {}}}, 0),
        ({"update_id": 1, "poll": {}}, 0),
    ],
)
def test_chat_of_odd_updates_is_zero(raw: dict, chat: int) -> None:
    """Updates without a usable chat map to 0 (ignored), never raise."""
    assert inbox.chat_of(raw) == chat
