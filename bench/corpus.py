"""The benchmark's own videos, made with ffmpeg's lavfi sources: varied content, nothing downloaded."""

from __future__ import annotations

import hashlib
import subprocess
from dataclasses import dataclass
from pathlib import Path

FPS = 30  # every clip is shot at a phone's 30 fps
ENCODE = ["-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-pix_fmt", "yuv420p"]
# A phone's bitrate cap, so even a 15 s 1080x1920 noisy clip stays under the bot's 20 MB input limit.
BITRATE_CAP = ["-maxrate", "8M", "-bufsize", "16M"]
AUDIO = ["-c:a", "aac", "-b:a", "96k"]
GENERATE_TIMEOUT_S = 600
STILL_SIZE = (2400, 2400)  # the "photo" a pan/zoom moves over; square so portrait crops fit too


@dataclass(frozen=True)
class Clip:
    """One corpus video: what it shows, its shape, and where it was written."""

    name: str
    kind: str  # photo | gradient | motion | text | portrait | graphics
    width: int
    height: int
    seconds: float
    audio: bool
    path: Path

    @property
    def label(self) -> str:
        """Short description for the table, e.g. '1280x720 6s +audio'."""
        return f"{self.width}x{self.height} {self.seconds:g}s{' +audio' if self.audio else ''}"


@dataclass(frozen=True)
class ClipSpec:
    """How to make one clip: a filter graph over the photo still (`[still]`) or a lavfi source."""

    name: str
    kind: str
    size: tuple[int, int]
    seconds: float
    audio: bool
    graph: str  # ends in the video to encode; may read the looping still as [0:v]
    uses_still: bool = True
    fps: int = FPS


def _photo_pan(w: int, h: int, seconds: float, fps: int = FPS) -> str:
    """A slow zoom and pan over the photo still, with a camera's sensor noise."""
    frames = int(seconds * fps)
    zoom = f"zoompan=z='1.15+0.25*on/{frames}':x='(iw-iw/zoom)*on/{frames}':y='(ih-ih/zoom)/3'"
    return f"[0:v]{zoom}:d=1:s={w}x{h}:fps={fps},format=yuv420p,noise=alls=6:allf=t:all_seed=7"


def _fast_motion(w: int, h: int) -> str:
    """A whip pan: the whole frame moves every frame, with noise."""
    return (
        f"[0:v]scroll=horizontal=0.013:vertical=0.004,scale={w * 2}:{h * 2},crop={w}:{h},"
        f"rotate=a='0.2*sin(2*PI*t)':c=black,format=yuv420p,noise=alls=6:allf=t:all_seed=7"
    )


def _gradient(w: int, h: int, seconds: float) -> str:
    """Slowly turning colour gradients with film grain: the hardest case for a 256-colour palette."""
    colours = "c0=0x1e3c72:c1=0xff7e5f:c2=0xfeb47b:c3=0x6a3093"  # a sunset
    return (
        f"gradients=s={w}x{h}:r={FPS}:d={seconds}:speed=0.015:nb_colors=4:{colours}:"
        f"x0=0:y0=0:x1={w}:y1={h}:seed=7,format=yuv420p,noise=alls=5:allf=t:all_seed=7"
    )


def _text(w: int, h: int, seconds: float) -> str:
    """A screen recording: lines of text scrolling up, a clock, a moving cursor."""
    size = max(18, h // 24)
    lines = [
        "Quarterly report - revenue up 12 percent and churn down to 3.1",
        "TODO fix the flaky upload test before Friday",
        "ffmpeg -i in.mp4 -vf palettegen pal.png and then paletteuse",
        "The quick brown fox jumps over the lazy dog 0123456789",
    ]
    draws = [
        f"drawtext=text='{line}':fontsize={size}:fontcolor=0x202020:x=40:y={h // 6 + i * size * 2}-t*{size}"
        for i, line in enumerate(lines * 3)
    ]
    clock = f"drawtext=text='%{{pts\\:hms}}':fontsize={size}:fontcolor=white:box=1:boxcolor=0x3050a0"
    clock += ":x=w-tw-30:y=20"
    cursor = f"drawbox=x='40+mod(t*{w // 4}\\,{w - 80})':y={h - 3 * size}:w=12:h={size}:color=black:t=fill"
    return f"color=c=0xf4f1ea:s={w}x{h}:r={FPS}:d={seconds}," + ",".join([*draws, clock, cursor])


def _graphics(w: int, h: int, seconds: float) -> str:
    """Flat test graphics (ffmpeg's testsrc2): few colours, sharp edges, small moving parts."""
    return f"testsrc2=s={w}x{h}:r={FPS}:d={seconds},format=yuv420p"


def specs(quick: bool) -> list[ClipSpec]:
    """The corpus: quick = six short 720p-class clips; full = longer 1080p-class clips, plus graphics."""
    seconds = 5.0 if quick else 8.0
    land = (1280, 720) if quick else (1920, 1080)
    w, h = land
    clips = [
        ClipSpec("photo-pan", "photo", land, seconds, True, _photo_pan(w, h, seconds)),
        ClipSpec("gradient-noise", "gradient", land, seconds, False, _gradient(w, h, seconds), False),
        ClipSpec("fast-motion", "motion", land, seconds, True, _fast_motion(w, h)),
        ClipSpec("text-screen", "text", land, seconds, False, _text(w, h, seconds), False),
        ClipSpec("portrait-phone", "portrait", (1080, 1920), seconds, True, _photo_pan(1080, 1920, seconds)),
        ClipSpec("portrait-silent", "portrait", (720, 1280), seconds, False, _fast_motion(720, 1280)),
    ]
    if not quick:
        clips += [
            ClipSpec("graphics", "graphics", land, seconds, True, _graphics(w, h, seconds), False),
            ClipSpec("photo-pan-long", "photo", (1280, 720), 14.0, True, _photo_pan(1280, 720, 14.0)),
        ]
    return clips


def small() -> ClipSpec:
    """A short, small phone clip: for bursts, where the queue and the bot are what is measured."""
    return ClipSpec("burst-small", "photo", (640, 360), 2.0, True, _photo_pan(640, 360, 2.0))


def longest_portrait(seconds: float) -> ClipSpec:
    """The longest clip the bot converts, at a phone's 1080x1920: for the worker's peak memory."""
    return ClipSpec(
        "portrait-longest", "portrait", (1080, 1920), seconds, True, _photo_pan(1080, 1920, seconds)
    )


def hd60(seconds: float) -> ClipSpec:
    """A camera's 1080p at 60 fps, as long as the bot converts: the most source frames a user sends."""
    return ClipSpec(
        "hd60-longest", "photo", (1920, 1080), seconds, True, _photo_pan(1920, 1080, seconds, 60), fps=60
    )


def make_still(directory: Path) -> Path:
    """Write the 'photo': a softened Mandelbrot close-up with a vignette (smooth areas, fine detail)."""
    dst = directory / "still.png"
    if dst.exists():
        return dst
    w, h = STILL_SIZE
    source = f"mandelbrot=s={w}x{h}:start_scale=0.01:start_x=-0.7453:start_y=0.1127:maxiter=600"
    source += ":outer=normalized_iteration_count:inner=period"
    _ffmpeg(["-f", "lavfi", "-i", f"{source},gblur=sigma=1.5,vignette", "-frames:v", "1", str(dst)])
    return dst


def make(spec: ClipSpec, directory: Path) -> Clip:
    """Write `spec` as an H.264 mp4 (AAC audio if asked) under `directory`; reuse an identical one."""
    dst = directory / f"{spec.name}-{digest(spec)}.mp4"
    clip = Clip(spec.name, spec.kind, *spec.size, spec.seconds, spec.audio, dst)
    if dst.exists():
        return clip
    still = make_still(directory) if spec.uses_still else None
    tmp = dst.with_suffix(".part.mp4")
    try:
        _ffmpeg([*encode_args(spec, still), str(tmp)])
    except subprocess.CalledProcessError:
        if spec.kind != "text":
            raise
        # No font for drawtext on this box: a screen of flat graphics stands in for the text.
        fallback = ClipSpec(
            spec.name,
            spec.kind,
            spec.size,
            spec.seconds,
            spec.audio,
            _graphics(*spec.size, spec.seconds),
            False,
        )
        return make(fallback, directory)
    tmp.rename(dst)
    return clip


def encode_args(spec: ClipSpec, still: Path | None) -> list[str]:
    """ffmpeg arguments (without the output) that render and encode `spec`."""
    args = ["-loop", "1", "-framerate", str(spec.fps), "-i", str(still)] if still else []
    if spec.audio:
        args += ["-f", "lavfi", "-i", f"sine=frequency=440:beep_factor=4:duration={spec.seconds:g}"]
    args += ["-filter_complex", f"{spec.graph}[v]", "-map", "[v]"]
    if spec.audio:
        args += ["-map", f"{1 if still else 0}:a", *AUDIO]
    return [
        *args,
        "-t",
        f"{spec.seconds:g}",
        *ENCODE,
        *BITRATE_CAP,
        "-r",
        str(spec.fps),
        "-movflags",
        "+faststart",
    ]


def digest(spec: ClipSpec) -> str:
    """A short hash of everything that shapes the clip, so a changed recipe is never reused."""
    text = repr((spec, ENCODE, BITRATE_CAP, AUDIO, FPS, STILL_SIZE))
    return hashlib.sha256(text.encode()).hexdigest()[:8]


def build(directory: Path, quick: bool) -> list[Clip]:
    """Make (or reuse) every clip of the corpus under `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    return [make(spec, directory) for spec in specs(quick)]


def _ffmpeg(args: list[str]) -> None:
    """Run ffmpeg on trusted generator input; raise CalledProcessError if it fails."""
    argv = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *args]
    subprocess.run(argv, check=True, stdin=subprocess.DEVNULL, timeout=GENERATE_TIMEOUT_S)
