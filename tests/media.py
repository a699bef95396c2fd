"""Test inputs generated on the fly with ffmpeg's lavfi sources; no binary media is committed."""

from __future__ import annotations

import random
import subprocess
from pathlib import Path

_VIDEO_CODEC_ARGS = {
    "libx264": ["-preset", "ultrafast", "-pix_fmt", "yuv420p"],
    "libvpx": ["-deadline", "realtime", "-cpu-used", "8", "-b:v", "1M"],
    "mpeg4": ["-q:v", "5"],
    "mjpeg": ["-pix_fmt", "yuvj420p"],
}
_AUDIO_CODEC = {".webm": "libopus", ".avi": "pcm_s16le"}  # everything else gets aac


def ffmpeg(*args: str) -> None:
    """Run ffmpeg quietly on trusted test inputs; raise if it fails."""
    argv = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *args]
    subprocess.run(argv, check=True, stdin=subprocess.DEVNULL, timeout=60)


def lavfi_clip(dst: Path, source: str) -> Path:
    """Encode the lavfi `source` (e.g. "color=c=red:s=64x64:d=1") as a small H.264 MP4 at `dst`."""
    encode = ("-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p")
    ffmpeg("-f", "lavfi", "-i", source, *encode, str(dst))
    return dst


def make_clip(
    directory: Path,
    name: str = "clip.mp4",
    seconds: float = 2.0,
    size: tuple[int, int] = (640, 360),
    fps: int = 25,
    audio: bool = False,
    vcodec: str = "libx264",
    rotate: int | None = None,
    source: str = "testsrc2",
) -> Path:
    """Write a `seconds` long test-pattern clip; `rotate` adds display-matrix rotation (mp4/mov)."""
    dst = directory / name
    inputs = ["-f", "lavfi", "-i", f"{source}=s={size[0]}x{size[1]}:r={fps}:d={seconds}"]
    if audio:
        inputs += ["-f", "lavfi", "-i", f"sine=d={seconds}"]
        inputs += ["-c:a", _AUDIO_CODEC.get(dst.suffix, "aac"), "-shortest"]
    out = dst.with_name("plain-" + name) if rotate is not None else dst
    ffmpeg(*inputs, "-c:v", vcodec, *_VIDEO_CODEC_ARGS.get(vcodec, []), str(out))
    if rotate is not None:  # ffmpeg 5.1 only writes the rotation tag when remuxing
        ffmpeg("-i", str(out), "-c", "copy", "-metadata:s:v:0", f"rotate={rotate}", str(dst))
        out.unlink()
    return dst


def make_portrait(directory: Path, name: str = "portrait.mp4") -> Path:
    """Write a 1 s 1080x1920 phone-style portrait clip."""
    return make_clip(directory, name, seconds=1.0, size=(1080, 1920), fps=25, source="testsrc")


def make_webm(directory: Path, name: str = "clip.webm", live: bool = False) -> Path:
    """Write a VP8/Opus WebM; `live` streams it through a pipe so it has no duration (like MediaRecorder)."""
    if not live:
        return make_clip(directory, name, size=(320, 240), audio=True, vcodec="libvpx")
    dst = directory / name
    argv = ["ffmpeg", "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc2=s=320x240:r=25:d=2"]
    argv += ["-c:v", "libvpx", *_VIDEO_CODEC_ARGS["libvpx"], "-f", "webm", "pipe:1"]
    with dst.open("wb") as out:
        subprocess.run(argv, check=True, stdin=subprocess.DEVNULL, stdout=out, timeout=60)
    return dst


def make_moving_marker(directory: Path, name: str = "marker.mp4", seconds: float = 2.0) -> Path:
    """Write a clip whose white square moves left to right at 100 px/s: its x position tells the time."""
    dst = directory / name
    ffmpeg(
        *("-f", "lavfi", "-i", f"color=black:s=320x240:r=25:d={seconds}"),
        *("-f", "lavfi", "-i", f"color=white:s=20x20:r=25:d={seconds}"),
        *("-filter_complex", "[0][1]overlay=x='t*100':y=110:shortest=1"),
        *("-c:v", "libx264", *_VIDEO_CODEC_ARGS["libx264"], str(dst)),
    )
    return dst


def make_audio_only(directory: Path, name: str = "voice.mp4", cover: bool = False) -> Path:
    """Write an AAC-only MP4; `cover` adds cover art (a video stream marked attached_pic)."""
    dst = directory / name
    args = ["-f", "lavfi", "-i", "sine=d=1"]
    if cover:
        png = make_png(directory, "cover.png")
        args += [
            "-i",
            str(png),
            "-map",
            "0:a",
            "-map",
            "1:v",
            "-c:v",
            "png",
            "-disposition:v",
            "attached_pic",
        ]
    ffmpeg(*args, "-c:a", "aac", str(dst))
    return dst


def make_png(directory: Path, name: str = "photo.mp4") -> Path:
    """Write a PNG image under a video's name (as a client may send it with a video mime type)."""
    dst = directory / name
    ffmpeg(
        "-f", "lavfi", "-i", "testsrc2=s=320x240", "-frames:v", "1", "-c:v", "png", "-f", "image2", str(dst)
    )
    return dst


def make_jpeg(directory: Path, name: str = "photo.mp4") -> Path:
    """Write a JPEG image under a video's name."""
    dst = directory / name
    args = ["-frames:v", "1", "-c:v", "mjpeg", "-pix_fmt", "yuvj420p", "-f", "image2", str(dst)]
    ffmpeg("-f", "lavfi", "-i", "testsrc2=s=320x240", *args)
    return dst


def make_huge_resolution(directory: Path, name: str = "huge.mkv", side: int = 5000) -> Path:
    """Write one `side`x`side` MJPEG frame in Matroska: a tiny file over any sane pixel cap."""
    dst = directory / name
    source = f"color=gray:s={side}x{side}:r=25:d=0.04"
    ffmpeg("-f", "lavfi", "-i", source, "-frames:v", "1", "-c:v", "mjpeg", "-pix_fmt", "yuvj420p", str(dst))
    return dst


def make_lying_header(directory: Path, name: str = "liar.mkv") -> Path:
    """Write a 5000x5000 MJPEG frame whose Matroska header claims 320x240."""
    data = make_huge_resolution(directory, "huge-for-liar.mkv").read_bytes()
    pixel_width, pixel_height = b"\xb0\x82\x13\x88", b"\xba\x82\x13\x88"  # EBML ids + 5000
    assert data.count(pixel_width) == data.count(pixel_height) == 1
    data = data.replace(pixel_width, b"\xb0\x82\x01\x40").replace(pixel_height, b"\xba\x82\x00\xf0")
    (directory / name).write_bytes(data)
    return directory / name


def make_still(directory: Path, name: str = "still.mp4", vcodec: str = "libx264", sound: float = 0) -> Path:
    """Write a video file holding one picture; `sound` seconds of audio make the file that long
    (a song uploaded with its cover as the only frame)."""
    dst = directory / name
    pix_fmt = "yuvj420p" if vcodec == "mjpeg" else "yuv420p"
    args = ["-f", "lavfi", "-i", "testsrc2=s=320x240:r=25:d=0.04", "-c:v", vcodec, "-pix_fmt", pix_fmt]
    if sound:
        args = ["-f", "lavfi", "-i", f"sine=d={sound}", *args[:4], "-map", "0:a", "-map", "1:v", *args[4:]]
        args += ["-c:a", "aac"]
    ffmpeg(*args, str(dst))
    return dst


def make_encrypted(directory: Path, name: str = "protected.mp4") -> Path:
    """Write a 1 s H.264 MP4 encrypted with CENC (AES-CTR), as DRM-protected downloads are."""
    dst = directory / name
    key = [
        "-encryption_key",
        "76a6c65c5ea762046bd749a2e632ccbb",
        "-encryption_kid",
        "a7e61c373e219033c21091fa607bf3b8",
    ]
    ffmpeg(
        "-f",
        "lavfi",
        "-i",
        "testsrc2=s=320x240:r=25:d=1",
        "-c:v",
        "libx264",
        *_VIDEO_CODEC_ARGS["libx264"],
        "-encryption_scheme",
        "cenc-aes-ctr",
        *key,
        str(dst),
    )
    return dst


def make_undecodable(directory: Path, name: str = "vvc.mp4") -> Path:
    """Write an MP4 whose video claims a codec this ffmpeg cannot decode ('vvc1', H.266)."""
    data = make_still(directory, "h264-for-vvc.mp4").read_bytes()
    assert data.count(b"avc1") >= 1
    (directory / name).write_bytes(data.replace(b"avc1", b"vvc1"))
    return directory / name


def make_huge_ts(directory: Path, name: str = "huge.ts", side: int = 5000) -> Path:
    """Write one `side`x`side` H.264 frame in MPEG-TS, whose header tells no size at all."""
    dst = directory / name
    source = f"color=gray:s={side}x{side}:r=25:d=0.04"
    ffmpeg("-f", "lavfi", "-i", source, "-frames:v", "1", "-c:v", "libx264", "-preset", "ultrafast", str(dst))
    return dst


def make_hls_disguise(directory: Path, secret_file: Path, name: str = "video.mp4") -> Path:
    """Write an HLS playlist whose only segment is `secret_file`, saved as .mp4."""
    playlist = "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:10\n#EXT-X-MEDIA-SEQUENCE:0\n"
    playlist += f"#EXTINF:10.0,\nfile://{secret_file.absolute()}\n#EXT-X-ENDLIST\n"
    return _write_text(directory / name, playlist)


def make_ffconcat_disguise(directory: Path, secret_file: Path, name: str = "video.mp4") -> Path:
    """Write an ffconcat script that includes `secret_file`, saved as .mp4."""
    return _write_text(directory / name, f"ffconcat version 1.0\nfile '{secret_file.absolute()}'\n")


def make_dash_disguise(directory: Path, secret_file: Path, name: str = "video.mp4") -> Path:
    """Write a DASH manifest whose segment URL is `secret_file`, saved as .mp4."""
    manifest = f"""<?xml version="1.0" encoding="utf-8"?>
<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static" mediaPresentationDuration="PT10S"
     minBufferTime="PT1S" profiles="urn:mpeg:dash:profile:isoff-on-demand:2011">
  <Period><AdaptationSet mimeType="video/mp4"><Representation id="1" bandwidth="1000" width="320"
    height="240" codecs="avc1.42c01e"><BaseURL>file://{secret_file.absolute()}</BaseURL>
  </Representation></AdaptationSet></Period>
</MPD>
"""
    return _write_text(directory / name, manifest)


SECRET = b"TOP-SECRET-7f3a9c"  # what a followed disguise would leak into a GIF, an error or a log
# The disguises that name a local file; each is called with (directory, secret_file).
DISGUISES = (make_hls_disguise, make_ffconcat_disguise, make_dash_disguise)


def make_secret(directory: Path, name: str = "secret.txt") -> Path:
    """Write a file holding SECRET, for a disguise to point at."""
    path = directory / name
    path.write_bytes(SECRET + b"\n")
    return path


def make_truncated(src: Path, keep: float = 0.5, name: str = "truncated.mp4") -> Path:
    """Write the first `keep` fraction of `src` (an MP4 then lacks its trailing moov index)."""
    data = src.read_bytes()
    dst = src.with_name(name)
    dst.write_bytes(data[: int(len(data) * keep)])
    return dst


def make_cut_mid_gop(directory: Path, name: str = "cut.avi") -> Path:
    """Write an MPEG-4 Part 2 AVI that starts a second into a long GOP: no key frame for 99 frames,
    yet every frame decodes (grey until the picture builds up), as a careless editor leaves it."""
    whole = directory / f"whole-{name}"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=s=320x240:r=25:d=5", "-c:v", "mpeg4", "-g", "250", str(whole))
    dst = directory / name
    ffmpeg("-i", str(whole), "-ss", "1", "-c", "copy", "-copyinkf", str(dst))
    whole.unlink()
    return dst


def make_corrupt(src: Path, name: str = "corrupt.mkv") -> Path:
    """Write `src` with everything after its first 200 bytes replaced by noise (header kept)."""
    data = src.read_bytes()
    dst = src.with_name(name)
    dst.write_bytes(data[:200] + random.Random(7).randbytes(len(data) - 200))
    return dst


def make_zero_byte(directory: Path, name: str = "empty.mp4") -> Path:
    """Write an empty file."""
    dst = directory / name
    dst.write_bytes(b"")
    return dst


def make_garbage(directory: Path, size: int = 64 * 1024, name: str = "garbage.mp4") -> Path:
    """Write `size` random (seeded) bytes under a video's name."""
    dst = directory / name
    dst.write_bytes(random.Random(size).randbytes(size))
    return dst


def make_text(directory: Path, text: str = "hello, not a video\n", name: str = "notes.mp4") -> Path:
    """Write a text file under a video's name."""
    return _write_text(directory / name, text)


def make_pdf(directory: Path, name: str = "document.mp4") -> Path:
    """Write a minimal PDF under a video's name."""
    body = "%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
    body += "2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
    return _write_text(directory / name, body)


def _write_text(dst: Path, text: str) -> Path:
    dst.write_text(text)
    return dst


def make_hls_master_disguise(directory: Path, urls: list[str], name: str = "video.mp4") -> Path:
    """Write an HLS master playlist, saved as .mp4, whose variant playlists are `urls`.

    An hls demuxer opens every variant while reading the header, so each URL is a tripwire.
    """
    variants = "".join(f"#EXT-X-STREAM-INF:BANDWIDTH={1000 * (i + 1)}\n{url}\n" for i, url in enumerate(urls))
    return _write_text(directory / name, "#EXTM3U\n" + variants)


def make_ffconcat_disguise_to(directory: Path, urls: list[str], name: str = "video.mp4") -> Path:
    """Write an ffconcat script, saved as .mp4, that includes each of `urls`."""
    return _write_text(directory / name, "ffconcat version 1.0\n" + "".join(f"file '{u}'\n" for u in urls))


def make_dash_disguise_to(directory: Path, urls: list[str], name: str = "video.mp4") -> Path:
    """Write a DASH manifest, saved as .mp4, with one representation per URL in `urls`."""
    sets = "".join(
        f'  <AdaptationSet mimeType="video/mp4"><Representation id="{i}" bandwidth="1000" width="320"'
        f' height="240" codecs="avc1.42c01e"><BaseURL>{url}</BaseURL></Representation></AdaptationSet>\n'
        for i, url in enumerate(urls)
    )
    manifest = (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static" mediaPresentationDuration="PT10S"'
        ' minBufferTime="PT1S" profiles="urn:mpeg:dash:profile:isoff-on-demand:2011">\n'
        f"<Period>\n{sets}</Period>\n</MPD>\n"
    )
    return _write_text(directory / name, manifest)


def make_mkv_with_attached_playlist(directory: Path, playlist: Path, name: str = "attached.mkv") -> Path:
    """Write a 1 s 160x90 Matroska video carrying `playlist` as an attachment (mimetype HLS)."""
    dst = directory / name
    ffmpeg(
        *("-f", "lavfi", "-i", "testsrc2=s=160x90:r=10:d=1"),
        *("-c:v", "libx264", *_VIDEO_CODEC_ARGS["libx264"]),
        *("-attach", str(playlist), "-metadata:s:t", "mimetype=application/vnd.apple.mpegurl"),
        *("-metadata:s:t", f"filename={playlist.name}", str(dst)),
    )
    return dst
