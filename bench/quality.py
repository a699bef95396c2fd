"""How close a GIF is to its source: ffmpeg's ssim filter against the source at the GIF's size and fps."""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

SSIM_TIMEOUT_S = 600
# ffmpeg's ssim filter ends with a summary line, e.g.
# "[Parsed_ssim_9 @ 0x5a] SSIM Y:0.912 (10.5) U:0.97 (15.2) V:0.96 (14.1) All:0.93 (11.6)"
_SUMMARY = re.compile(r"SSIM\s+(?P<planes>(?:\w+:\s*[0-9.]+\s*\([^)]*\)\s*)+)")
_PLANE = re.compile(r"(\w+):\s*([0-9.]+)")


class SsimMissing(RuntimeError):
    """ffmpeg printed no SSIM summary (the inputs did not decode, or had no frame in common)."""


@dataclass(frozen=True)
class Window:
    """What the GIF was made from: source seconds [start, end), sample rate and output size."""

    start: float
    end: float
    fps: float
    width: int
    height: int


def parse_ssim(stderr: str) -> dict[str, float]:
    """Return the per-plane SSIM of the last summary line in ffmpeg's stderr, e.g. {'Y': .9, 'All': .93}."""
    found = list(_SUMMARY.finditer(stderr))
    if not found:
        raise SsimMissing("no SSIM summary in ffmpeg's output")
    return {plane: float(value) for plane, value in _PLANE.findall(found[-1].group("planes"))}


def reference_chain(window: Window) -> str:
    """The source as the GIF should look: same fps and trim as the product, scaled with lanczos."""
    return (
        f"fps=fps={window.fps:g},trim=start={window.start:g}:end={window.end:g},setpts=PTS-STARTPTS,"
        f"scale={window.width}:{window.height}:flags=lanczos"
    )


def ssim_argv(gif: Path, source: Path, window: Window) -> list[str]:
    """The ffmpeg argv that compares `gif` frame by frame with the reference made from `source`."""
    # The GIF is resampled to the window's rate first: an encoder may merge identical frames into one
    # with a longer delay (gifski does), so pairing its frames by index would compare the wrong ones.
    # Its delays are in 1/100 s, so a frame's time is up to half a tick off: `round=near` takes the
    # frame nearest each slot. Then both sides are renumbered 0, 1, 2... and pair by index. The GIF's
    # RGB goes to YUV with BT.709, the matrix of the corpus (and of phones' videos).
    renumber = f"settb=1/{window.fps:g},setpts=N,scale=out_color_matrix=bt709:out_range=tv,format=yuv444p"
    resample = f"fps=fps={window.fps:g}:round=near"
    graph = f"[0:v]{resample},{renumber}[gif];[1:v]{reference_chain(window)},{renumber}[ref]"
    graph += ";[gif][ref]ssim=shortest=1"
    head = ["ffmpeg", "-nostdin", "-hide_banner", "-nostats", "-loglevel", "info"]
    return [
        *head,
        "-i",
        str(gif),
        "-t",
        f"{window.end + 1:g}",
        "-i",
        str(source),
        "-filter_complex",
        graph,
        "-f",
        "null",
        "-",
    ]


def ssim(gif: Path, source: Path, window: Window) -> float:
    """Mean SSIM (all planes) of `gif` against `source` scaled to the same size and fps."""
    proc = subprocess.run(
        ssim_argv(gif, source, window),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=SSIM_TIMEOUT_S,
    )
    if proc.returncode != 0:
        raise SsimMissing(f"ffmpeg ssim exited {proc.returncode}: {proc.stderr[-300:]}")
    return parse_ssim(proc.stderr)["All"]
