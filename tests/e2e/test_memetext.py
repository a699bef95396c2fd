"""/text and `>` captions through the real bot and worker: words drawn on the GIF, kept out of jobs."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

from rq.job import Job
from rq.serializers import JSONSerializer

from core import keys
from core.memetext import MAX_CHARS, MemeText
from core.models import job_id_for
from core.texts import ZH, text
from tests import factories, textdraw
from tests.gifcheck import all_done
from tests.services import wait_until

_user_ids = itertools.count(76_000)
HOSTILE = "it's: [a];b, c=d | %{pts} \\ ,x"  # filter-graph syntax: must be drawn as it is


def reply_with(command: str, video: dict, **kwargs) -> dict:
    """A text message (a /command) sent in reply to the message holding `video`."""
    return factories.make_text_update(command, reply_to_message=video, **kwargs)


def transcript(fake_api, chat: int) -> list[str]:
    """What the bot did in a chat, call by call (for the report)."""
    lines = []
    for call in fake_api.calls(chat_id=chat):
        said = call.params.get("text") or call.params.get("caption") or ""
        reply = json.loads(call.params.get("reply_parameters") or "{}").get("message_id", "")
        gif = f" [GIF {len(next(iter(call.files.values())))} B]" if call.files else ""
        lines.append(f"{call.method}(reply_to={reply}){gif} {said}".rstrip())
    return lines


def test_text_in_reply_and_a_caption_draw_the_words_on_the_gif(stack, fake_api, redis_client, tmp_path: Path):
    """/text in reply (filter syntax in English, Traditional Chinese from a zh-TW user) and a `>`
    caption come back drawn exactly as written, each GIF replying to its video; the words never
    enter the job and are deleted once it ends."""
    clip = textdraw.flat_clip(tmp_path)
    plain = textdraw.gif_of(clip, tmp_path / "plain.gif", None, "en", tmp_path)
    stack.bot()
    stack.worker()
    en, zh, captioner = next(_user_ids), next(_user_ids), next(_user_ids)
    video = factories.make_video_update(fake_api.add_file(clip.read_bytes()), user_id=en)["message"]
    zh_video = factories.make_video_update(fake_api.add_file(clip.read_bytes()), user_id=zh)["message"]
    updates = [
        reply_with(f"/text {HOSTILE}", video, user_id=en),
        reply_with("/text 繁體中文 | 直角骨頭", zh_video, user_id=zh, language_code="zh-TW"),
        factories.make_video_update(
            fake_api.add_file(clip.read_bytes()), user_id=captioner, caption=">TOP TEXT | BOTTOM TEXT"
        ),
    ]
    fake_api.push_updates(updates)
    jobs = [(u["message"]["chat"]["id"], u["message"]["message_id"]) for u in updates]
    wait_until(lambda: all(fake_api.sent_animations(chat) for chat, _ in jobs), timeout=120, what="3 GIFs")
    wait_until(lambda: all_done(redis_client, jobs), timeout=30, what="the jobs ended")

    for (chat, message_id), lang, words, answers in (
        (jobs[0], "en", MemeText("it's: [a];b, c=d", "%{pts} \\ ,x"), video["message_id"]),
        (jobs[1], ZH, MemeText("繁體中文", "直角骨頭"), zh_video["message_id"]),
        (jobs[2], "en", MemeText("TOP TEXT", "BOTTOM TEXT"), jobs[2][1]),  # a captioned video: its own
    ):
        [sent] = fake_api.sent_animations(chat)
        assert json.loads(sent.params["reply_parameters"])["message_id"] == answers
        assert "reply_markup" not in sent.params, "no redo buttons: the words are not kept after sending"
        gif = tmp_path / f"{chat}.gif"
        gif.write_bytes(next(iter(sent.files.values())))
        (folder := tmp_path / f"ref-{chat}").mkdir()
        expected = textdraw.reference(plain, words, lang, folder)
        assert textdraw.differing(textdraw.first_frame(gif), expected) < 0.0005
        job_id = job_id_for(chat, message_id)
        assert not redis_client.exists(keys.meme_text(job_id)), "the text goes once the GIF is sent"
        job = Job.fetch(job_id, connection=redis_client, serializer=JSONSerializer)
        shown = json.dumps([job.args, job.kwargs, job.description], ensure_ascii=False)
        assert job.kwargs["has_text"] and words.top not in shown and words.bottom not in shown
    print("\n".join(["", "en:", *transcript(fake_api, en), "zh-TW:", *transcript(fake_api, zh)]))

    # The cached GIF (it has words) is not the answer to the same video without words.
    again = factories.make_video_update(fake_api.add_file(clip.read_bytes()), user_id=en)
    again["message"]["video"] = video["video"]  # the same file (file_unique_id) as the /text GIF's
    fake_api.push_update(again)
    [_, sent] = fake_api.wait_for(lambda: fake_api.sent_animations(en)[1:] and fake_api.sent_animations(en))
    assert sent.files, "answered from the cache with the GIF that has words"
    assert "redo:r" in sent.params.get("reply_markup", ""), "a GIF without words has its redo buttons"
    (tmp_path / "again.gif").write_bytes(next(iter(sent.files.values())))
    assert (
        textdraw.differing(textdraw.first_frame(tmp_path / "again.gif"), textdraw.first_frame(plain)) < 0.0005
    )


def test_text_without_a_video_too_long_or_expired_gets_a_clear_answer(stack, fake_api, redis_client):
    """/text answering no video gets the usage and over MAX_CHARS the limit (neither queues nor
    stores anything); a job whose words expired before it ran says so instead of a GIF without them."""
    stack.bot()
    user = next(_user_ids)
    video = factories.make_video_update(fake_api.add_file(b"\x00" * 1000), user_id=user)["message"]
    too_long = reply_with(f"/text {'x' * (MAX_CHARS + 1)} | bottom", video, user_id=user)
    alone = factories.make_text_update("/text TOP | BOTTOM", user_id=user)
    expiring = reply_with("/text TOP", video, user_id=user)
    fake_api.push_updates([too_long, alone, expiring])
    gone = job_id_for(user, expiring["message"]["message_id"])
    wait_until(lambda: redis_client.exists(keys.meme_text(gone)), timeout=30, what="the words stored")
    redis_client.delete(keys.meme_text(gone))  # as if its TTL ran out while the job waited
    stack.worker()
    expected = [text("text_too_long", max_chars=MAX_CHARS), text("text_usage"), text("text_gone")]
    said = lambda: [c.params["text"] for c in fake_api.calls(chat_id=user) if "text" in c.params]  # noqa: E731
    fake_api.wait_for(lambda: expected[2] in said(), timeout=60, message="words gone")  # the status edited
    assert [m for m in said() if m in expected] == expected
    for update in (too_long, alone):
        job_id = job_id_for(user, update["message"]["message_id"])
        assert not redis_client.exists(keys.meme_text(job_id), f"rq:job:{job_id}")
    assert not fake_api.sent_animations(user)
