"""The shorter of two encodings of each GIF frame, spliced into one GIF (no pixel changes).

A measured conversion encodes its paletted frames twice in the same ffmpeg run (jobs.recipe): once
with unchanged pixels made transparent (ffmpeg's default) and once without. Transparency shortens a
frame where little changed and lengthens one where grain breaks every run of colour, so neither
encoding is the smaller for every frame. Both show the same picture after every frame (each crops
to the same changed rectangle of the same previous picture, and neither clears it), so a frame of
one can follow a frame of the other: the spliced GIF shows exactly the pixels of either, at the same times.
On bench's corpus it keeps ~80 % of what gifsicle's -O2 repack took off, in a few milliseconds
instead of 0.1-0.3 s after ffmpeg's last frame (README, Performance).

Reads the GIF's block layout only (no LZW decoding). Anything it does not expect (another kind of
block after the first frame, a frame that clears its area, two files that do not match, a cut-off
file) makes it keep ffmpeg's GIF as it is.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

_EXTENSION, _IMAGE, _TRAILER = 0x21, 0x2C, 0x3B
_CONTROL = 0xF9  # graphic control extension: the frame's delay, disposal and transparent index
_KEEP_DISPOSALS = (0, 1)  # unspecified, do not dispose: the next frame draws over this one
_FLAGS = 8 + 9  # a frame's descriptor flags: after its control extension, 9 bytes into the descriptor


@dataclass(frozen=True)
class Layout:
    """A GIF cut at its frames: everything before the first frame, then each frame's bytes (its
    graphic control extension, descriptor, local colour table and image data)."""

    head: bytes
    frames: tuple[bytes, ...]


def layout(data: bytes) -> Layout | None:
    """The GIF `data` cut at its frames, or None for anything but frames that keep what they draw,
    each a control extension and an image, after a head of extensions and ended by a trailer."""
    try:
        return _layout(data)
    except (IndexError, ValueError):
        return None


def _layout(data: bytes) -> Layout | None:
    if data[:6] not in (b"GIF87a", b"GIF89a"):
        return None
    pos = 13 + _colour_table(data[10])
    head_end: int | None = None
    frames: list[bytes] = []
    control: int | None = None  # where the current frame's control extension starts
    while (kind := data[pos]) != _TRAILER:
        if kind == _EXTENSION:
            start, label = pos, data[pos + 1]
            pos = _sub_blocks(data, pos + 2)
            if label == _CONTROL:  # 4 bytes: flags (disposal in bits 2-4), delay, transparent index
                disposal = (data[start + 3] >> 2) & 7
                if control is not None or data[start + 2] != 4 or disposal not in _KEEP_DISPOSALS:
                    return None
                control = start
            elif frames or control is not None:  # only the head may hold other extensions
                return None
        elif kind == _IMAGE and control is not None:
            if head_end is None:
                head_end = control
            pos = _sub_blocks(data, pos + 10 + _colour_table(data[pos + 9]) + 1)
            frames.append(data[control:pos])
            control = None
        else:
            return None
    if head_end is None or control is not None:
        return None
    return Layout(data[:head_end], tuple(frames))


def _colour_table(flags: int) -> int:
    """The bytes of the colour table that a screen or image descriptor's `flags` announce."""
    return 3 * (2 << (flags & 7)) if flags & 0x80 else 0


def _sub_blocks(data: bytes, pos: int) -> int:
    """Where the data sub-blocks starting at `pos` end (past their 0 terminator)."""
    while size := data[pos]:  # IndexError past the end of a cut-off file
        pos += size + 1
    return pos + 1


def splice_smaller(first: Path, second: Path) -> bool:
    """Rewrite `first` with, for each frame, the shorter of its and `second`'s encoding, if the two
    GIFs match frame for frame and that makes it smaller; True if it did. `second` is left as is."""
    try:
        one, other = layout(first.read_bytes()), layout(second.read_bytes())
    except OSError as exc:
        log.warning("could not read the GIF's two encodings (%s); keeping ffmpeg's", exc)
        return False
    if one is None or other is None or one.head != other.head or len(one.frames) != len(other.frames):
        log.warning("the GIF's two encodings do not match; keeping ffmpeg's")
        return False
    frames = [min(pair, key=len) for pair in zip(one.frames, other.frames, strict=True)]
    if sum(map(len, frames)) >= sum(map(len, one.frames)):
        return False
    spliced = first.with_name(f"{first.stem}-spliced.gif")
    try:
        spliced.write_bytes(b"".join((one.head, *frames, bytes([_TRAILER]))))
        spliced.replace(first)
    except OSError as exc:
        log.warning("could not write the spliced GIF (%s); keeping ffmpeg's", exc)
        spliced.unlink(missing_ok=True)
        return False
    return True


def join_parts(first: Path, keep: int, second: Path, dst: Path) -> bool:
    """Write `dst` from the first `keep` frames of the GIF `first` and every frame of `second`, a GIF
    of the same size made apart (a per-frame GIF made in two parts): a frame of `second` drawn with
    its global colour table gets that table as its own. False (and no `dst`) if either GIF is not
    as expected or cannot be read or written."""
    try:
        one, other = layout(first.read_bytes()), layout(second.read_bytes())
    except OSError as exc:
        log.warning("could not read the GIF's parts (%s)", exc)
        return False
    if one is None or other is None or len(one.frames) < keep or one.head[6:10] != other.head[6:10]:
        log.warning("the GIF's parts do not match")
        return False
    flags = other.head[10]
    table = other.head[13 : 13 + _colour_table(flags)]
    frames = [*one.frames[:keep], *(_with_table(frame, table, flags & 7) for frame in other.frames)]
    try:
        dst.write_bytes(b"".join((one.head, *frames, bytes([_TRAILER]))))
    except OSError as exc:
        log.warning("could not write the joined GIF (%s)", exc)
        dst.unlink(missing_ok=True)
        return False
    return True


def _with_table(frame: bytes, table: bytes, size_bits: int) -> bytes:
    """`frame` (its control extension's 8 bytes, then its descriptor) with `table` as its own
    colour table, unless it has one (or there is none to give)."""
    flags = frame[_FLAGS]
    if flags & 0x80 or not table:
        return frame
    own = 0x80 | (flags & 0x40) | size_bits  # a table of its own, interlace kept, of the same size
    return frame[:_FLAGS] + bytes([own]) + table + frame[_FLAGS + 1 :]
