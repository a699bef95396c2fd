"""The bot in groups, through the real bot and a worker on the fake Bot API: /gif in reply to a
video (privacy mode on), the quota of the asker, commands for other bots, and the group's setting
for plain videos (admins only)."""

from __future__ import annotations

import itertools
import json

from app.groups import callback_data
from core import groups as core_groups
from core import keys, limits, stats
from core.texts import EN, ZH, text
from tests import factories
from tests.fakes.telegram_api import FILE_DOWNLOAD, FakeTelegramAPI
from tests.gifcheck import gif_info
from tests.services import wait_until
from tests.textmatch import matches

_ids = itertools.count(91_000)
TRANSCRIBED = ("sendMessage", "editMessageText", "sendAnimation", "sendDocument", "deleteMessage")


def group_video(fake_api: FakeTelegramAPI, data: bytes, group: int, poster: int) -> dict:
    """Push a video posted by `poster` in a group chat; return its Message."""
    update = factories.make_video_update(
        fake_api.add_file(data), user_id=poster, chat=factories.make_chat(group, chat_type="group")
    )
    fake_api.push_update(update)
    return update["message"]


def hourly_used(redis_client, user: int) -> int:
    """Videos counted against the user's hourly quota this hour."""
    return int(redis_client.get(keys.user_hour(user, limits.hour_bucket())) or 0)


def reply_target(call) -> int | None:
    """The message a sent message answers (its reply_parameters' message_id)."""
    raw = call.params.get("reply_parameters")
    return json.loads(raw)["message_id"] if raw else None


def transcript(fake_api: FakeTelegramAPI, chat: int, said: list[dict]) -> list[str]:
    """What was said in a chat: the users' messages `said`, then the bot's calls (for the report)."""
    hidden = {u["message"]["message_id"] for u in fake_api.withheld() if "message" in u}
    lines = []
    for message in said:
        to = f" ↩ #{message['reply_to_message']['message_id']}" if "reply_to_message" in message else ""
        note = "  (privacy mode: not shown to the bot)" if message["message_id"] in hidden else ""
        user = message["from"]
        head = f"user {user['id']} ({user['language_code']}) #{message['message_id']}{to}"
        lines.append(f"{head}: {message.get('text') or '[video]'}{note}")
    for call in fake_api.calls(chat_id=chat):
        if call.method not in TRANSCRIBED:
            continue
        to = f" ↩ #{reply_target(call)}" if reply_target(call) else ""
        made = f" #{call.result['message_id']}" if call.method.startswith("send") else ""
        edits = f" #{call.params['message_id']}" if "message_id" in call.params else ""
        body = call.params.get("text") or ("[GIF]" if call.method.startswith("sendA") else "")
        lines.append(f"bot {call.method}{made}{edits}{to}: {body}".rstrip(": "))
    return lines


def test_gif_in_reply_converts_the_video_for_the_asker_under_privacy_mode(
    stack, fake_api, redis_client, clip_bytes
):
    """With privacy mode on, /gif (and /gif@thisbot 0-1, trimmed) in reply to a video makes its GIF,
    answering the video; the asker pays, not the poster; a banned asker is refused; bare /gif says
    how; /gif in reply to a video in a private chat works too."""
    fake_api.set_privacy_mode(True)
    stack.bot()
    stack.worker()
    group, poster, asker, zh_asker, banned = (-next(_ids), next(_ids), next(_ids), next(_ids), next(_ids))
    limits.ban(redis_client, banned)
    first = group_video(fake_api, clip_bytes, group, poster)
    second = group_video(fake_api, clip_bytes, group, poster)  # another file: no cache hit
    chat = factories.make_chat(group, chat_type="group")
    asks = [
        factories.make_text_update("/gif", user_id=asker, chat_id=group, chat=chat),
        factories.make_reply_update("/gif", first, user_id=banned),
        factories.make_reply_update("/gif", first, user_id=asker),
        factories.make_reply_update("/gif@gif_test_bot 0-1", second, user_id=zh_asker, language_code="zh-TW"),
    ]
    alone = next(_ids)  # a private chat: a video the bot never saw, then /gif in reply to it
    unseen = factories.make_video_update(fake_api.add_file(clip_bytes), user_id=alone)["message"]
    fake_api.push_updates([*asks, factories.make_reply_update("/gif", unseen, user_id=alone)])
    assert [u["message"]["message_id"] for u in fake_api.withheld()] == [
        first["message_id"],
        second["message_id"],
    ]
    gifs = fake_api.wait_for(
        lambda: len(fake_api.sent_animations(group)) == 2 and fake_api.sent_animations(group),
        timeout=90,
        message="two GIFs",
    )
    assert sorted(reply_target(g) for g in gifs) == sorted([first["message_id"], second["message_id"]])
    trimmed = next(g for g in gifs if reply_target(g) == second["message_id"])
    assert gif_info(next(iter(trimmed.files.values()))).duration <= 1.1, "/gif 0-1 did not trim"
    [mine] = fake_api.wait_for(lambda: fake_api.sent_animations(alone), timeout=60, message="private GIF")
    assert reply_target(mine) == unseen["message_id"]
    texts = fake_api.messages_to(group)
    assert texts[:2] == [text("gif_how", EN), text("banned", EN)]
    statuses = [c for c in fake_api.calls("sendMessage", chat_id=group)][2:]
    assert {reply_target(c) for c in statuses} == {first["message_id"], second["message_id"]}
    assert [matches("status_queued", t, lang) for t, lang in zip(texts[2:], (EN, ZH), strict=True)] == [
        True,
        True,
    ]
    assert (hourly_used(redis_client, asker), hourly_used(redis_client, zh_asker)) == (1, 1)
    assert hourly_used(redis_client, poster) == 0 and stats.user_stats(redis_client, poster).videos == 0
    wait_until(
        lambda: stats.user_stats(redis_client, asker).delivered == 1, timeout=10, what="counted delivered"
    )
    fake_api.wait_for(lambda: len(fake_api.calls("deleteMessage", chat_id=group)) == 2, timeout=30)
    said = [first, second, *(u["message"] for u in asks)]
    print("\n".join(["", "TRANSCRIPT", *transcript(fake_api, group, said)]))


def test_plain_group_videos_wait_for_an_admin_to_turn_them_on(stack, fake_api, redis_client, clip_bytes):
    """Privacy mode off: /gif@otherbot and plain videos are ignored; a non-admin can neither open nor
    press the group's settings; once an admin turns 'every video' on, a plain video gets its GIF."""
    stack.bot()
    stack.worker()
    group, admin, member, channel = -next(_ids), next(_ids), next(_ids), -next(_ids)
    fake_api.set_chat_member(group, admin, "administrator")
    chat = factories.make_chat(group, chat_type="supergroup")
    ignored = group_video(fake_api, clip_bytes, group, member)
    post = factories.make_video_update(fake_api.add_file(clip_bytes), chat_id=channel)["message"]
    fake_api.push_update(
        {"channel_post": {**post, "chat": factories.make_chat(channel, chat_type="channel")}}
    )
    fake_api.push_updates(
        [
            factories.make_reply_update("/gif@other_bot", ignored, user_id=member),
            factories.make_text_update("/settings", user_id=member, chat_id=group, chat=chat),
        ]
    )
    [refusal] = fake_api.wait_for(lambda: fake_api.messages_to(group), timeout=30, message="a refusal")
    assert refusal == text("group_admins_only", EN, bot="gif_test_bot")
    forged = factories.make_callback_update(callback_data(True), user_id=member, chat_id=group)
    fake_api.push_update(forged)
    fake_api.wait_for(lambda: fake_api.calls("answerCallbackQuery"), timeout=30, message="an answer")
    assert fake_api.calls("answerCallbackQuery")[-1].params["text"] == text("group_admins_only_button", EN)
    assert not redis_client.exists(keys.group(group))
    fake_api.push_update(factories.make_text_update("/settings", user_id=admin, chat_id=group, chat=chat))
    menu = fake_api.wait_for(lambda: fake_api.calls("sendMessage", chat_id=group)[1:], timeout=30)[0]
    press = factories.make_callback_update(
        callback_data(True), user_id=admin, chat_id=group, message_id=menu.result["message_id"]
    )
    fake_api.push_update(press)
    fake_api.wait_for(lambda: len(fake_api.calls("answerCallbackQuery")) == 2, timeout=30, message="saved")
    assert fake_api.calls("answerCallbackQuery")[-1].params["text"] == text("settings_saved", EN)
    assert not fake_api.sent_animations(group), "a plain video was converted before the admin asked"
    wanted = group_video(fake_api, clip_bytes, group, member)
    [gif] = fake_api.wait_for(lambda: fake_api.sent_animations(group), timeout=90, message="the GIF")
    assert reply_target(gif) == wanted["message_id"]
    assert not fake_api.calls(chat_id=channel) and hourly_used(redis_client, member) == 1


ANONYMOUS_ADMIN = {"id": 1087968824, "is_bot": True, "first_name": "Group", "username": "GroupAnonymousBot"}


def anonymous_post(fake_api: FakeTelegramAPI, update: dict, group: int) -> dict:
    """Push `update` as Telegram shows an anonymous admin's message: from GroupAnonymousBot, sent
    on behalf of the group (sender_chat); return its Message."""
    chat = factories.make_chat(group, chat_type="supergroup", title=f"group {group}")
    message = {**update["message"], "from": ANONYMOUS_ADMIN, "sender_chat": chat, "chat": chat}
    fake_api.push_update({**update, "message": message})
    return message


def next_reply(fake_api: FakeTelegramAPI, group: int, before: int) -> str:
    """The first message the bot sends to `group` after its first `before` ones."""
    said = fake_api.wait_for(lambda: fake_api.messages_to(group)[before:], timeout=30, message="a reply")
    return said[0]


def test_anonymous_admins_of_two_groups_have_a_quota_and_a_cancel_each(
    stack, fake_api, redis_client, clip_bytes
):
    """Telegram shows every anonymous admin, in every group, as the same GroupAnonymousBot user.
    Their videos count against their group's quota, not one shared by all groups, and /cancel from
    one group's anonymous admin leaves another group's video alone."""
    stack.bot(HOURLY_QUOTA="1")
    stack.worker()
    first, second = -next(_ids), -next(_ids)
    for group in (first, second):
        core_groups.set_every_video(redis_client, group, True)
        anonymous_post(fake_api, factories.make_video_update(fake_api.add_file(clip_bytes)), group)
        fake_api.wait_for(lambda g=group: fake_api.sent_animations(g), timeout=90, message="the GIF")
    assert hourly_used(redis_client, first) == hourly_used(redis_client, second) == 1
    assert hourly_used(redis_client, ANONYMOUS_ADMIN["id"]) == 0
    assert {u.user_id for u in stats.list_users(redis_client, limit=100)} >= {first, second}

    before = len(fake_api.messages_to(first))
    anonymous_post(fake_api, factories.make_video_update(fake_api.add_file(clip_bytes)), first)
    assert matches("quota", next_reply(fake_api, first, before)), "the first group's hour is used up"
    redis_client.delete(keys.user_hour(second, limits.hour_bucket()))  # a new hour for the second
    fake_api.set_delay(FILE_DOWNLOAD, 5)  # its next video stays in its download a while
    anonymous_post(fake_api, factories.make_video_update(fake_api.add_file(clip_bytes)), second)
    wait_until(lambda: len(fake_api.calls(FILE_DOWNLOAD)) == 3, 60, what="the second group's download")
    before = len(fake_api.messages_to(first))
    anonymous_post(fake_api, factories.make_text_update("/cancel", chat_id=first), first)
    assert next_reply(fake_api, first, before) == text("nothing_to_cancel", EN)
    fake_api.wait_for(lambda: fake_api.sent_animations(second)[1:], timeout=90, message="its second GIF")
    fake_api.set_delay(FILE_DOWNLOAD, 0)
