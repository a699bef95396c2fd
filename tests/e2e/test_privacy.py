"""The command menu, /privacy and /forget through the real bot (and a worker) on the fake Bot API."""

from __future__ import annotations

import itertools
import time

import redis
from rq.job import JobStatus

from app.command_menu import GROUP_MENU, MENU
from app.menu import callback_data
from core import keys, limits
from core.models import job_id_for
from core.texts import EN, ZH, text
from tests import factories
from tests.fakes.telegram_api import FILE_DOWNLOAD, FakeTelegramAPI
from tests.gifcheck import all_done, job_status
from tests.services import wait_until

_user_ids = itertools.count(83_000)


def replies(fake_api: FakeTelegramAPI, chat: int, count: int = 1) -> list[str]:
    """Wait for `count` messages to a chat and return them."""
    return fake_api.wait_for(
        lambda: len(fake_api.messages_to(chat)) >= count and fake_api.messages_to(chat),
        timeout=30,
        message=f"{count} replies to {chat}",
    )


def test_command_menu_is_set_in_both_languages_and_every_entry_works(stack, fake_api, redis_client):
    """At start the bot sets an English default menu and a zh one from core.texts, and a group menu
    in both; each listed command gets a real answer, never "I don't know that command"."""
    stack.bot()
    for lang, code in ((EN, ""), (ZH, "zh")):
        menu = fake_api.wait_for(lambda code=code: fake_api.menu(code), timeout=30, message=f"menu {code!r}")
        assert menu == [{"command": name, "description": text(f"cmd_{name}", lang)} for name in MENU]
        groups = fake_api.wait_for(lambda code=code: fake_api.menu(code, "all_group_chats"), timeout=30)
        assert groups == [{"command": name, "description": text(f"cmd_{name}", lang)} for name in GROUP_MENU]
    assert len(fake_api.calls("setMyCommands")) == 4, "set once per start, per scope and language"
    users = {name: next(_user_ids) for name in MENU}
    fake_api.push_updates([factories.make_text_update(f"/{n}", user_id=u) for n, u in users.items()])
    for name, user in users.items():
        [reply] = replies(fake_api, user)
        assert reply != text("unknown_command"), f"/{name} is in the menu but not handled"
    group = -next(_user_ids)  # in a group an unknown command gets no answer: each listed one does
    chat = factories.make_chat(group, chat_type="group")
    fake_api.push_updates([factories.make_text_update(f"/{n}", chat_id=group, chat=chat) for n in GROUP_MENU])
    assert len(replies(fake_api, group, len(GROUP_MENU))) == len(GROUP_MENU)


def test_a_failing_set_my_commands_does_not_stop_the_bot(stack, fake_api, redis_client):
    """setMyCommands answering 500 is logged; the bot polls and answers as usual."""
    fake_api.fail("setMyCommands", 500, times=10)
    bot = stack.bot()
    user = next(_user_ids)
    fake_api.push_update(factories.make_text_update("/stats", user_id=user))
    replies(fake_api, user)
    wait_until(lambda: "setMyCommands" in bot.log(), timeout=10, what="the failure logged")
    assert bot.alive() and not fake_api.menu("")


def test_privacy_says_what_is_kept_in_english_and_chinese(stack, fake_api, redis_client):
    """/privacy names USER_DATA_DAYS and what /forget keeps, in the sender's language."""
    stack.bot(USER_DATA_DAYS="30")
    en, zh = next(_user_ids), next(_user_ids)
    fake_api.push_updates(
        [
            factories.make_text_update("/privacy", user_id=en, language_code="en"),
            factories.make_text_update("/privacy", user_id=zh, language_code="zh-hant"),
        ]
    )
    assert replies(fake_api, en) == [text("privacy", EN, days="30")]
    assert replies(fake_api, zh) == [text("privacy", ZH, days="30")]
    assert "30 days" in replies(fake_api, en)[0] and "30 天" in replies(fake_api, zh)[0]


CACHE = keys.cache("", "").removesuffix(":")  # every cache key starts so


def user_keys_now(client: redis.Redis, user: int) -> set[str]:
    """Every key whose name holds the user's id (their chat is theirs), and the GIF cache entries;
    not the chat's inbox and pacing, which come and go as messages are handled."""
    found = {k.decode() for k in client.scan_iter(match=f"*{user}*", count=1000)}
    found |= {k.decode() for k in client.scan_iter(match=CACHE + "*", count=1000)}
    return found - {keys.inbox(user), keys.chat_pace(user)}


def confirm_button(fake_api: FakeTelegramAPI, user: int) -> tuple[int, str, str]:
    """The /forget confirmation message: (message id, 'yes' callback data, 'no' callback data)."""
    [call] = fake_api.wait_for(
        lambda: [c for c in fake_api.calls("sendMessage", chat_id=user) if c.result.get("reply_markup")],
        timeout=30,
        message="the confirmation",
    )
    [[yes, no]] = call.result["reply_markup"]["inline_keyboard"]
    return call.result["message_id"], yes["callback_data"], no["callback_data"]


def press(fake_api: FakeTelegramAPI, user: int, data: str, message_id: int | None = None) -> str:
    """Press a button; return the answer's toast text."""
    before = len(fake_api.calls("answerCallbackQuery"))
    fake_api.push_update(factories.make_callback_update(data, user_id=user, message_id=message_id))
    answers = fake_api.wait_for(
        lambda: fake_api.calls("answerCallbackQuery")[before:], timeout=30, message="the answer"
    )
    return answers[0].params.get("text", "")


def test_forget_after_confirmation_deletes_the_users_data_but_keeps_a_ban(
    stack, fake_api, redis_client, clip_bytes
):
    """/forget with one delivered GIF, one running and one waiting video: forged, stale and other
    users' presses change nothing; 'yes' stops the videos and leaves no key of the user's but the
    ban, the quota override and the hourly counter (and the chat's pacing)."""
    user = next(_user_ids)
    stack.bot(MAX_ACTIVE_PER_USER="1")
    stack.worker()
    press(fake_api, user, callback_data("fps", "10"))
    first = factories.make_video_update(fake_api.add_file(clip_bytes), user_id=user)
    fake_api.push_update(first)
    wait_until(lambda: all_done(redis_client, [(user, first["message"]["message_id"])]), 90, what="first GIF")
    wait_until(lambda: list(redis_client.scan_iter(match=CACHE + "*")), 30, what="the GIF cached")
    fake_api.set_delay(FILE_DOWNLOAD, 30)  # the second video runs (in its download) until stopped
    running = factories.make_video_update(fake_api.add_file(clip_bytes), user_id=user)
    waiting = factories.make_video_update(fake_api.add_file(clip_bytes), user_id=user)
    fake_api.push_updates([running, waiting])
    run_msg = running["message"]["message_id"]
    wait_until(lambda: job_status(redis_client, user, run_msg) == JobStatus.STARTED, 60, what="running")
    wait_until(lambda: redis_client.llen(keys.user_pending(user)), 30, what="the third video waiting")
    statuses = [keys.status(job_id_for(user, u["message"]["message_id"])) for u in (running, waiting)]
    # the bot queues a video, then replies with its status message and stores that reply's id
    wait_until(lambda: redis_client.exists(*statuses) == 2, 30, what="both status replies")
    limits.ban(redis_client, user)
    limits.set_quota(redis_client, user, per_hour=5)
    before = user_keys_now(redis_client, user)
    assert {keys.user(user), keys.prefs(user), keys.user_jobs(user), keys.user_pending(user)} <= before
    assert any(k.startswith(CACHE) for k in before) and any(k.startswith("rq:job:") for k in before)
    indexed = [j.decode() for j in redis_client.zrange(keys.RECENT_JOBS, 0, -1)]
    assert indexed, "the admin's job search lists the user's jobs"

    fake_api.push_update(factories.make_text_update("/forget", user_id=user))
    message_id, yes, no = confirm_button(fake_api, user)
    assert fake_api.message_text(user, message_id) == text("forget_confirm")
    prefix, _, issued = yes.rpartition(":")
    stale, other = f"{prefix}:{int(issued) - 3600}", yes.replace(str(user), str(user + 1))
    forged = [stale, other, "forget:yes", "forget:x", yes + ":1"]
    for data in forged:
        assert press(fake_api, user, data, message_id) == text("button_expired"), data
    assert press(fake_api, user + 1, yes, message_id) == text("button_expired"), "another user's press"
    assert user_keys_now(redis_client, user) == before, "a refused press deleted something"

    assert press(fake_api, user, no, message_id) == ""
    fake_api.wait_for(
        lambda: fake_api.message_text(user, message_id) == text("forget_kept"), timeout=30, message="kept"
    )
    assert user_keys_now(redis_client, user) == before, "'no' deleted something"

    started = time.monotonic()
    press(fake_api, user, yes, message_id)
    fake_api.wait_for(
        lambda: fake_api.message_text(user, message_id) == text("forget_done"), timeout=30, message="done"
    )
    hour = {k for k in before if k.startswith(keys.user_hour(user, ""))}
    left = user_keys_now(redis_client, user) - hour - {keys.quota(user)}
    assert left == set(), f"left after /forget: {left}"
    assert hour, "the hourly quota counter stays (deleting it would reset the limit)"
    assert redis_client.sismember(keys.BANNED, user)
    assert redis_client.hgetall(keys.quota(user)) == {b"per_hour": b"5"}
    assert redis_client.zscore(keys.USERS, user) is None
    assert not [j for j in indexed if redis_client.zscore(keys.RECENT_JOBS, j) is not None], "job search"
    assert not redis_client.sismember(keys.ACTIVE_USERS, user)
    assert int(redis_client.hget(keys.TOTALS, "videos")) >= 3, "the anonymous totals stay"
    assert len(fake_api.sent_animations(user)) == 1, "the stopped and the waiting video made no GIF"
    assert time.monotonic() - started < 20
