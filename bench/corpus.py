"""The benchmark's own videos: sample photos (a Debian package's) and ffmpeg's lavfi sources.

Made, not downloaded: camera pans and zooms over real photos with a sensor's grain, two film-like
clips, a slideshow, noisy gradients, a screen of text, test graphics, a Mandelbrot zoom, a portrait
phone clip, a whip pan and a mostly static scene. Where a clip has synthetic grain, its clean picture
is written too, so SSIM can also be measured against what the user filmed rather than the noise.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bench import scenes

FPS = 30  # phone clips are shot at 30 fps
FILM_FPS = 24
# Tagged BT.709 like a phone's video, and converted to it: an untagged clip leaves the matrix to a
# guess, and a guess unlike the reference's scores colour shifts instead of the GIF.
BT709 = ["-colorspace", "bt709", "-color_primaries", "bt709", "-color_trc", "bt709", "-color_range", "tv"]
TO_BT709 = "format=gbrp,scale=out_color_matrix=bt709:out_range=tv,format=yuv420p"
ENCODE = ["-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-pix_fmt", "yuv420p", *BT709]
# A phone's bitrate cap (8 Mbit/s), lowered for long clips so every clip stays under the bot's
# 20 MB input limit (the Bot API's download cap): a 30 s clip at 8 Mbit/s would be refused.
BITRATE_CAP = ["-maxrate", "8M", "-bufsize", "16M"]
FIT_MB = 18  # what a clip's video may take, leaving room for audio and the container
AUDIO_KBPS = 96


def bitrate_cap(seconds: float) -> list[str]:
    """BITRATE_CAP, or a lower cap that keeps `seconds` of video within FIT_MB."""
    kbps = int(FIT_MB * 8 * 1000 / seconds) - AUDIO_KBPS
    if kbps >= 8000:
        return BITRATE_CAP
    return ["-maxrate", f"{kbps}k", "-bufsize", f"{2 * kbps}k"]


CLEAN_ENCODE = ["-c:v", "libx264", "-preset", "veryfast", "-crf", "12", "-pix_fmt", "yuv420p", *BT709]
AUDIO = ["-c:a", "aac", "-b:a", f"{AUDIO_KBPS}k"]
GENERATE_TIMEOUT_S = 600
APT_TIMEOUT_S = 600
STILL_SIZE = (2400, 2400)  # the stand-in "photo" when the photo package is missing
PHOTO_PACKAGE = "mate-backgrounds"  # Debian: MATE's wallpapers, real photos up to 2560x1920
PHOTO_DIR = Path("/usr/share/backgrounds/mate/nature")
SLIDES = ("RainDrops.jpg", "Wood.jpg", "FreshFlower.jpg", "YellowFlower.jpg")
SMALL_PHOTO = ("Garden.jpg",)


@dataclass(frozen=True)
class Clip:
    """One corpus video: what it shows, its shape, and where it was written (and its clean picture)."""

    name: str
    kind: str  # camera | gradient | slideshow | text | animation | generative | portrait | ...
    width: int
    height: int
    seconds: float
    audio: bool
    path: Path
    clean: Path | None = None  # the same picture without the synthetic grain, if it has any

    @property
    def label(self) -> str:
        """Short description for the table, e.g. '1280x720 6s +audio'."""
        return f"{self.width}x{self.height} {self.seconds:g}s{' +audio' if self.audio else ''}"


@dataclass(frozen=True)
class ClipSpec:
    """How to make one clip: a filter graph over looping photos ([0:v], [1:v]...) or lavfi sources.

    `grain` (a filter) goes where the graph says `<grain>`; without it the graph is the clean picture.
    """

    name: str
    kind: str
    size: tuple[int, int]
    seconds: float
    audio: bool
    graph: str
    photos: tuple[str, ...] = ()
    grain: str = ""
    fps: int = FPS

    def picture(self, grain: bool = True) -> str:
        """The filter graph with the grain in (as sent) or out (the clean picture)."""
        return self.graph.replace(scenes.GRAIN, f",{self.grain}" if grain and self.grain else "")


def specs(quick: bool) -> list[ClipSpec]:
    """The corpus: every kind of video users send, grain where cameras put it; quick = 4 s clips,
    full = 8 s clips at 1080p where a phone films 1080p."""
    t = 4.0 if quick else 8.0
    land = (1280, 720) if quick else (1920, 1080)
    w, h = land
    return [
        ClipSpec(
            "camera-pan",
            "camera",
            land,
            t,
            True,
            scenes.camera_pan(w, h, t, FPS),
            ("Garden.jpg",),
            scenes.CAMERA_GRAIN,
        ),
        ClipSpec(
            "camera-zoom",
            "camera",
            (1280, 720),
            t,
            True,
            scenes.camera_zoom(1280, 720, t, FPS),
            ("TwoWings.jpg",),
            scenes.CAMERA_GRAIN,
        ),
        ClipSpec(
            "gradient-noise",
            "gradient",
            (854, 480),
            t,
            False,
            scenes.gradient(854, 480, t, FPS),
            grain=scenes.GRADIENT_GRAIN,
        ),
        ClipSpec("slideshow", "slideshow", land, t, True, scenes.slideshow(w, h, t, 4), SLIDES),
        ClipSpec("text-screen", "text", land, t, False, scenes.text(w, h, t, FPS)),
        ClipSpec("animation", "animation", land, t, True, scenes.animation(w, h, t, FPS)),
        ClipSpec("generative", "generative", (854, 480), t, False, scenes.generative(854, 480, t, FPS)),
        ClipSpec(
            "portrait-phone",
            "portrait",
            (1080, 1920),
            t,
            True,
            scenes.camera_pan(1080, 1920, t, FPS),
            ("LadyBird.jpg",),
            scenes.CAMERA_GRAIN,
        ),
        ClipSpec(
            "fast-motion",
            "motion",
            land,
            t,
            True,
            scenes.fast_motion(w, h),
            ("Dune.jpg",),
            scenes.CAMERA_GRAIN,
        ),
        ClipSpec(
            "static-scene",
            "static",
            land,
            t,
            False,
            scenes.static_scene(w, h),
            ("GreenMeadow.jpg", "LadyBird.jpg"),
            scenes.CAMERA_GRAIN,
        ),
        ClipSpec(
            "film-letterbox",
            "film",
            land,
            t,
            True,
            scenes.film_letterbox(w, h, t, FILM_FPS),
            ("Blinds.jpg", "Aqua.jpg"),
            scenes.FILM_GRAIN,
            fps=FILM_FPS,
        ),
        ClipSpec(
            "film-dark",
            "film",
            (1280, 720),
            t,
            True,
            scenes.film_dark(1280, 720),
            ("Storm.jpg",),
            scenes.FILM_GRAIN,
            fps=FILM_FPS,
        ),
    ]


def small() -> ClipSpec:
    """A short, small phone clip: for bursts, where the queue and the bot are what is measured."""
    return ClipSpec(
        "burst-small",
        "camera",
        (640, 360),
        2.0,
        True,
        scenes.camera_pan(640, 360, 2.0, FPS),
        SMALL_PHOTO,
        scenes.CAMERA_GRAIN,
    )


def longest_portrait(seconds: float) -> ClipSpec:
    """The longest clip the bot converts, at a phone's 1080x1920: for the worker's peak memory."""
    graph = scenes.camera_pan(1080, 1920, seconds, FPS)
    return ClipSpec(
        "portrait-longest", "portrait", (1080, 1920), seconds, True, graph, SMALL_PHOTO, scenes.CAMERA_GRAIN
    )


def hd60(seconds: float) -> ClipSpec:
    """A camera's 1080p at 60 fps, as long as the bot converts: the most source frames a user sends."""
    graph = scenes.camera_pan(1920, 1080, seconds, 60)
    return ClipSpec(
        "hd60-longest", "camera", (1920, 1080), seconds, True, graph, SMALL_PHOTO, scenes.CAMERA_GRAIN, fps=60
    )


def find_photos(allow_install: bool = True) -> tuple[Path | None, str]:
    """The sample photos' folder; installs the Debian package with apt-get (as root) if missing."""
    if _has_photos():
        return PHOTO_DIR, f"{PHOTO_PACKAGE} found on this machine"
    apt = shutil.which("apt-get")
    if not allow_install or apt is None or os.geteuid() != 0:
        return None, f"{PHOTO_PACKAGE} not installed (needs apt-get as root)"
    quiet = {"capture_output": True, "timeout": APT_TIMEOUT_S}
    try:
        install = [apt, "install", "-y", "--no-install-recommends", PHOTO_PACKAGE]
        if subprocess.run(install, **quiet).returncode != 0:  # an old package list: refresh it once
            subprocess.run([apt, "update"], check=True, **quiet)
            subprocess.run(install, check=True, **quiet)
    except (subprocess.SubprocessError, OSError) as exc:
        return None, f"apt-get install {PHOTO_PACKAGE} failed ({type(exc).__name__})"
    return (PHOTO_DIR, f"{PHOTO_PACKAGE} installed") if _has_photos() else (None, "no photos in the package")


def _has_photos() -> bool:
    return all((PHOTO_DIR / name).is_file() for name in ("Garden.jpg", "LadyBird.jpg", *SLIDES))


def photo_paths(spec: ClipSpec, directory: Path, photos: Path | None) -> list[Path]:
    """The photos `spec` names, or the generated stand-in still for each when there are none."""
    if not spec.photos:
        return []
    if photos is not None and all((photos / name).is_file() for name in spec.photos):
        return [photos / name for name in spec.photos]
    return [make_still(directory)] * len(spec.photos)


def make_still(directory: Path) -> Path:
    """Write the stand-in photo: a softened Mandelbrot close-up with a vignette."""
    dst = directory / "still.png"
    if dst.exists():
        return dst
    w, h = STILL_SIZE
    source = f"mandelbrot=s={w}x{h}:start_scale=0.01:start_x=-0.7453:start_y=0.1127:maxiter=600"
    source += ":outer=normalized_iteration_count:inner=period"
    _ffmpeg(["-f", "lavfi", "-i", f"{source},gblur=sigma=1.5,vignette", "-frames:v", "1", str(dst)])
    return dst


def make(spec: ClipSpec, directory: Path, photos: Path | None = None) -> Clip:
    """Write `spec` as an H.264 mp4 (AAC audio if asked) under `directory`, and its clean picture if
    it has grain; reuse identical ones. `photos` is the sample photos' folder (None: a stand-in)."""
    stills = photo_paths(spec, directory, photos)
    key = digest(spec, stills)
    dst = directory / f"{spec.name}-{key}.mp4"
    clean = directory / f"{spec.name}-{key}.clean.mp4" if spec.grain else None
    for path, grain in ((dst, True), (clean, False)):
        if path is None or path.exists():
            continue
        tmp = path.with_suffix(".part.mp4")
        try:
            _ffmpeg([*encode_args(spec, stills, grain), str(tmp)])
        except subprocess.CalledProcessError:
            if spec.kind != "text":
                raise
            # No font for drawtext on this box: a screen of flat graphics stands in for the text.
            graph = scenes.animation(*spec.size, spec.seconds, spec.fps)
            return make(ClipSpec(spec.name, spec.kind, spec.size, spec.seconds, spec.audio, graph), directory)
        tmp.rename(path)
    return Clip(spec.name, spec.kind, *spec.size, spec.seconds, spec.audio, dst, clean)


def encode_args(spec: ClipSpec, stills: Sequence[Path], grain: bool = True) -> list[str]:
    """ffmpeg arguments (without the output) that render and encode `spec`: as the user sends it
    (`grain`), or its clean picture, nearly lossless and silent."""
    args = [a for still in stills for a in ("-loop", "1", "-framerate", str(spec.fps), "-i", str(still))]
    audio = spec.audio and grain
    if audio:
        args += ["-f", "lavfi", "-i", f"sine=frequency=440:beep_factor=4:duration={spec.seconds:g}"]
    args += ["-filter_complex", f"{spec.picture(grain)},{TO_BT709}[v]", "-map", "[v]"]
    if audio:
        args += ["-map", f"{len(stills)}:a", *AUDIO]
    encode = [*ENCODE, *bitrate_cap(spec.seconds)] if grain else CLEAN_ENCODE
    return [*args, "-t", f"{spec.seconds:g}", *encode, "-r", str(spec.fps), "-movflags", "+faststart"]


def digest(spec: ClipSpec, stills: Sequence[Path] = ()) -> str:
    """A short hash of everything that shapes the clip, so a changed recipe is never reused."""
    shaping = (ENCODE, bitrate_cap(spec.seconds), CLEAN_ENCODE, TO_BT709, AUDIO, STILL_SIZE)
    text = repr((spec, [str(s) for s in stills], *shaping))
    return hashlib.sha256(text.encode()).hexdigest()[:8]


def build(directory: Path, quick: bool, photos: Path | None = None) -> list[Clip]:
    """Make (or reuse) every clip of the corpus under `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    return [make(spec, directory, photos) for spec in specs(quick)]


def _ffmpeg(args: list[str]) -> None:
    """Run ffmpeg on trusted generator input; raise CalledProcessError if it fails."""
    argv = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *args]
    subprocess.run(argv, check=True, stdin=subprocess.DEVNULL, timeout=GENERATE_TIMEOUT_S)
