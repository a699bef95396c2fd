"""Builders of Telegram Update JSON for tests: sensible defaults, every field a keyword override.

Updates carry no update_id unless given: `FakeTelegramAPI.push_update` assigns one.
Message-level keyword overrides (`**overrides`) are merged into the message last, so they win.
"""

from __future__ import annotations

import itertools
import time
from typing import Any

from tests.fakes.telegram_api import DEFAULT_TOKEN, FileRecord

Json = dict[str, Any]

DEFAULT_USER_ID = 4242
BOT_USER: Json = {
    "id": int(DEFAULT_TOKEN.split(":")[0]),
    "is_bot": True,
    "first_name": "GIF Test Bot",
    "username": "gif_test_bot",
}
VIDEO_KINDS = ("video", "animation", "video_note", "document")

_message_ids = itertools.count(1)
_callback_ids = itertools.count(1)


def next_message_id() -> int:
    """Return a message_id no other factory call has returned."""
    return next(_message_ids)


def make_user(user_id: int = DEFAULT_USER_ID, *, language_code: str = "en", **overrides: Any) -> Json:
    """Build a User (a human, not a bot)."""
    user = {
        "id": user_id,
        "is_bot": False,
        "first_name": "Ada",
        "last_name": "Lovelace",
        "username": f"user{user_id}",
        "language_code": language_code,
    }
    return {**user, **overrides}


def make_chat(chat_id: int = DEFAULT_USER_ID, *, chat_type: str = "private", **overrides: Any) -> Json:
    """Build a Chat; a private chat by default (its id equals the user's)."""
    chat: Json = {"id": chat_id, "type": chat_type}
    if chat_type == "private":
        chat.update(first_name="Ada", last_name="Lovelace", username=f"user{chat_id}")
    else:
        chat["title"] = f"Test {chat_type} {chat_id}"
    return {**chat, **overrides}


def make_message(
    *,
    user_id: int = DEFAULT_USER_ID,
    chat_id: int | None = None,
    message_id: int | None = None,
    language_code: str = "en",
    date: int | None = None,
    **overrides: Any,
) -> Json:
    """Build a Message from a user; content fields (text, video, ...) come as overrides."""
    chat_id = user_id if chat_id is None else chat_id
    message = {
        "message_id": next_message_id() if message_id is None else message_id,
        "from": make_user(user_id, language_code=language_code),
        "chat": make_chat(chat_id, chat_type="private" if chat_id > 0 else "supergroup"),
        "date": int(time.time()) if date is None else date,
    }
    return {**message, **overrides}


def make_update(*, update_id: int | None = None, **fields: Any) -> Json:
    """Wrap fields (message=..., callback_query=...) in an Update."""
    return fields if update_id is None else {"update_id": update_id, **fields}


def make_text_update(
    text: str,
    *,
    user_id: int = DEFAULT_USER_ID,
    chat_id: int | None = None,
    message_id: int | None = None,
    language_code: str = "en",
    update_id: int | None = None,
    **overrides: Any,
) -> Json:
    """Build a text-message Update; a leading /command gets its bot_command entity, as on Telegram."""
    content: Json = {"text": text}
    if text.startswith("/"):
        length = len(text.split(maxsplit=1)[0])
        content["entities"] = [{"type": "bot_command", "offset": 0, "length": length}]
    message = make_message(
        user_id=user_id, chat_id=chat_id, message_id=message_id, language_code=language_code, **content
    )
    return make_update(update_id=update_id, message={**message, **overrides})


def media_object(
    file: FileRecord,
    *,
    kind: str = "video",
    mime_type: str = "video/mp4",
    file_name: str = "clip.mp4",
    width: int = 640,
    height: int = 360,
    duration: int = 5,
) -> Json:
    """Build the Video / Animation / VideoNote / Document JSON for a file."""
    base: Json = {"file_id": file.file_id, "file_unique_id": file.file_unique_id, "file_size": file.file_size}
    if kind == "video_note":  # square, no name or MIME type
        return {**base, "length": width, "duration": duration}
    named = {**base, "file_name": file_name, "mime_type": mime_type}
    if kind == "document":
        return named
    if kind in ("video", "animation"):
        return {**named, "width": width, "height": height, "duration": duration}
    raise ValueError(f"kind must be one of {VIDEO_KINDS}, not {kind!r}")


def make_video_update(
    file: FileRecord,
    *,
    kind: str = "video",
    mime_type: str = "video/mp4",
    file_name: str = "clip.mp4",
    caption: str | None = None,
    width: int = 640,
    height: int = 360,
    duration: int = 5,
    user_id: int = DEFAULT_USER_ID,
    chat_id: int | None = None,
    message_id: int | None = None,
    language_code: str = "en",
    update_id: int | None = None,
    **overrides: Any,
) -> Json:
    """Build an Update whose message carries `file` as a video, animation, video_note or document."""
    media = media_object(
        file,
        kind=kind,
        mime_type=mime_type,
        file_name=file_name,
        width=width,
        height=height,
        duration=duration,
    )
    content: Json = {kind: media}
    if kind == "animation":  # Telegram also sends an animation as a document, for old clients
        content["document"] = media_object(file, kind="document", mime_type=mime_type, file_name=file_name)
    if caption is not None:
        content["caption"] = caption
    message = make_message(
        user_id=user_id, chat_id=chat_id, message_id=message_id, language_code=language_code, **content
    )
    return make_update(update_id=update_id, message={**message, **overrides})


def make_document_update(
    file: FileRecord,
    mime_type: str = "application/pdf",
    file_name: str = "notes.pdf",
    **kwargs: Any,
) -> Json:
    """Build an Update with `file` sent as a document (by default a PDF, i.e. not a video)."""
    return make_video_update(file, kind="document", mime_type=mime_type, file_name=file_name, **kwargs)


def make_photo_update(
    file: FileRecord | None = None,
    *,
    width: int = 1280,
    height: int = 720,
    caption: str | None = None,
    user_id: int = DEFAULT_USER_ID,
    chat_id: int | None = None,
    message_id: int | None = None,
    language_code: str = "en",
    update_id: int | None = None,
    **overrides: Any,
) -> Json:
    """Build a photo Update: a thumbnail size plus the full size (from `file` when given)."""
    full = (
        FileRecord("AgACAgIAAxkBAAIphoto", "AQADphoto", 123_456, "photos/file_0.jpg")
        if file is None
        else file
    )
    sizes = [
        {"file_id": full.file_id + "-s", "file_unique_id": full.file_unique_id + "-s", "file_size": 1_234,
         "width": 90, "height": max(1, 90 * height // width)},
        {"file_id": full.file_id, "file_unique_id": full.file_unique_id, "file_size": full.file_size,
         "width": width, "height": height},
    ]  # fmt: skip
    content: Json = {"photo": sizes}
    if caption is not None:
        content["caption"] = caption
    message = make_message(
        user_id=user_id, chat_id=chat_id, message_id=message_id, language_code=language_code, **content
    )
    return make_update(update_id=update_id, message={**message, **overrides})


def make_callback_update(
    data: str,
    *,
    user_id: int = DEFAULT_USER_ID,
    chat_id: int | None = None,
    message_id: int | None = None,
    message_text: str = "Choose:",
    callback_id: str | None = None,
    language_code: str = "en",
    update_id: int | None = None,
    **overrides: Any,
) -> Json:
    """Build a callback_query Update: the user pressed a button carrying `data` on a bot message."""
    chat_id = user_id if chat_id is None else chat_id
    bot_message = {
        "message_id": next_message_id() if message_id is None else message_id,
        "from": BOT_USER,
        "chat": make_chat(chat_id, chat_type="private" if chat_id > 0 else "supergroup"),
        "date": int(time.time()),
        "text": message_text,
    }
    query = {
        "id": str(callback_id or f"{user_id}{next(_callback_ids):08d}"),
        "from": make_user(user_id, language_code=language_code),
        "message": bot_message,
        "chat_instance": f"-{chat_id}77",
        "data": data,
    }
    return make_update(update_id=update_id, callback_query={**query, **overrides})


def make_reply_update(
    text: str,
    replied: Json,
    *,
    user_id: int = DEFAULT_USER_ID,
    language_code: str = "en",
    update_id: int | None = None,
    **overrides: Any,
) -> Json:
    """Build a text Update (e.g. "/gif 3-8") sent in reply to `replied`, a Message, in its chat."""
    chat = replied["chat"]
    return make_text_update(
        text,
        user_id=user_id,
        chat_id=chat["id"],
        language_code=language_code,
        update_id=update_id,
        chat=chat,
        reply_to_message=replied,
        **overrides,
    )


def make_press_update(
    message: Json,
    data: str,
    *,
    user_id: int = DEFAULT_USER_ID,
    language_code: str = "en",
    update_id: int | None = None,
) -> Json:
    """Build a callback_query Update: `user_id` pressed a button carrying `data` under `message`
    (a Message the bot sent, e.g. `FakeTelegramAPI.message(chat, id)`)."""
    chat_id = message["chat"]["id"]
    return make_callback_update(
        data,
        user_id=user_id,
        chat_id=chat_id,
        language_code=language_code,
        update_id=update_id,
        message=message,
    )
