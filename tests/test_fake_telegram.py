"""The fake Bot API, proven with a real TeleBot over HTTP (and raw requests where TeleBot can't reach)."""

from __future__ import annotations

import html
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
import telebot
from telebot import apihelper
from telebot.apihelper import ApiHTTPException, ApiTelegramException

from tests.factories import (
    make_callback_update,
    make_chat,
    make_document_update,
    make_photo_update,
    make_reply_update,
    make_text_update,
    make_video_update,
)
from tests.fakes.telegram_api import FILE_DOWNLOAD, MAX_DOWNLOAD_BYTES, NOT_MODIFIED, FakeTelegramAPI

CHAT = 4242
# A 1x1 GIF followed by every byte value, CR LF and dashes included, to stress multipart parsing.
GIF = (
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00,"
    b"\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;" + bytes(range(256)) + b"\r\n--\r\n"
)


@pytest.fixture
def bot(fake_api: FakeTelegramAPI, monkeypatch: pytest.MonkeyPatch) -> telebot.TeleBot:
    """A real TeleBot whose apihelper points at the fake (restored after the test)."""
    monkeypatch.setattr(apihelper, "API_URL", fake_api.base_url + "/bot{0}/{1}")
    monkeypatch.setattr(apihelper, "FILE_URL", fake_api.base_url + "/file/bot{0}/{1}")
    return telebot.TeleBot(fake_api.token, threaded=False)


@pytest.fixture
def pool() -> Iterator[ThreadPoolExecutor]:
    """Threads for calls that block (long polls); not joined, since stopping the fake releases them."""
    executor = ThreadPoolExecutor(max_workers=2)
    yield executor
    executor.shutdown(wait=False, cancel_futures=True)


def raw(fake: FakeTelegramAPI, method: str, token: str | None = None, **kwargs: object) -> requests.Response:
    """Call the fake without TeleBot, for what TeleBot cannot send."""
    url = f"{fake.base_url}/bot{token or fake.token}/{method}"
    return requests.post(url, timeout=5, **kwargs)  # type: ignore[arg-type]


def test_get_me_returns_the_bot_named_by_the_token(bot: telebot.TeleBot) -> None:
    """getMe answers the bot user whose id is the token's numeric part."""
    me = bot.get_me()
    assert (me.id, me.is_bot, me.username) == (123456, True, "gif_test_bot")


def test_wrong_token_is_401_and_unknown_method_is_404(fake_api: FakeTelegramAPI) -> None:
    """A wrong token gets 401 Unauthorized, an unknown method 404 Not Found, shaped like Telegram."""
    unauthorized = raw(fake_api, "getMe", token="999:nope")
    not_found = raw(fake_api, "fooBar")
    assert unauthorized.status_code == 401
    assert unauthorized.json() == {"ok": False, "error_code": 401, "description": "Unauthorized"}
    assert not_found.json() == {"ok": False, "error_code": 404, "description": "Not Found"}
    assert raw(fake_api, "setMyDescription").json() == {"ok": True, "result": True}


def test_get_updates_redelivers_until_an_offset_confirms(
    fake_api: FakeTelegramAPI, bot: telebot.TeleBot
) -> None:
    """Unconfirmed updates come back on every poll; an offset drops every smaller update_id for good."""
    ids = fake_api.push_updates([make_text_update(f"hi {n}", chat_id=CHAT) for n in range(3)])
    assert ids == [1, 2, 3]
    first = bot.get_updates(long_polling_timeout=1)
    again = bot.get_updates(long_polling_timeout=1)
    assert [u.update_id for u in first] == [u.update_id for u in again] == ids
    assert first[0].message.text == "hi 0"
    assert [u.update_id for u in bot.get_updates(offset=ids[1] + 1, limit=5)] == [3]
    assert fake_api.pending_updates() == 1
    later = fake_api.push_update(make_text_update("later"))
    assert [u.update_id for u in bot.get_updates(offset=later)] == [later]
    assert fake_api.pending_updates() == 1


def test_long_polling_wakes_at_once_on_push(
    fake_api: FakeTelegramAPI, bot: telebot.TeleBot, pool: ThreadPoolExecutor
) -> None:
    """A blocked getUpdates returns as soon as an update is pushed, long before its timeout."""
    poll = pool.submit(bot.get_updates, long_polling_timeout=30, timeout=35)
    fake_api.wait_for(lambda: fake_api.pollers_waiting() == 1, timeout=5, message="poller never blocked")
    pushed_at = time.monotonic()
    update_id = fake_api.push_update(make_text_update("wake up"))
    updates = poll.result(timeout=5)
    assert [u.update_id for u in updates] == [update_id]
    assert time.monotonic() - pushed_at < 2


def test_long_poll_answers_empty_when_its_timeout_expires(fake_api: FakeTelegramAPI) -> None:
    """With nothing to deliver, getUpdates blocks for `timeout` seconds, then answers an empty list."""
    started = time.monotonic()
    body = raw(fake_api, "getUpdates", params={"timeout": "0.2"}).json()
    assert body == {"ok": True, "result": []}
    assert time.monotonic() - started >= 0.2


def test_a_second_poller_ends_the_first_with_409(
    fake_api: FakeTelegramAPI, bot: telebot.TeleBot, pool: ThreadPoolExecutor
) -> None:
    """Like Telegram, a new getUpdates terminates a running one: two bot instances cannot both poll."""
    first = pool.submit(bot.get_updates, long_polling_timeout=30, timeout=35)
    fake_api.wait_for(lambda: fake_api.pollers_waiting() == 1, timeout=5)
    assert raw(fake_api, "getUpdates").json()["result"] == []
    with pytest.raises(ApiTelegramException) as error:
        first.result(timeout=5)
    assert error.value.error_code == 409
    assert "terminated by other getUpdates request" in error.value.description


def test_send_and_edit_message_text_are_recorded(fake_api: FakeTelegramAPI, bot: telebot.TeleBot) -> None:
    """sendMessage and editMessageText are recorded, and the status message's final text is readable."""
    status = bot.send_message(CHAT, "Queued")
    bot.edit_message_text("Converting…", CHAT, status.message_id)
    edited = bot.edit_message_text("Done", CHAT, status.message_id)
    assert status.message_id == 1000
    assert (status.chat.id, status.chat.type, status.from_user.is_bot) == (CHAT, "private", True)
    assert edited.edit_date is not None
    assert fake_api.messages_to(CHAT) == ["Queued"]
    assert [c.params["text"] for c in fake_api.calls("editMessageText", chat_id=CHAT)] == [
        "Converting…",
        "Done",
    ]
    assert fake_api.message_text(CHAT, status.message_id) == "Done"


def test_edits_of_unchanged_or_missing_messages_fail_like_telegram(
    fake_api: FakeTelegramAPI, bot: telebot.TeleBot
) -> None:
    """Editing to the same text, or a message that does not exist, is a 400 with Telegram's wording."""
    status = bot.send_message(CHAT, "Same")
    with pytest.raises(ApiTelegramException) as unchanged:
        bot.edit_message_text("Same", CHAT, status.message_id)
    with pytest.raises(ApiTelegramException) as missing:
        bot.edit_message_text("Other", CHAT, 999_999)
    assert (unchanged.value.error_code, unchanged.value.description) == (400, NOT_MODIFIED)
    assert missing.value.description == "Bad Request: message to edit not found"
    assert len(fake_api.calls("editMessageText", ok_only=False)) == 2
    assert fake_api.calls("editMessageText") == []


def test_delete_message_and_chat_action(fake_api: FakeTelegramAPI, bot: telebot.TeleBot) -> None:
    """deleteMessage forgets the message (a second delete is a 400); sendChatAction checks its action."""
    status = bot.send_message(CHAT, "Working")
    assert bot.delete_message(CHAT, status.message_id) is True
    assert fake_api.message_text(CHAT, status.message_id) is None
    with pytest.raises(ApiTelegramException, match="message to delete not found"):
        bot.delete_message(CHAT, status.message_id)
    assert bot.send_chat_action(CHAT, "upload_document") is True
    with pytest.raises(ApiTelegramException, match="wrong parameter action"):
        bot.send_chat_action(CHAT, "dancing")


def test_bot_message_ids_continue_after_the_users(fake_api: FakeTelegramAPI, bot: telebot.TeleBot) -> None:
    """Bot message ids start at 1000 per chat, and above any user message id seen in that chat."""
    fake_api.push_update(make_text_update("hi", chat_id=CHAT, message_id=1500))
    assert bot.send_message(CHAT, "reply").message_id == 1501
    assert bot.send_message(CHAT + 1, "other chat").message_id == 1000


def test_uploaded_animation_is_stored_and_downloadable(
    fake_api: FakeTelegramAPI, bot: telebot.TeleBot
) -> None:
    """sendAnimation with uploaded bytes registers a file: getFile + download return those bytes."""
    sent = bot.send_animation(CHAT, GIF, caption="Your GIF", width=1, height=1)
    animation = sent.animation
    assert (animation.mime_type, animation.file_size, animation.width) == ("image/gif", len(GIF), 1)
    assert sent.caption == "Your GIF"
    (call,) = fake_api.sent_animations(CHAT)
    assert call.files["animation"] == GIF
    assert call.file_names["animation"] == "animation"  # TeleBot names raw bytes after the field
    file = bot.get_file(animation.file_id)
    assert bot.download_file(file.file_path) == GIF
    assert bot.send_animation(CHAT, animation.file_id).animation.file_id == animation.file_id
    assert len(fake_api.sent_animations(CHAT)) == 2
    assert fake_api.calls(FILE_DOWNLOAD)[0].params == {"file_path": file.file_path}


def test_send_document_keeps_file_name_and_content_type_detection(
    fake_api: FakeTelegramAPI, bot: telebot.TeleBot
) -> None:
    """A GIF document keeps TeleBot's unquoted file name; only with detection off is it no animation."""
    name = "my clip; 東京.gif"  # TeleBot writes filename=<raw utf-8>, unquoted
    plain = bot.send_document(CHAT, GIF, visible_file_name=name, disable_content_type_detection=True)
    detected = bot.send_document(CHAT, GIF, visible_file_name=name)
    assert (plain.document.file_name, plain.document.mime_type) == (name, "image/gif")
    assert plain.animation is None
    assert detected.animation is not None
    assert [c.params.get("disable_content_type_detection") for c in fake_api.sent_animations()] == [
        "True",
        None,
    ]


def test_get_file_refuses_unknown_ids_and_files_over_20_mb(
    fake_api: FakeTelegramAPI, bot: telebot.TeleBot
) -> None:
    """getFile answers 400 'invalid file_id' for unknown ids and 400 'file is too big' above 20 MB."""
    big = fake_api.add_file(b"\x00" * 16, file_size=MAX_DOWNLOAD_BYTES + 1)
    with pytest.raises(ApiTelegramException, match="invalid file_id"):
        bot.get_file("no-such-file")
    with pytest.raises(ApiTelegramException, match="file is too big"):
        bot.get_file(big.file_id)
    with pytest.raises(ApiHTTPException):
        bot.download_file("videos/missing.mp4")


def test_injected_429_carries_retry_after(fake_api: FakeTelegramAPI, bot: telebot.TeleBot) -> None:
    """fail(429, retry_after) surfaces as ApiTelegramException 429 with parameters.retry_after, once."""
    fake_api.fail("sendMessage", 429, retry_after=7)
    with pytest.raises(ApiTelegramException) as error:
        bot.send_message(CHAT, "hello")
    assert error.value.error_code == 429
    assert error.value.description == "Too Many Requests: retry after 7"
    assert error.value.result_json["parameters"] == {"retry_after": 7}
    assert bot.send_message(CHAT, "hello").text == "hello"


def test_global_limit_answers_429_past_n_messages_a_second(
    fake_api: FakeTelegramAPI, bot: telebot.TeleBot
) -> None:
    """set_global_limit(n): the (n+1)th message method in a second, any chat, gets 429; others don't count."""
    fake_api.set_global_limit(3)
    first = bot.send_message(CHAT, "one")
    bot.edit_message_text("two", CHAT, first.message_id)
    bot.get_me()  # not a message: never limited, never counted
    bot.send_animation(CHAT + 1, GIF)
    with pytest.raises(ApiTelegramException) as error:
        bot.delete_message(CHAT, first.message_id)
    assert error.value.error_code == 429 and error.value.result_json["parameters"]["retry_after"] >= 1
    assert fake_api.global_429s == 1
    assert fake_api.busiest_second == 3  # the refused one put nothing in a chat
    fake_api.wait_for(lambda: _sends_again(bot), timeout=3, message="the window to slide on")
    assert fake_api.global_429s >= 1


def _sends_again(bot: telebot.TeleBot) -> bool:
    try:
        bot.send_message(CHAT, "again")
    except ApiTelegramException:
        return False
    return True


def test_injected_502_hits_only_its_chat_and_count(fake_api: FakeTelegramAPI, bot: telebot.TeleBot) -> None:
    """fail(502, times=2, chat_id=...) fails exactly the next two calls to that chat, others pass."""
    fake_api.fail("sendanimation", 502, times=2, chat_id=CHAT)
    assert bot.send_animation(CHAT + 1, GIF).animation is not None
    for _ in range(2):
        with pytest.raises(ApiTelegramException) as error:
            bot.send_animation(CHAT, GIF)
        assert (error.value.error_code, error.value.description) == (502, "Bad Gateway")
    assert bot.send_animation(CHAT, GIF).animation is not None
    assert [c.status for c in fake_api.calls("sendAnimation", chat_id=CHAT, ok_only=False)] == [502, 502, 200]


def test_file_downloads_can_fail_and_methods_can_be_slowed(
    fake_api: FakeTelegramAPI, bot: telebot.TeleBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    """fail('file') breaks the next download; set_delay makes a method outlast the client's timeout."""
    file = fake_api.add_file(b"video bytes")
    fake_api.fail(FILE_DOWNLOAD, 502)
    with pytest.raises(ApiHTTPException):
        bot.download_file(file.file_path)
    assert bot.download_file(file.file_path) == b"video bytes"
    fake_api.set_delay("getMe", 0.5)
    monkeypatch.setattr(apihelper, "READ_TIMEOUT", 0.1)
    with pytest.raises(requests.exceptions.ReadTimeout):
        bot.get_me()


def test_a_late_or_lost_answer_still_carries_out_the_call(
    fake_api: FakeTelegramAPI, bot: telebot.TeleBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    """answer_late: the message is sent at once; the client gets a reset, or its read timeout."""
    fake_api.answer_late("sendMessage", 0, reset=True)
    with pytest.raises(requests.exceptions.ConnectionError):
        bot.send_message(CHAT, "lost")
    fake_api.answer_late("sendMessage", 1.0)
    monkeypatch.setattr(apihelper, "READ_TIMEOUT", 0.2)
    with pytest.raises(requests.exceptions.ReadTimeout):
        bot.send_message(CHAT, "late")
    assert [c.result["text"] for c in fake_api.calls("sendMessage")] == ["lost", "late"]
    assert bot.send_message(CHAT, "on time").text == "on time"


def test_file_rate_trickles_a_download(fake_api: FakeTelegramAPI, bot: telebot.TeleBot) -> None:
    """set_file_rate(n) serves a file at about n bytes a second."""
    file = fake_api.add_file(bytes(60_000))
    fake_api.set_file_rate(100_000)
    started = time.monotonic()
    assert len(bot.download_file(file.file_path)) == 60_000
    assert 0.5 <= time.monotonic() - started < 3


def test_keep_alive_session_serves_many_calls_on_one_connection(
    fake_api: FakeTelegramAPI, bot: telebot.TeleBot
) -> None:
    """TeleBot's keep-alive session reuses one TCP connection for many calls, errors and uploads included."""
    status = bot.send_message(CHAT, "0")
    fake_api.fail("editMessageText", 502)
    with pytest.raises(ApiTelegramException):
        bot.edit_message_text("x", CHAT, status.message_id)
    for n in range(1, 40):
        bot.edit_message_text(str(n), CHAT, status.message_id)
    bot.send_animation(CHAT, GIF)
    assert fake_api.message_text(CHAT, status.message_id) == "39"
    assert fake_api.connections_opened == 1


def test_parse_modes_demand_escaped_user_strings(fake_api: FakeTelegramAPI, bot: telebot.TeleBot) -> None:
    """HTML and MarkdownV2 texts with unescaped user strings fail like Telegram; escaped ones render plain."""
    user_name = "a<b & c.mp4"
    with pytest.raises(ApiTelegramException, match="can't parse entities"):
        bot.send_message(CHAT, f"<b>Got</b> {user_name}", parse_mode="HTML")
    with pytest.raises(ApiTelegramException, match=r"Character '\.' is reserved"):
        bot.send_message(CHAT, "*Got* clip.mp4", parse_mode="MarkdownV2")
    ok = bot.send_message(CHAT, f"<b>Got</b> {html.escape(user_name)}", parse_mode="HTML")
    v2 = bot.send_message(CHAT, "*Got* clip\\.mp4", parse_mode="MarkdownV2")
    assert (ok.text, v2.text) == ("Got a<b & c.mp4", "Got clip.mp4")
    assert fake_api.messages_to(CHAT) == ["Got a<b & c.mp4", "Got clip.mp4"]


def test_json_form_and_multipart_bodies_are_parsed(fake_api: FakeTelegramAPI) -> None:
    """Parameters arrive from JSON, urlencoded and multipart bodies alike, files by field name."""
    markup = {"inline_keyboard": [[{"text": "Cancel", "callback_data": "cancel"}]]}
    as_json = raw(fake_api, "sendMessage", json={"chat_id": CHAT, "text": "json", "reply_markup": markup})
    as_form = raw(fake_api, "sendMessage", data={"chat_id": str(CHAT), "text": "form"})
    upload = raw(
        fake_api,
        "sendDocument",
        data={"chat_id": str(CHAT)},
        files={"document": ("a b.gif", GIF, "image/gif")},
    )
    assert as_json.json()["result"]["reply_markup"] == markup
    assert as_form.json()["result"]["text"] == "form"
    assert upload.json()["result"]["document"]["file_name"] == "a b.gif"
    (call,) = fake_api.calls("sendDocument", chat_id=CHAT)
    assert (call.files, call.file_names) == ({"document": GIF}, {"document": "a b.gif"})


def test_factory_updates_parse_as_telebot_types(fake_api: FakeTelegramAPI, bot: telebot.TeleBot) -> None:
    """Every factory builds an Update TeleBot understands; a pushed callback query can be answered once."""
    file = fake_api.add_file(b"mp4")
    updates = [
        make_video_update(file),
        make_video_update(file, kind="animation"),
        make_video_update(file, kind="video_note"),
        make_video_update(file, kind="document", file_name="raw.mov", mime_type="video/quicktime"),
        make_document_update(file),
        make_photo_update(),
        make_text_update("/start"),
        make_callback_update("cancel"),
    ]
    fake_api.push_updates(updates)
    parsed = bot.get_updates(long_polling_timeout=1)
    kinds = [u.message.content_type for u in parsed[:-1]]
    assert kinds == ["video", "animation", "video_note", "document", "document", "photo", "text"]
    assert parsed[0].message.video.file_id == file.file_id
    assert parsed[6].message.entities[0].type == "bot_command"
    query = parsed[-1].callback_query
    assert (query.data, query.message.from_user.is_bot) == ("cancel", True)
    assert bot.answer_callback_query(query.id) is True
    with pytest.raises(ApiTelegramException, match="query is too old"):
        bot.answer_callback_query(query.id)


def test_wait_for_returns_the_value_or_fails_with_a_call_summary(
    fake_api: FakeTelegramAPI, bot: telebot.TeleBot
) -> None:
    """wait_for returns the predicate's truthy value; on timeout it raises with the recorded calls."""
    bot.send_message(CHAT, "hi")
    assert fake_api.wait_for(lambda: fake_api.messages_to(CHAT), timeout=1) == ["hi"]
    with pytest.raises(
        AssertionError, match=r"no GIF within 0.1s; 1 calls recorded: sendMessage\(chat=4242\)->200"
    ):
        fake_api.wait_for(lambda: fake_api.sent_animations(), timeout=0.1, message="no GIF")


def test_privacy_mode_shows_a_group_only_commands_mentions_and_replies_to_the_bot(
    bot: telebot.TeleBot, fake_api: FakeTelegramAPI
) -> None:
    """With privacy mode on, plain group chatter and /cmd@otherbot stay back; the rest arrives."""
    fake_api.set_privacy_mode(True)
    group = make_chat(-5, chat_type="group")
    said = {
        "/gif": True,
        "/gif@GIF_test_bot 3-8": True,
        "/gif@other_bot": False,
        "hello": False,
        "hi @gif_test_bot": True,
    }
    fake_api.push_updates([make_text_update(t, chat_id=-5, chat=group) for t in said])
    bots_message = {"message_id": 999, "from": fake_api.bot_user, "chat": group, "date": 0, "text": "hi"}
    fake_api.push_update(make_reply_update("thanks", bots_message))
    fake_api.push_update(make_text_update("hello", user_id=CHAT))  # a private chat: always
    got = [u.message.text for u in bot.get_updates(timeout=0)]
    assert got == [t for t, shown in said.items() if shown] + ["thanks", "hello"]
    assert [u["message"]["text"] for u in fake_api.withheld()] == ["/gif@other_bot", "hello"]


def test_get_chat_member_answers_the_status_set_for_the_user(
    bot: telebot.TeleBot, fake_api: FakeTelegramAPI
) -> None:
    """getChatMember: creator and administrator as set, anyone else a plain member."""
    fake_api.set_chat_member(-5, 1, "creator")
    fake_api.set_chat_member(-5, 2, "administrator")
    assert [bot.get_chat_member(-5, user).status for user in (1, 2, 3)] == [
        "creator",
        "administrator",
        "member",
    ]
