"""What Telegram checks in an uploaded video sticker (WebM VP9, no sound, 512 px, 3 s, 30 fps, 256 KB)."""

from __future__ import annotations

import json
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

MAX_STICKER_BYTES = 256 * 1024
STICKER_SIDE = 512
MAX_STICKER_SECONDS = 3.0
MAX_STICKER_FPS = 30.0
EBML_MAGIC = b"\x1a\x45\xdf\xa3"


@dataclass(frozen=True)
class VideoSticker:
    """What ffprobe saw in an accepted sticker."""

    width: int
    height: int
    duration: float


class StickerRefused(ValueError):
    """The upload breaks one of Telegram's video sticker rules; the message is Telegram's error."""


def check_video_sticker(data: bytes) -> VideoSticker:
    """Probe the bytes like Telegram would and refuse a file that is not a valid video sticker."""
    if data[:4] != EBML_MAGIC:
        raise StickerRefused("STICKER_VIDEO_NOWEBM")
    if len(data) > MAX_STICKER_BYTES:
        raise StickerRefused("STICKER_VIDEO_BIG")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "sticker.webm"
        path.write_bytes(data)
        probe = subprocess.run(
            ["ffprobe", "-v", "error", "-show_format", "-show_streams", "-of", "json", str(path)],
            capture_output=True,
            stdin=subprocess.DEVNULL,
            timeout=30,
        )
    info = json.loads(probe.stdout or b"{}")
    streams = info.get("streams") or []
    if probe.returncode != 0 or "webm" not in str(info.get("format", {}).get("format_name")):
        raise StickerRefused("STICKER_VIDEO_NOWEBM")
    if [s.get("codec_name") for s in streams] != ["vp9"]:  # one VP9 stream, no sound
        raise StickerRefused("STICKER_VIDEO_NOWEBM")
    width, height = int(streams[0].get("width", 0)), int(streams[0].get("height", 0))
    if max(width, height) != STICKER_SIDE:
        raise StickerRefused("STICKER_VIDEO_DIMENSIONS")
    num, _, den = str(streams[0].get("avg_frame_rate") or "0/1").partition("/")
    if float(den or 1) and float(num) / float(den or 1) > MAX_STICKER_FPS:
        raise StickerRefused("STICKER_VIDEO_FPS")
    duration = float(info.get("format", {}).get("duration") or 0)
    if not 0 < duration <= MAX_STICKER_SECONDS:
        raise StickerRefused("STICKER_VIDEO_LONG")
    return VideoSticker(width, height, duration)
