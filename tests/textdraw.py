"""Check text drawn on a GIF against reference renders made with a plain command line of the ffmpeg
the workers run (drawtext's placement moved by a pixel between ffmpeg 5.1 and 9).

The references are built here by hand (not with jobs.overlay's filter code): drawtext reads the
text from a file with expansion=none on the frame of the same GIF made without text, at the font
size and baselines jobs.overlay.place chose. Only the geometry comes from the product code.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from core.memetext import MemeText, face_for
from jobs import overlay, recipe
from jobs.fit import convert
from jobs.runner import FFMPEG
from tests import media


@dataclass(frozen=True)
class Frame:
    """One decoded RGB frame."""

    width: int
    height: int
    rgb: bytes


def flat_clip(directory: Path, size: tuple[int, int] = (256, 144)) -> Path:
    """A 1 s clip of one flat colour: after the GIF palette its frame is the same everywhere."""
    dst = directory / "flat.mp4"
    colour = f"color=c=0x406080:s={size[0]}x{size[1]}:r=10:d=1"
    return media.lavfi_clip(dst, colour)


def first_frame(gif: Path) -> Frame:
    """Decode a GIF's (or image's) first frame to RGB."""
    probe = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "stream=width,height",
         "-of", "csv=p=0", str(gif)],
        check=True, capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    width, height = (int(x) for x in probe.stdout.strip().split(","))
    raw = subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-i", str(gif), "-frames:v", "1", "-f", "rawvideo",
         "-pix_fmt", "rgb24", "pipe:1"],
        check=True, capture_output=True, timeout=30,
    ).stdout  # fmt: skip
    assert len(raw) == width * height * 3
    return Frame(width, height, raw)


def gif_of(src: Path, dst: Path, words: MemeText | None, lang: str, folder: Path) -> Path:
    """The workers' recipe on `src` at the default settings, with `words` drawn (files in `folder`)."""
    meme = overlay.write(folder, words, lang) if words else None
    convert(src, dst, recipe.GifOptions(width=480, fps=10, meme=meme), recipe.Limits())
    return dst


def reference(
    base: Path, words: MemeText, lang: str, folder: Path, *, face: str = "", expansion: str = "none"
) -> Frame:
    """`base` (a text-free frame) with each side of `words` (one line each) drawn by a hand-written
    drawtext command that reads it from a file this function writes."""
    frame = first_frame(base)
    face = face or face_for(lang)
    steps = []
    for side, words_on_side, top in (("top", words.top, True), ("bottom", words.bottom, False)):
        path = folder / f"reference-{side}.txt"
        # one line, sized as the product sizes it, whatever glyphs the font has (a box is a glyph too)
        wrappings = ((overlay.Line(path, overlay.ems(words_on_side)),),) if words_on_side else ()
        placed = overlay.place(wrappings, frame.width, frame.height, top)
        if placed is None:
            continue
        path.write_text(words_on_side, encoding="utf-8")
        steps.append(
            f"drawtext=textfile={path}:expansion={expansion}:font={face}"
            rf":fontfile=\\:style\\=Bold:fontsize={placed.size}:fontcolor=white:bordercolor=black"
            f":borderw={max(1, round(placed.size * overlay.BORDER))}:x=(w-text_w)/2"
            f":y={placed.baselines[0]}-max_glyph_a"
        )
    out = folder / "reference.png"
    subprocess.run(
        [FFMPEG, "-nostdin", "-v", "error", "-y", "-i", str(base), "-vf", ",".join(steps),
         "-frames:v", "1", str(out)],
        check=True, timeout=30,
    )  # fmt: skip
    return first_frame(out)


def differing(a: Frame, b: Frame, threshold: int = 64) -> float:
    """The share of pixels whose colour differs by more than `threshold` in some channel."""
    assert (a.width, a.height) == (b.width, b.height)
    count = 0
    for i in range(0, len(a.rgb), 3):
        if max(abs(a.rgb[i + c] - b.rgb[i + c]) for c in range(3)) > threshold:
            count += 1
    return count / (a.width * a.height)
