"""Videos as phones, cameras and programs hand them over, made here from lavfi test patterns.

Each Device says how the file is encoded (container, codec, pixel shape, scan, colour), how
Telegram labels it (kind and MIME type) and what a player shows: its display aspect ratio. Clips
are short and small (1 s; only the formats that need it are SD or 1440x1080).
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

SECONDS = 1
# SDR BT.709 RGB -> HDR BT.2020 the way a phone or a grading suite does it (BT.2408): linear light,
# SDR white at 203 nits, then the PQ or HLG signal, 10-bit limited range.
_TO_LINEAR = "format=gbrp,zscale=tin=709:pin=709:min=gbr:rin=pc:t=linear:p=709:m=gbr:r=pc:npl=203"
_HDR_TAGS = ["-color_primaries", "bt2020", "-colorspace", "bt2020nc", "-color_range", "tv"]
_X265 = ["-c:v", "libx265", "-preset", "ultrafast", "-crf", "16", "-x265-params", "log-level=error"]


def hdr_filter(transfer: str) -> str:
    """The filter chain that turns an SDR BT.709 source into 10-bit HDR with `transfer` (zscale name)."""
    to_hdr = f"zscale=p=2020:t={transfer}:m=2020_ncl:r=tv:npl=203,format=yuv420p10le"
    return f"{_TO_LINEAR},format=gbrpf32le,{to_hdr}"


def hdr_encode(transfer: str) -> list[str]:
    """x265 Main 10 arguments tagging `transfer` (ffprobe name: arib-std-b67 or smpte2084)."""
    return [*_X265, "-pix_fmt", "yuv420p10le", *_HDR_TAGS, "-color_trc", transfer]


@dataclass(frozen=True)
class Device:
    """One way a video reaches the bot: how it is made, how Telegram labels it, how it should look."""

    name: str
    file_name: str
    mime_type: str
    size: tuple[int, int]  # stored (coded) size
    aspect: float  # display aspect ratio: what a player shows
    video: list[str]  # ffmpeg output arguments (filters, codecs, muxer)
    rate: int = 25  # frame rate of the source pattern
    audio: str = ""  # an audio codec, if the device records sound
    rotate: int | None = None  # display-matrix rotation added by remuxing (phones)
    kind: str = "document"  # how Telegram delivers it
    interlaced: bool = False
    source: str = "testsrc2"


DEVICES = (
    Device(
        "camcorder-avchd",
        "00001.MTS",
        "application/octet-stream",
        (1440, 1080),
        16 / 9,
        # 50 progressive frames a second woven into 25 interlaced ones, anamorphic 1440x1080 (HDV/AVCHD)
        [
            *("-vf", "interlace=scan=tff:lowpass=off,setsar=4/3", "-c:v", "libx264", "-preset", "ultrafast"),
            *("-flags", "+ildct+ilme", "-x264-params", "tff=1", "-f", "mpegts", "-mpegts_m2ts_mode", "1"),
        ],
        rate=50,
        audio="ac3",
        interlaced=True,
    ),
    Device(
        "dvd-pal-16x9",
        "VTS_01_1.VOB",
        "application/octet-stream",
        (720, 576),
        16 / 9,
        [
            *("-vf", "interlace=scan=tff:lowpass=off,setdar=16/9", "-c:v", "mpeg2video", "-b:v", "5M"),
            *("-flags", "+ildct+ilme", "-top", "1", "-f", "vob"),
        ],
        rate=50,
        audio="mp2",
        interlaced=True,
    ),
    Device(
        "dvd-ntsc-4x3",
        "movie.mpg",
        "video/mpeg",
        (720, 480),
        4 / 3,
        ["-vf", "setdar=4/3", "-c:v", "mpeg2video", "-b:v", "4M", "-f", "dvd"],
        rate=30,
        audio="mp2",
    ),
    Device(
        "flash",
        "clip.flv",
        "video/x-flv",
        (320, 240),
        4 / 3,
        ["-c:v", "flv1", "-q:v", "5", "-ar", "22050"],
        audio="libmp3lame",
    ),
    Device(
        "old-phone-h263",
        "VID0001.3gp",
        "video/3gpp",
        (176, 144),
        176 * 128 / 117 / 144,  # QCIF with 128:117 pixels: 4:3 on the phone's screen
        ["-vf", "setsar=128/117", "-c:v", "h263", "-q:v", "5", "-ar", "8000", "-ac", "1"],
        rate=15,
        audio="aac",
    ),
    Device(
        "xvid",
        "movie.mp4",
        "video/mp4",
        (320, 240),
        4 / 3,
        ["-c:v", "libxvid", "-q:v", "5"],
        audio="aac",
    ),
    Device(
        "webcam-mjpeg",
        "webcam.avi",
        "video/x-msvideo",
        (352, 288),
        4 / 3,  # CIF with 12:11 pixels
        ["-vf", "setsar=12/11", "-c:v", "mjpeg", "-pix_fmt", "yuvj422p", "-q:v", "4"],
        rate=15,
        audio="pcm_s16le",
    ),
    Device(
        "windows-media",
        "clip.wmv",
        "video/x-ms-wmv",
        (320, 240),
        4 / 3,
        ["-c:v", "wmv2", "-b:v", "1M"],
        audio="wmav2",
    ),
    Device(
        "ogg-theora",
        "clip.ogv",
        "video/ogg",
        (320, 240),
        4 / 3,
        ["-c:v", "libtheora", "-q:v", "6"],
        audio="libvorbis",
    ),
    Device(
        "iphone-hlg",
        "IMG_0001.MOV",
        "video/quicktime",
        (320, 240),
        240 / 320,  # shot in portrait: stored landscape, rotated 90 degrees on playback
        ["-vf", hdr_filter("arib-std-b67"), *hdr_encode("arib-std-b67"), "-tag:v", "hvc1"],
        rate=30,
        audio="aac",
        rotate=90,
        kind="video",
    ),
    Device(
        "hdr10-pq",
        "hdr10.mp4",
        "video/mp4",
        (320, 240),
        4 / 3,
        ["-vf", hdr_filter("smpte2084"), *hdr_encode("smpte2084"), "-tag:v", "hvc1"],
    ),
    Device(
        "vp8",
        "clip-vp8.webm",
        "video/webm",
        (320, 240),
        4 / 3,
        ["-c:v", "libvpx", "-deadline", "realtime", "-cpu-used", "8", "-b:v", "1M"],
        audio="libopus",
    ),
    Device(
        "vp9",
        "clip-vp9.webm",
        "video/webm",
        (320, 240),
        4 / 3,
        ["-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8", "-b:v", "1M"],
        audio="libopus",
    ),
    Device(
        "av1",
        "clip-av1.webm",
        "video/webm",
        (320, 240),
        4 / 3,
        ["-c:v", "libaom-av1", "-usage", "realtime", "-cpu-used", "8", "-b:v", "500k"],
    ),
    Device(
        "screen-recording-vfr",
        "screen.mp4",
        "video/mp4",
        (320, 240),
        4 / 3,
        # frames 10 to 70 ms apart (a screen recorder writes a frame only when something moved), 4:4:4
        [
            *("-vf", "setpts='(N*0.04+0.03*sin(N*1.7))/TB'", "-fps_mode", "vfr"),
            *("-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv444p"),
        ],
    ),
    Device(
        "prores",
        "edit.mov",
        "video/quicktime",
        (320, 240),
        4 / 3,
        ["-c:v", "prores_ks", "-profile:v", "0", "-pix_fmt", "yuv422p10le"],
    ),
)


def make(device: Device, directory: Path) -> Path:
    """Encode `device`'s clip under `directory` (reused if already there) and return its path."""
    dst = directory / device.name / device.file_name
    if dst.exists():
        return dst
    dst.parent.mkdir(parents=True, exist_ok=True)
    w, h = device.size
    args = ["-f", "lavfi", "-i", f"{device.source}=s={w}x{h}:r={device.rate}:d={SECONDS}"]
    if device.audio:
        args += ["-f", "lavfi", "-i", f"sine=d={SECONDS}:sample_rate=48000", "-c:a", device.audio]
    part = dst.with_name("part-" + device.file_name)  # same extension: it picks the muxer
    ffmpeg(*args, *device.video, str(part))
    if device.rotate is not None:  # ffmpeg 5.1 writes the rotation tag only when remuxing
        plain = part.rename(dst.with_name("plain-" + device.file_name))
        rotation = ["-metadata:s:v:0", f"rotate={device.rotate}"]
        ffmpeg("-i", str(plain), "-map", "0", "-c", "copy", *rotation, str(part))
        plain.unlink()
    return part.rename(dst)


def ffmpeg(*args: str) -> None:
    """Run ffmpeg quietly on trusted generator input; raise if it fails."""
    argv = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *args]
    subprocess.run(argv, check=True, stdin=subprocess.DEVNULL, timeout=120)
