"""Video stickers end to end: the /settings choice, the WebM Telegram accepts, the cache by file_id."""

from __future__ import annotations

import itertools
import json
import subprocess
import tempfile
from pathlib import Path

from core import keys
from tests import factories, media
from tests.e2e.test_chat import press
from tests.fakes.stickers import MAX_STICKER_BYTES

_user_ids = itertools.count(58_000)


def busy_clip(directory: Path) -> bytes:
    """3.2 s of 1080p made of 6 px blocks of fresh noise every frame: hard for any encoder."""
    dst = directory / "busy.mp4"
    noise = "testsrc2=s=320x180:r=24:d=3.2,noise=alls=60:allf=t+u,scale=1920:1080:flags=neighbor"
    media.ffmpeg(
        "-f", "lavfi", "-i", noise, "-c:v", "libx264", "-preset", "ultrafast", "-crf", "30", str(dst)
    )
    return dst.read_bytes()


def probe_webm(data: bytes) -> dict:
    """ffprobe's format and streams of uploaded bytes."""
    with tempfile.NamedTemporaryFile(suffix=".webm") as tmp:
        tmp.write(data)
        tmp.flush()
        argv = ["ffprobe", "-v", "error", "-show_format", "-show_streams", "-of", "json", tmp.name]
        return json.loads(subprocess.run(argv, check=True, capture_output=True).stdout)


def test_sticker_is_a_small_vp9_webm_and_repeats_by_file_id(stack, fake_api, redis_client, tmp_path: Path):
    """A busy 1080p clip comes back as a VP9 WebM sticker, 512 px wide, <=3 s, <=256 KB; again by file_id."""
    stack.bot()
    stack.worker()
    user, again = next(_user_ids), next(_user_ids)
    for who in (user, again):
        press(fake_api, who, "set:output:sticker")
    assert redis_client.hget(keys.prefs(user), "output") == b"sticker"
    record = fake_api.add_file(busy_clip(tmp_path))
    fake_api.push_update(factories.make_video_update(record, user_id=user, chat_id=user))
    [sent] = fake_api.wait_for(
        lambda: fake_api.calls("sendSticker", chat_id=user), timeout=120, message="sticker"
    )
    data = sent.files["sticker"]
    found = probe_webm(data)
    [stream] = found["streams"]  # no sound
    assert "webm" in found["format"]["format_name"] and stream["codec_name"] == "vp9"
    assert (stream["width"], stream["height"]) == (512, 288)
    assert float(found["format"]["duration"]) <= 3.0
    assert len(data) <= MAX_STICKER_BYTES
    fake_api.push_update(factories.make_video_update(record, user_id=again, chat_id=again))
    [cached] = fake_api.wait_for(
        lambda: fake_api.calls("sendSticker", chat_id=again), timeout=20, message="cached"
    )
    assert not cached.files and cached.params["sticker"] == sent.result["sticker"]["file_id"]
