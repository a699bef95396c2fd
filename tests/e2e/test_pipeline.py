"""A video sent to the bot comes back as a GIF: real bot and worker processes, Redis, ffmpeg."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from core import groups
from core.texts import text
from tests import factories, media
from tests.gifcheck import all_done, gif_info
from tests.services import wait_until
from tests.textmatch import matches

_user_ids = itertools.count(70_000)


def send_videos(fake_api, clip: bytes, count: int, **overrides) -> list[tuple[int, int]]:
    """Push `count` video updates from distinct users in one batch; return (chat, message) pairs."""
    updates = []
    for _ in range(count):
        user = next(_user_ids)
        record = fake_api.add_file(clip)
        updates.append(factories.make_video_update(record, user_id=user, chat_id=user, **overrides))
    fake_api.push_updates(updates)
    return [(u["message"]["chat"]["id"], u["message"]["message_id"]) for u in updates]


def gif_bytes(call) -> bytes:
    return next(iter(call.files.values()))


def test_one_video_comes_back_as_exactly_one_gif(stack, fake_api, redis_client, clip_bytes):
    """One user's mp4 becomes exactly one valid GIF (>= 2 frames, <= 480 px) in that chat."""
    stack.bot()
    stack.worker()
    [(chat, msg)] = send_videos(fake_api, clip_bytes, 1)
    fake_api.wait_for(lambda: fake_api.sent_animations(chat), timeout=60, message="GIF sent")
    wait_until(lambda: all_done(redis_client, [(chat, msg)]), timeout=30, what="job ended")
    [sent] = fake_api.sent_animations(chat)
    info = gif_info(gif_bytes(sent))
    assert info.frames >= 2
    assert 0 < info.width <= 480
    assert sent.params.get("reply_parameters") and str(msg) in sent.params["reply_parameters"]
    assert fake_api.calls("sendMessage", chat_id=chat), "the user got an immediate status reply"


def test_the_job_starts_while_the_status_reply_is_still_on_its_way(stack, fake_api, redis_client, clip_bytes):
    """The bot queues a video before it replies: the worker asks for the file before the reply is
    answered, and the status message still goes once the GIF is there (one GIF, no reply left).
    A reply slower than the whole job (here 3 s) is deleted by the bot itself once it has its id."""
    stack.bot()
    stack.worker()
    for delay_s in (1.0, 3.0):  # 1 s: a margin for a first job on a busy box
        fake_api.set_delay("sendMessage", delay_s)
        [(chat, msg)] = send_videos(fake_api, clip_bytes, 1)
        fake_api.wait_for(lambda chat=chat: fake_api.sent_animations(chat), timeout=60, message="GIF sent")
        wait_until(
            lambda chat=chat, msg=msg: all_done(redis_client, [(chat, msg)]), timeout=30, what="job ended"
        )
        replied = lambda chat=chat: fake_api.calls("sendMessage", chat_id=chat)  # noqa: E731
        fake_api.wait_for(replied, timeout=30, message="status reply answered")
        [reply] = replied()
        [asked] = fake_api.calls("getFile")[-1:]
        assert asked.started < reply.at, "the download began before the status reply was answered"
        status_id = reply.result["message_id"]
        wait_until(
            lambda chat=chat, i=status_id: fake_api.message(chat, i) is None, 30, what="status deleted"
        )
        assert len(fake_api.sent_animations(chat)) == 1
    fake_api.set_delay("sendMessage", 0)


def test_a_failure_told_before_the_status_reply_is_the_only_message_left(stack, fake_api, tmp_path: Path):
    """A broken file fails faster than a slow status reply (3 s): the error comes in a reply of its
    own after a while, and the status reply, once out, is deleted: the chat shows the error alone."""
    stack.bot()
    stack.worker(RETRY_INTERVAL="1")
    fake_api.set_delay("sendMessage", 3.0)
    [(chat, _msg)] = send_videos(fake_api, media.make_garbage(tmp_path).read_bytes(), 1)

    def shown() -> list[str | None]:
        return [
            fake_api.message_text(chat, c.result["message_id"]) for c in fake_api.calls("sendMessage", chat)
        ]

    fake_api.wait_for(lambda: len(shown()) == 2, timeout=60, message="the status reply and the error")
    fake_api.set_delay("sendMessage", 0)
    error = text("error_not_video")
    wait_until(lambda: [t for t in shown() if t is not None] == [error], 30, what="the error alone")
    assert not fake_api.sent_animations(chat)


@pytest.mark.parametrize(
    ("kind", "mime_type", "webm"),
    [
        ("video", "video/mp4", False),
        ("animation", "video/mp4", False),
        ("video_note", "video/mp4", False),
        ("document", "video/mp4", False),
        ("document", "video/webm", True),
    ],
)
def test_each_accepted_kind_becomes_a_gif(stack, fake_api, clip_bytes, tmp_path: Path, kind, mime_type, webm):
    """Videos, animations, round video notes and video documents (mp4, webm) all become GIFs."""
    data = media.make_webm(tmp_path).read_bytes() if webm else clip_bytes
    stack.bot()
    stack.worker()
    [(chat, _msg)] = send_videos(fake_api, data, 1, kind=kind, mime_type=mime_type)
    [sent] = fake_api.wait_for(lambda: fake_api.sent_animations(chat), timeout=60, message=f"GIF for {kind}")
    assert gif_info(gif_bytes(sent)).frames >= 2


def test_ten_users_at_once_each_get_their_own_gif_once(stack, fake_api, redis_client, clip_bytes):
    """Ten users at once with two workers: ten GIFs, each in its own chat, none twice."""
    stack.bot()
    stack.worker()
    stack.worker()
    messages = send_videos(fake_api, clip_bytes, 10)
    chats = {chat for chat, _ in messages}
    fake_api.wait_for(lambda: len(fake_api.sent_animations()) >= 10, timeout=120, message="10 GIFs")
    wait_until(lambda: all_done(redis_client, messages), timeout=60, what="all jobs ended")
    per_chat = {chat: len(fake_api.sent_animations(chat)) for chat in chats}
    assert per_chat == dict.fromkeys(chats, 1)
    assert len(fake_api.sent_animations()) == 10


@pytest.mark.slow  # 73 s; the default tier keeps the 30-user budget burst and the 20-video overtake
def test_burst_of_100_users_in_one_batch_all_get_gifs(stack, fake_api, redis_client, clip_bytes):
    """100 users in one getUpdates batch: each is acknowledged, each gets one GIF, nothing dies."""
    procs = [stack.bot(), stack.worker(), stack.worker()]
    messages = send_videos(fake_api, clip_bytes, 100)
    chats = [chat for chat, _ in messages]
    fake_api.wait_for(
        lambda: all(fake_api.calls("sendMessage", chat_id=c) for c in chats),
        timeout=60,
        message="every user acknowledged",
    )
    fake_api.wait_for(lambda: len(fake_api.sent_animations()) >= 100, timeout=400, message="100 GIFs")
    wait_until(lambda: all_done(redis_client, messages), timeout=60, what="all jobs ended")
    assert sorted(int(c.chat_id) for c in fake_api.sent_animations()) == sorted(chats)
    assert all(p.alive() for p in procs), "a process died during the burst"


def test_transient_failures_are_retried_until_the_gif_arrives(stack, fake_api, redis_client, clip_bytes):
    """getFile failing twice (502) is retried: the GIF arrives after the third attempt."""
    stack.bot()
    stack.worker()
    fake_api.fail("getFile", 502, times=2)
    [(chat, msg)] = send_videos(fake_api, clip_bytes, 1)
    [sent] = fake_api.wait_for(
        lambda: fake_api.sent_animations(chat), timeout=90, message="GIF after retries"
    )
    assert gif_info(gif_bytes(sent)).frames >= 2
    attempts = fake_api.calls("getFile", ok_only=False)
    assert [c.status for c in attempts] == [502, 502, 200]
    wait_until(lambda: all_done(redis_client, [(chat, msg)]), timeout=30, what="job ended")
    assert len(fake_api.sent_animations(chat)) == 1


@pytest.mark.parametrize("make_update", ["text", "photo", "pdf"])
def test_text_photo_and_pdf_get_a_reply_and_no_job(stack, fake_api, redis_client, make_update):
    """Text, a photo and a PDF document get a friendly reply and queue nothing."""
    stack.bot()
    user = next(_user_ids)
    if make_update == "text":
        update = factories.make_text_update("hello there", user_id=user, chat_id=user)
    elif make_update == "photo":
        update = factories.make_photo_update(user_id=user, chat_id=user)
    else:
        record = fake_api.add_file(b"%PDF-1.4\n%fake\n", file_path="documents/file.pdf")
        update = factories.make_document_update(
            record, mime_type="application/pdf", file_name="a.pdf", user_id=user, chat_id=user
        )
    fake_api.push_update(update)
    [reply] = fake_api.wait_for(lambda: fake_api.messages_to(user), timeout=30, message="a reply")
    assert "video" in reply.lower()
    assert not [k for k in redis_client.keys("rq:job:*")], "no job was queued"


def test_in_a_group_chatter_is_ignored_but_videos_become_gifs(stack, fake_api, redis_client, clip_bytes):
    """In a group whose admins turned on "every video", text gets no reply (no spam) while a video
    still comes back as a GIF."""
    stack.bot()
    stack.worker()
    group, user = -100_777, next(_user_ids)
    groups.set_every_video(redis_client, group, True)
    fake_api.push_update(factories.make_text_update("lol nice", user_id=user, chat_id=group))
    record = fake_api.add_file(clip_bytes)
    fake_api.push_update(factories.make_video_update(record, user_id=user, chat_id=group))
    fake_api.wait_for(lambda: fake_api.sent_animations(group), timeout=60, message="GIF in the group")
    texts = [c.params.get("text") for c in fake_api.calls("sendMessage", chat_id=group)]
    assert texts and all(matches("status_queued", t) for t in texts), texts
