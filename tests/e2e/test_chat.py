"""The chat experience: live progress, settings, trim, cache, /cancel, /stats and two languages."""

from __future__ import annotations

import itertools
import subprocess
from pathlib import Path

import pytest
from rq.job import JobStatus

from core.texts import ZH, text
from tests import factories, media
from tests.fakes.telegram_api import FILE_DOWNLOAD
from tests.gifcheck import all_done, gif_info, job_status
from tests.services import wait_until
from tests.textmatch import matches

_user_ids = itertools.count(50_000)
CHAT_METHODS = ("sendMessage", "editMessageText", "sendAnimation", "sendDocument", "deleteMessage")


def send_video(fake_api, data: bytes, user: int, *, record=None, **overrides) -> tuple[int, int, object]:
    """Push one video update from `user`; returns (chat, message id, file record)."""
    record = record or fake_api.add_file(data)
    update = factories.make_video_update(record, user_id=user, chat_id=user, **overrides)
    fake_api.push_update(update)
    return user, update["message"]["message_id"], record


def press(fake_api, user: int, data: str, language_code: str = "en") -> None:
    """Press an inline button and wait for the bot to answer it."""
    before = len(fake_api.calls("answerCallbackQuery"))
    fake_api.push_update(factories.make_callback_update(data, user_id=user, language_code=language_code))
    fake_api.wait_for(
        lambda: len(fake_api.calls("answerCallbackQuery")) > before, timeout=20, message="answer"
    )


def gif_of(fake_api, chat: int) -> bytes:
    [sent] = fake_api.wait_for(lambda: fake_api.sent_animations(chat), timeout=90, message="the GIF")
    return next(iter(sent.files.values()))


def chat_calls(fake_api, chat: int) -> list:
    return [c for c in fake_api.calls(chat_id=chat) if c.method in CHAT_METHODS]


@pytest.fixture
def slow_clip(tmp_path: Path) -> bytes:
    """A clip that takes a few seconds to convert (progress has time to show)."""
    return media.make_clip(tmp_path, "slow.mp4", seconds=12, size=(1280, 720), fps=30).read_bytes()


def test_status_moves_in_order_no_faster_than_one_edit_a_second(stack, fake_api, redis_client, slow_clip):
    """Status steps only move forward, ≥ ~1 s apart, then the GIF (one message a second on average)."""
    stack.bot()
    stack.worker()
    fake_api.set_delay(FILE_DOWNLOAD, 1.5)  # a slow download: the chat is free again when converting starts
    chat, _msg, _ = send_video(fake_api, slow_clip, next(_user_ids))
    gif_of(fake_api, chat)
    fake_api.wait_for(
        lambda: fake_api.calls("deleteMessage", chat_id=chat), timeout=30, message="status removed"
    )
    calls = chat_calls(fake_api, chat)
    texts = [c.params.get("text", "") for c in calls if c.method in ("sendMessage", "editMessageText")]
    stages = ["status_queued", "status_downloading", "status_converting", "status_uploading"]
    shown = [next(i for i, key in enumerate(stages) if matches(key, t)) for t in texts]
    assert shown[0] == 0 and shown == sorted(shown), f"status steps out of order: {texts}"
    percents = [int(t.rsplit(" ", 1)[1].rstrip("%")) for t in texts if matches("status_converting", t)]
    assert percents and percents == sorted(percents), f"converting ticks: {percents}"
    assert [c.method for c in calls][-2:] == ["sendAnimation", "deleteMessage"]
    steps = [c for c in calls if c.method in ("sendMessage", "editMessageText")]
    gaps = [b.at - a.at for a, b in itertools.pairwise(steps)]
    # steps take 1.05 s slots; arrival can jitter a little on a loaded machine
    assert min(gaps) >= 0.85, f"gaps between status steps: {gaps}"
    window = calls[-2].at - calls[0].at  # from the first reply to the GIF
    assert len(calls) - 2 <= window / 1.0 + 1, "more than one message a second on average (+1 burst)"


def test_a_small_video_shows_no_download_or_upload_step_before_its_gif(stack, fake_api, clip_bytes):
    """A small video gets no "downloading" or "uploading" edit before its GIF, even with its chat free."""
    stack.bot()
    stack.worker()
    fake_api.set_delay("sendMessage", 1.2)  # the job starts with the chat's slot free again
    chat, _msg, _ = send_video(fake_api, clip_bytes, next(_user_ids))
    gif_of(fake_api, chat)
    texts = [c.params.get("text", "") for c in chat_calls(fake_api, chat) if c.method == "editMessageText"]
    assert not [t for t in texts if matches("status_downloading", t) or matches("status_uploading", t)], texts


def marker_x(gif: bytes, frame: int, tmp: Path) -> float:
    """The white square's mean x in one GIF frame (the marker moves right as time passes)."""
    path = tmp / "m.gif"
    path.write_bytes(gif)
    info = gif_info(gif)
    raw = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(path), "-vf", "format=gray", "-f", "rawvideo", "-"],
        check=True,
        capture_output=True,
    ).stdout
    size = info.width * info.height
    pixels = raw[frame * size : (frame + 1) * size] if frame >= 0 else raw[len(raw) - size :]
    xs = [i % info.width for i, v in enumerate(pixels) if v > 200]
    return sum(xs) / len(xs)


def test_each_setting_changes_the_gif(stack, fake_api, redis_client, tmp_path: Path):
    """Width, fps, length cap, speed, reverse and the .gif-file output all do what the menu says."""
    stack.bot()
    stack.worker()
    clip = media.make_clip(tmp_path, "c.mp4", seconds=8, size=(640, 360), fps=25).read_bytes()
    marker = media.make_moving_marker(tmp_path, seconds=2).read_bytes()
    cases = {
        "set:width:320": lambda g: gif_info(g).width == 320,
        "set:fps:20": lambda g: abs(gif_info(g).frames / gif_info(g).duration - 20) < 1.5,
        "set:max_seconds:5": lambda g: 4.5 <= gif_info(g).duration <= 5.2,
        "set:speed:2": lambda g: 3.5 <= gif_info(g).duration <= 4.2,
    }
    for button, check in cases.items():
        user = next(_user_ids)
        press(fake_api, user, button)
        chat, _, _ = send_video(fake_api, clip, user)
        assert check(gif_of(fake_api, chat)), f"{button} did not change the GIF"
    user = next(_user_ids)
    press(fake_api, user, "set:reverse:1")
    chat, _, _ = send_video(fake_api, marker, user)
    gif = gif_of(fake_api, chat)
    assert marker_x(gif, 0, tmp_path) > marker_x(gif, -1, tmp_path) + 50, (
        "reversed GIF should start at the end"
    )
    user = next(_user_ids)
    press(fake_api, user, "set:output:document")
    chat, _, _ = send_video(fake_api, clip, user)
    [doc] = fake_api.wait_for(
        lambda: fake_api.calls("sendDocument", chat_id=chat), timeout=90, message="a .gif file"
    )
    assert doc.params.get("disable_content_type_detection") == "True"
    assert next(iter(doc.files.values()))[:6] == b"GIF89a"


def test_forged_settings_buttons_change_nothing(stack, fake_api, redis_client, clip_bytes):
    """Callback data outside the menus is answered politely and stores nothing."""
    stack.bot()
    user = next(_user_ids)
    for data in ("set:width:99999", "set:evil:1", "set:width", "x" * 64):
        press(fake_api, user, data)
    answers = [c.params.get("text") for c in fake_api.calls("answerCallbackQuery")]
    assert answers == [text("button_expired")] * 4
    assert not redis_client.keys(f"gifbot:prefs:{user}")


def test_caption_trim_converts_just_that_window(stack, fake_api, redis_client, tmp_path: Path):
    """A caption 0:01-0:03 gives a 2 s GIF; a backwards range gets a clear reply and no job."""
    stack.bot()
    stack.worker()
    clip = media.make_clip(tmp_path, "c.mp4", seconds=6, size=(320, 180)).read_bytes()
    chat, _, _ = send_video(fake_api, clip, next(_user_ids), caption="0:01-0:03")
    assert 1.8 <= gif_info(gif_of(fake_api, chat)).duration <= 2.2
    bad, _, _ = send_video(fake_api, clip, next(_user_ids), caption="5-2")
    fake_api.wait_for(
        lambda: text("error_trim") in fake_api.messages_to(bad), timeout=20, message="trim reply"
    )
    assert not fake_api.sent_animations(bad)


def test_repeat_is_answered_from_cache_without_converting(stack, fake_api, redis_client, clip_bytes):
    """The same video with the same settings comes back by file_id in under a second, no download."""
    stack.bot()
    stack.worker()
    chat, msg, record = send_video(fake_api, clip_bytes, next(_user_ids))
    gif_of(fake_api, chat)
    wait_until(lambda: all_done(redis_client, [(chat, msg)]), timeout=30, what="first job ended")
    downloads = len(fake_api.calls("getFile"))
    other = next(_user_ids)
    pushed = fake_api.push_update(factories.make_video_update(record, user_id=other, chat_id=other))
    [again] = fake_api.wait_for(lambda: fake_api.sent_animations(other), timeout=10, message="cached GIF")
    served = [
        c
        for c in fake_api.calls("getUpdates")
        if c.result and any(u["update_id"] == pushed for u in c.result)
    ]
    assert again.at - served[0].at < 1.0
    assert not again.files, "sent by file_id, not uploaded again"
    assert len(fake_api.calls("getFile")) == downloads, "no download, so no conversion"


def test_cancel_stops_a_queued_and_a_running_video(stack, fake_api, redis_client, clip_bytes, slow_clip):
    """/cancel of a queued video (no worker yet) and of a running one: no GIF, clear replies."""
    stack.bot()
    queued_user = next(_user_ids)
    chat, _, _ = send_video(fake_api, clip_bytes, queued_user)
    fake_api.wait_for(lambda: fake_api.calls("sendMessage", chat_id=chat), timeout=20, message="status")
    fake_api.push_update(factories.make_text_update("/cancel", user_id=queued_user, chat_id=queued_user))
    fake_api.wait_for(
        lambda: text("cancelled", count=1) in fake_api.messages_to(chat), timeout=20, message="ok"
    )
    stack.worker()
    running_user = next(_user_ids)
    fake_api.set_delay(FILE_DOWNLOAD, 30)  # the job runs (in its download) until we cancel it
    run_chat, run_msg, _ = send_video(fake_api, slow_clip, running_user)
    wait_until(
        lambda: job_status(redis_client, run_chat, run_msg) == JobStatus.STARTED, timeout=60, what="running"
    )
    fake_api.push_update(factories.make_text_update("/cancel", user_id=running_user, chat_id=running_user))
    fake_api.wait_for(
        lambda: text("cancelled", count=1) in fake_api.messages_to(run_chat), timeout=20, message="stop"
    )
    wait_until(
        lambda: not redis_client.zcard(f"gifbot:user:{running_user}:active"), timeout=30, what="slot freed"
    )
    assert fake_api.message_text(
        chat, fake_api.calls("sendMessage", chat_id=chat)[0].result["message_id"]
    ) == text("cancelled_one")
    assert not fake_api.sent_animations(chat) and not fake_api.sent_animations(run_chat)
    assert job_status(redis_client, run_chat, run_msg) == JobStatus.STOPPED


@pytest.mark.parametrize("code", ["zh-hant", "zh-tw"])
def test_traditional_chinese_users_get_traditional_chinese(stack, fake_api, redis_client, clip_bytes, code):
    """language_code zh-hant / zh-tw: help, status and errors come in Traditional Chinese."""
    stack.bot()
    stack.worker()
    user = next(_user_ids)
    fake_api.push_update(factories.make_text_update("/help", user_id=user, chat_id=user, language_code=code))
    fake_api.push_update(factories.make_text_update("hello", user_id=user, chat_id=user, language_code=code))
    chat, _, _ = send_video(fake_api, clip_bytes, user, language_code=code)
    gif_of(fake_api, chat)
    replies = fake_api.wait_for(
        lambda: len(fake_api.messages_to(chat)) >= 3 and fake_api.messages_to(chat),
        timeout=20,
        message="three replies",
    )
    assert replies[0].startswith(text("help", ZH, max_mb=20, max_seconds=30, width=480, fps=12)[:10])
    assert replies[1] == text("not_video", ZH)
    assert matches("status_queued", replies[2], ZH)


def test_stats_command_shows_my_numbers(stack, fake_api, redis_client, clip_bytes):
    """/stats after one delivered GIF shows one video and one GIF."""
    stack.bot()
    stack.worker()
    user = next(_user_ids)
    chat, msg, _ = send_video(fake_api, clip_bytes, user)
    gif_of(fake_api, chat)
    wait_until(lambda: all_done(redis_client, [(chat, msg)]), timeout=30, what="job ended")
    fake_api.push_update(factories.make_text_update("/stats", user_id=user, chat_id=user))
    reply = fake_api.wait_for(
        lambda: [m for m in fake_api.messages_to(chat) if matches("my_stats", m)], timeout=20
    )
    assert "1 videos sent, 1 GIFs delivered, 0 failed" in reply[0]
