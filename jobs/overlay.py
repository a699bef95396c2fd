"""Meme text on the GIF: lines written to files in the attempt's temp dir, drawn by drawtext.

The user's words reach ffmpeg only through those files (`textfile=`, `expansion=none`): never in
the argv or the filter graph, so no quote, colon, bracket or `%{...}` in them can mean anything.
Long text is wrapped (at word breaks, or between CJK characters) into up to MAX_LINES balanced
lines, each centred on its own, and the font shrinks until the widest line fits the frame.
"""

from __future__ import annotations

import bisect
import functools
import re
import subprocess
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.memetext import FACES, MemeText, face_for

MAX_LINES = 4  # per side (top, bottom)
MARGIN = 0.04  # of the frame's width on each side, of its height above and below
MAX_SIZE = 0.15  # the font size at most, as a share of the frame's shorter side
SIDE_SHARE = 0.3  # each side's block of lines at most this share of the frame's height
LINE_STEP = 1.2  # baseline to baseline, in font sizes
ASCENT, DESCENT = 0.9, 0.2  # the glyphs' reach above and below the baseline, in font sizes
LONG_WORD = 12.0  # ems: a word (say a URL) longer than this may break between its characters
BORDER = 1 / 14  # the black outline's width, in font sizes (at least 1 px)
# Noto Sans CJK Bold's Latin advance widths (ASCII 32..126, hundredths of an em, rounded up),
# measured with drawtext's text_w. Wide (CJK) characters are 1 em; anything else unknown is taken
# as 1 em too, so an estimate errs towards a smaller font, never a cut-off line.
ASCII_WIDTHS = (
    23, 37, 58, 59, 59, 97, 74, 33, 38, 38, 51, 59, 33, 37, 33, 39, 59, 59, 59, 59, 59, 59, 59, 59,
    59, 59, 33, 33, 59, 59, 59, 52, 101, 64, 68, 66, 72, 62, 59, 72, 76, 33, 57, 69, 58, 86, 75, 77,
    67, 77, 68, 63, 63, 75, 62, 92, 63, 58, 62, 38, 39, 38, 59, 57, 63, 59, 65, 53, 65, 58, 37, 60,
    64, 31, 31, 61, 32, 97, 64, 63, 65, 65, 44, 50, 42, 64, 58, 87, 56, 58, 51, 38, 30, 38, 59,
)  # fmt: skip
FC_MATCH_TIMEOUT_S = 10
BOLD = ":style=Bold"  # a fontconfig pattern: drawtext tries `fontfile` as a file, then as a pattern
# What a text file's path may hold: the graph is escaped by ffmpeg-python anyway, but a path of
# plain characters cannot mean anything to the filter parser even if that escaping were wrong.
SAFE_PATH = re.compile(r"[A-Za-z0-9_./-]+")
_SPACES = re.compile(" {2,}")


class UnsafeTextPath(Exception):
    """The temp dir's path holds characters that could be filter syntax (set GIFBOT_TMP_DIR)."""


@dataclass(frozen=True)
class Line:
    """One line of text in its file, and its estimated width in ems."""

    path: Path
    ems: float


@dataclass(frozen=True)
class Meme:
    """The text files to draw: per side, one wrapping for each line count (1..MAX_LINES)."""

    face: str
    top: tuple[tuple[Line, ...], ...] = ()
    bottom: tuple[tuple[Line, ...], ...] = ()


@dataclass(frozen=True)
class Placed:
    """A side's lines at a frame size: which wrapping, the font size and each line's baseline."""

    lines: tuple[Line, ...]
    size: int
    baselines: tuple[int, ...]


def ems(text: str) -> float:
    """The estimated width of `text` in ems of Noto Sans CJK Bold."""
    total = 0.0
    for char in text:
        code = ord(char)
        if 32 <= code <= 126:
            total += ASCII_WIDTHS[code - 32] / 100
        elif not unicodedata.combining(char):
            total += 1.0
    return total


def tokens(text: str) -> list[str]:
    """Split into pieces a line may break between: words, and each wide (CJK) character."""
    pieces: list[str] = []
    for word in text.split(" "):
        run = ""
        for char in word:
            if unicodedata.east_asian_width(char) in ("W", "F"):
                pieces += [run, char] if run else [char]
                run = ""
            else:
                run += char
        pieces += [run] if run else []
        pieces.append(" ")
    return pieces[:-1]


def wrap(text: str, count: int) -> list[str]:
    """Break `text` into at most `count` lines of about equal width (greedy, widening until it fits);
    only a word too long for any line (over LONG_WORD ems and a line's share) breaks inside."""
    limit = ems(text) / count
    long_word = max(limit, LONG_WORD)
    pieces = [part for piece in tokens(text) for part in (piece if ems(piece) > long_word else [piece])]
    while True:
        lines, line = [], ""
        for piece in pieces:
            if line.strip() and piece != " " and ems((line + piece).strip()) > limit:
                lines.append(line.strip())
                line = ""
            line += piece
        lines = [x for x in (*lines, line.strip()) if x]
        if len(lines) <= count:
            return lines
        limit *= 1.05


def drawable(text: str, face: str) -> str:
    """`text` without the characters `face` has no glyph for (emoji, say: drawtext would draw each
    as an empty box), spaces closed up; as it is if fontconfig cannot tell."""
    ranges = charset(face)
    if ranges is None:
        return text
    kept = "".join(char if char == " " or _covered(ranges, ord(char)) else " " for char in text)
    return _SPACES.sub(" ", kept).strip(" ")


@functools.cache
def charset(face: str) -> tuple[tuple[int, int], ...] | None:
    """The code point ranges of the font drawtext finds for `face` (fontconfig's own match), or
    None if fc-match is missing or says nothing (then no character is dropped)."""
    try:
        done = subprocess.run(
            ["fc-match", "-f", "%{charset}", face + BOLD],
            capture_output=True,
            text=True,
            timeout=FC_MATCH_TIMEOUT_S,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    ranges = []
    for part in done.stdout.split():
        low, _, high = part.partition("-")
        try:
            ranges.append((int(low, 16), int(high or low, 16)))
        except ValueError:
            return None
    return tuple(sorted(ranges)) if done.returncode == 0 and ranges else None


def warm_up() -> None:
    """Ask fontconfig now (in the worker, before forking) so no job with text pays for it."""
    for face in {face_for(""), *FACES.values()}:
        charset(face)


def _covered(ranges: tuple[tuple[int, int], ...], code: int) -> bool:
    at = bisect.bisect_right(ranges, (code, 0x10FFFF)) - 1
    return at >= 0 and ranges[at][0] <= code <= ranges[at][1]


def write(folder: Path, text: MemeText, lang: str) -> Meme:
    """Write every line of every wrapping into its own file in `folder` (the attempt's temp dir)."""
    sides, face = {}, face_for(lang)
    for side, raw in (("top", text.top), ("bottom", text.bottom)):
        words = drawable(raw, face)
        wrappings, seen = [], set()
        for count in range(1, MAX_LINES + 1) if words else ():
            lines = tuple(wrap(words, count))
            if lines in seen:
                continue
            seen.add(lines)
            files = []
            for index, line in enumerate(lines):
                path = folder / f"text-{side}-{count}-{index}.txt"
                path.write_text(line, encoding="utf-8")
                files.append(Line(checked(path), ems(line)))
            wrappings.append(tuple(files))
        sides[side] = tuple(wrappings)
    return Meme(face, **sides)


def checked(path: Path) -> Path:
    """`path`, absolute, if it holds only plain characters; UnsafeTextPath otherwise."""
    path = path.absolute()
    if not SAFE_PATH.fullmatch(str(path)):
        raise UnsafeTextPath(f"text file path {str(path)!r} holds characters other than [A-Za-z0-9_./-]")
    return path


def place(wrappings: tuple[tuple[Line, ...], ...], width: int, height: int, top: bool) -> Placed | None:
    """Pick the wrapping that allows the largest font on a width x height frame, and place it."""
    best: tuple[float, tuple[Line, ...]] | None = None
    for lines in wrappings:
        widest = max(line.ems for line in lines) + 2 * BORDER
        block = ASCENT + DESCENT + (len(lines) - 1) * LINE_STEP
        size = min(
            MAX_SIZE * min(width, height), width * (1 - 2 * MARGIN) / widest, SIDE_SHARE * height / block
        )
        if best is None or size > best[0]:
            best = (size, lines)
    if best is None:
        return None
    size, lines = max(1, int(best[0])), best[1]
    if top:
        first = MARGIN * height + ASCENT * size
    else:
        first = height - MARGIN * height - DESCENT * size - (len(lines) - 1) * LINE_STEP * size
    return Placed(lines, size, tuple(round(first + i * LINE_STEP * size) for i in range(len(lines))))


def draw(video: Any, meme: Meme, width: int, height: int) -> Any:
    """Add one drawtext per line: white, outlined in black, centred, baselines where place() put them."""
    for wrappings, top in ((meme.top, True), (meme.bottom, False)):
        placed = place(wrappings, width, height, top)
        if placed is None:
            continue
        for line, baseline in zip(placed.lines, placed.baselines, strict=True):
            video = video.filter("drawtext", **drawtext_options(meme.face, line.path, placed.size, baseline))
    return video


def drawtext_options(face: str, path: Path, size: int, baseline: int) -> dict[str, str]:
    """drawtext's options for one line; the text is only ever read from `path`."""
    return {
        "textfile": str(checked(path)),
        "expansion": "none",
        "font": face,
        "fontfile": BOLD,
        "fontsize": str(size),
        "fontcolor": "white",
        "bordercolor": "black",
        "borderw": str(max(1, round(size * BORDER))),
        "x": "(w-text_w)/2",
        "y": f"{baseline}-max_glyph_a",  # baseline at `baseline` whichever glyphs the line has
    }
