"""The part of the picture to keep: black bars removed, a centred square, and the crop filter step.

Pure: boxes are fractions of the decoded frame, so they hold whatever the pixel shape or rotation;
jobs.bars finds the bars, this module only does the arithmetic and builds the filter node.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # probe imports this module; MediaInfo is only a type here
    from jobs.probe import MediaInfo


@dataclass(frozen=True)
class Box:
    """A rectangle as fractions (0..1) of the frame's width (x, w) and height (y, h)."""

    x: float = 0.0
    y: float = 0.0
    w: float = 1.0
    h: float = 1.0


WHOLE = Box()


def framed(info: MediaInfo, bars: Box | None, square: bool) -> MediaInfo:
    """`info` with the crop to apply (the picture inside `bars`, then its centred square if asked)
    and the display size that crop leaves; `info` itself when nothing is cut."""
    box = bars or WHOLE
    if square:
        box = _centred_square(box, info.width, info.height)
    if box == WHOLE:
        return info
    width, height = max(2, round(info.width * box.w)), max(2, round(info.height * box.h))
    if square:  # rounding must not make a square 1 px off
        width = height = min(width, height)
    return replace(info, width=width, height=height, crop=box)


def _centred_square(box: Box, width: int, height: int) -> Box:
    """The largest square, in display pixels, centred inside `box` of a width x height picture."""
    shown_w, shown_h = width * box.w, height * box.h
    side = min(shown_w, shown_h)
    w, h = box.w * side / shown_w, box.h * side / shown_h
    return Box(box.x + (box.w - w) / 2, box.y + (box.h - h) / 2, w, h)


def crop_step(video: Any, box: Box | None) -> Any:
    """The crop filter keeping `box` of each frame (nothing if None)."""
    if box is None or box == WHOLE:
        return video
    return video.filter(
        "crop", w=f"iw*{_frac(box.w)}", h=f"ih*{_frac(box.h)}", x=f"iw*{_frac(box.x)}", y=f"ih*{_frac(box.y)}"
    )


def _frac(value: float) -> str:
    """A fraction for a filter expression, without float noise."""
    return f"{value:.6f}"
