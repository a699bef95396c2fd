"""Tweak and redo: the buttons under each GIF, pressed through the fake Bot API on one real stack."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import redis

from core import keys, limits, stats
from core.models import job_id_for
from core.texts import ZH, text
from tests import factories, media
from tests.fakes.telegram_api import FILE_DOWNLOAD, Call, FakeTelegramAPI
from tests.gifcheck import gif_info
from tests.services import RedisServer, running_stack, stack_env, wait_until
from tests.textmatch import matches

_ids = itertools.count(71_000)
GROUP = -100_071_000


@dataclass
class Bot:
    """One running bot and worker on the fake Bot API, shared by this module's tests."""

    api: FakeTelegramAPI
    redis: redis.Redis
    clip: bytes  # 7 s of video: a GIF of 7 s


@pytest.fixture(scope="module")
def bot(
    tmp_path_factory: pytest.TempPathFactory, redis_server: RedisServer, request: pytest.FixtureRequest
) -> Iterator[Bot]:
    """A bot and a worker for the whole module (each test uses users and chats of its own)."""
    workdir = tmp_path_factory.mktemp("redo")
    clip = media.make_clip(workdir, "seven.mp4", seconds=7, size=(192, 108), fps=10).read_bytes()
    with FakeTelegramAPI() as api:
        env = stack_env(api.token, api.base_url, redis_server.url, workdir)
        with running_stack(env, workdir / "logs", request) as stack:
            stack.bot()
            stack.worker()
            yield Bot(api, redis_server.client(), clip)


def send_video(
    bot: Bot, user: int, chat: int | None = None, lang: str = "en", command: str = ""
) -> tuple[int, dict[str, Any]]:
    """Send the clip from `user` (in `chat`, their private chat by default), then `command` in reply
    to it if given (in a group: /gif); return the chat and the GIF."""
    chat = user if chat is None else chat
    update = factories.make_video_update(
        bot.api.add_file(bot.clip), user_id=user, chat_id=chat, language_code=lang
    )
    bot.api.push_update(update)
    if command:
        bot.api.push_update(
            factories.make_reply_update(command, update["message"], user_id=user, language_code=lang)
        )
    return chat, gif_message(bot, chat, 1)


def gif_message(bot: Bot, chat: int, nth: int) -> dict[str, Any]:
    """The `nth` GIF the bot sent to `chat` (1-based), as the chat now shows it."""
    sent = bot.api.wait_for(
        lambda: len(gifs(bot, chat)) >= nth and gifs(bot, chat), timeout=90, message="GIF"
    )
    message_id = sent[nth - 1].result["message_id"]
    # the worker keeps the buttons' recipe right after the upload returns
    wait_until(lambda: bot.redis.exists(keys.redo(chat, message_id)), timeout=10, what="the GIF's recipe")
    return bot.api.message(chat, message_id)


def gifs(bot: Bot, chat: int) -> list[Call]:
    return bot.api.sent_animations(chat)


def push_press(bot: Bot, gif: dict[str, Any], data: str, user: int, lang: str = "en") -> str:
    """Press a button under a message as `user`; return the press's callback query id."""
    update = factories.make_press_update(gif, data, user_id=user, language_code=lang)
    bot.api.push_update(update)
    return update["callback_query"]["id"]


def answer_to(bot: Bot, query_id: str) -> str:
    """Wait for the bot to answer a press; return the toast it showed."""
    [answer] = bot.api.wait_for(
        lambda: [
            c for c in bot.api.calls("answerCallbackQuery") if c.params["callback_query_id"] == query_id
        ],
        timeout=20,
        message="the press answered",
    )
    return answer.params.get("text", "")


def press(bot: Bot, gif: dict[str, Any], data: str, user: int, lang: str = "en") -> str:
    """Press a button and return the bot's answer."""
    return answer_to(bot, push_press(bot, gif, data, user, lang))


def uploaded(bot: Bot, chat: int, nth: int) -> bytes:
    return next(iter(gifs(bot, chat)[nth - 1].files.values()))


def job_ended(bot: Bot, job_id: str) -> bool:
    status = bot.redis.hget(keys.job_record(job_id), "status")
    return status is not None and status != b"queued"


def transcript(bot: Bot, chat: int, users: tuple[int, ...]) -> str:
    """What the chat saw, in order: the bot's texts, GIFs with their buttons, and the toasts that
    answered the presses of `users` (for the closing note)."""
    lines = []
    for call in bot.api.calls():
        query = call.params.get("callback_query_id", "")
        if call.method == "answerCallbackQuery" and query.startswith(tuple(map(str, users))):
            lines.append(f"  toast to user {query[:-8]}: {call.params.get('text', '')}")
        if call.chat_id != str(chat) or call.method not in ("sendMessage", "sendAnimation", "sendDocument"):
            continue
        reply = json.loads(call.params.get("reply_parameters") or "{}").get("message_id")
        head = f"  #{call.result['message_id']} {call.method} (reply to #{reply})"
        if call.method == "sendMessage":
            lines.append(f"{head}: {call.params.get('text')}")
            continue
        markup = json.loads(call.params.get("reply_markup") or "{}").get("inline_keyboard", [])
        buttons = " ".join(f"[{b['text']} = {b['callback_data']}]" for row in markup for b in row)
        lines.append(f"{head}{' by file_id' if not call.files else ''}: {buttons}")
    return "\n".join(lines)


def test_pressing_shorter_sends_a_shorter_gif_with_its_own_buttons(bot: Bot):
    """A GIF carries the buttons; 'shorter' answers with a 2 s GIF under it, counted as a video."""
    user = next(_ids)
    chat, first = send_video(bot, user)
    assert [data for _, data in bot.api.buttons(chat, first["message_id"])] == [
        "redo:s", "redo:w", "redo:f", "redo:r", "redo:o"
    ], "the whole video is in the GIF: no 'longer'"  # fmt: skip

    assert press(bot, first, "redo:s", user) == text("redo_started")

    second = gif_message(bot, chat, 2)
    whole, shorter = gif_info(uploaded(bot, chat, 1)), gif_info(uploaded(bot, chat, 2))
    print(f"\nGIF durations: first {whole.duration:.2f} s, after 'shorter' {shorter.duration:.2f} s")
    assert 6.5 <= whole.duration <= 7.3 and 1.8 <= shorter.duration <= 2.3
    assert json.loads(gifs(bot, chat)[1].params["reply_parameters"])["message_id"] == first["message_id"]
    assert "redo:l" in [data for _, data in bot.api.buttons(chat, second["message_id"])]
    wait_until(
        lambda: job_ended(bot, job_id_for(chat, first["message_id"], "s")), timeout=30, what="redo ended"
    )
    mine = stats.user_stats(bot.redis, user)
    assert (mine.videos, mine.delivered) == (2, 2)
    print(f"\nEnglish redo transcript:\n{transcript(bot, chat, (user,))}")


def test_a_double_tap_makes_one_job_and_one_gif(bot: Bot):
    """Two presses of one button under one GIF: one job, one new GIF, one video counted."""
    user = next(_ids)
    chat, first = send_video(bot, user)
    taps = [push_press(bot, first, "redo:f", user) for _ in range(2)]
    assert [answer_to(bot, tap) for tap in taps] == [text("redo_started"), text("redo_already")]
    redo_id = job_id_for(chat, first["message_id"], "f")
    wait_until(lambda: job_ended(bot, redo_id), timeout=90, what="the redo to end")
    assert len(gifs(bot, chat)) == 2
    assert stats.user_stats(bot.redis, user).videos == 2
    queued = [m for m in bot.api.messages_to(chat) if matches("status_queued", m)]
    assert len(queued) == 2, "one status message for the video, one for the redo"


def test_in_a_group_only_the_user_who_asked_may_press(bot: Bot):
    """Under a group's GIF (asked with /gif in reply) another member's press is refused politely
    and makes no job; the asker (zh-TW) gets the redo."""
    owner, other = next(_ids), next(_ids)
    chat, first = send_video(bot, owner, chat=GROUP - owner, lang="zh-TW", command="/gif")
    assert press(bot, first, "redo:r", other) == text("redo_not_yours")
    redo_id = job_id_for(chat, first["message_id"], "r")
    assert not bot.redis.exists(keys.queued(redo_id)) and not stats.user_stats(bot.redis, other).videos

    assert press(bot, first, "redo:r", owner, lang="zh-TW") == text("redo_started", ZH)
    second = gif_message(bot, chat, 2)
    labels = [label for label, _ in bot.api.buttons(chat, second["message_id"])]
    assert text("redo_forward", ZH) in labels and text("redo_as_file", ZH) in labels
    seen = transcript(bot, chat, (owner, other))
    print(f"\nzh-TW redo transcript (a group; another member pressed first):\n{seen}")


def test_forged_stale_and_hidden_presses_get_the_polite_answer(bot: Bot):
    """An unknown code, a message with no GIF recipe, an expired recipe and a hidden button: all
    get the settings buttons' 'no longer active' answer and make no job."""
    user = next(_ids)
    chat, gif = send_video(bot, user)
    not_a_gif = factories.make_callback_update("redo:s", user_id=user)["callback_query"]["message"]
    expired = text("button_expired")
    assert press(bot, gif, "redo:zz", user) == expired
    assert press(bot, gif, "redo:l", user) == expired, "no 'longer' button: the GIF has all the video"
    assert press(bot, not_a_gif, "redo:s", user) == expired
    bot.redis.delete(keys.redo(chat, gif["message_id"]))
    assert press(bot, gif, "redo:s", user) == expired
    assert not bot.redis.keys(f"gifbot:queued:gif_{chat}_*_*")
    assert stats.user_stats(bot.redis, user).videos == 1


def test_a_redo_counts_against_the_hourly_quota(bot: Bot):
    """A user whose hourly quota the first video used up gets the quota message for a redo, no job."""
    user = next(_ids)
    limits.set_quota(bot.redis, user, per_hour=1)
    chat, gif = send_video(bot, user)
    press(bot, gif, "redo:w", user)
    bot.api.wait_for(
        lambda: text("quota", per_hour=1) in bot.api.messages_to(chat), timeout=20, message="quota reply"
    )
    assert not bot.redis.exists(keys.queued(job_id_for(chat, gif["message_id"], "w")))
    wait_until(lambda: stats.user_stats(bot.redis, user).refused == 1, timeout=10, what="refusal counted")


def counted(bot: Bot, user: int) -> tuple[int, int]:
    """The user's videos and GIFs delivered, as /stats counts them."""
    mine = stats.user_stats(bot.redis, user)
    return mine.videos, mine.delivered


def test_a_redo_whose_gif_is_cached_is_answered_at_once(bot: Bot):
    """Reverse, then reverse back: the second redo is the first GIF again, by file_id, no download."""
    user = next(_ids)
    chat, first = send_video(bot, user)
    press(bot, first, "redo:r", user)
    reversed_gif = gif_message(bot, chat, 2)
    wait_until(lambda: job_ended(bot, job_id_for(chat, first["message_id"], "r")), timeout=30, what="redo")
    downloads = len(bot.api.calls(FILE_DOWNLOAD))

    press(bot, reversed_gif, "redo:r", user)

    again = gif_message(bot, chat, 3)
    assert not gifs(bot, chat)[2].files, "sent by file_id, not uploaded"
    assert again["animation"]["file_id"] == first["animation"]["file_id"]
    assert len(bot.api.calls(FILE_DOWNLOAD)) == downloads
    # the bot counts the video right after it sent the GIF, so the count can trail the message
    wait_until(lambda: counted(bot, user) == (3, 3), timeout=10, what="counted and delivered")
    assert bot.api.buttons(chat, again["message_id"]), "a GIF from the cache has its buttons too"
