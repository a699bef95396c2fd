"""Read back how a GIF looks: its colours against a reference (CIEDE2000), combing, frame spacing.

Frames are decoded by ffmpeg to raw RGB; the arithmetic is plain Python on small frames.
"""

from __future__ import annotations

import math
import subprocess
from pathlib import Path

# Colour is compared on frames shrunk (area average) to this size: a GIF's ordered dither puts a
# fixed pattern of neighbouring palette colours where the eye, and so the average, sees one colour.
COMPARE_SIZE = (80, 60)
_WHITE = (0.95047, 1.0, 1.08883)  # D65


def rgb_frames(path: Path, count: int, size: tuple[int, int] | None = None) -> list[bytes]:
    """The first `count` frames of `path` as packed rgb24 (area-scaled to `size` if given)."""
    scale = f"scale={size[0]}:{size[1]}:flags=area," if size else ""
    argv = ["ffmpeg", "-nostdin", "-v", "error", "-i", str(path), "-frames:v", str(count)]
    argv += ["-vf", f"{scale}format=rgb24", "-f", "rawvideo", "-"]
    data = subprocess.run(argv, check=True, capture_output=True, timeout=60).stdout
    width, height = size or _size(path)
    step = width * height * 3
    return [data[i : i + step] for i in range(0, len(data) - step + 1, step)]


def mean_delta_e(a: Path, b: Path, frames: int = 3) -> float:
    """Mean CIEDE2000 between the first `frames` frames of two videos/GIFs, at COMPARE_SIZE."""
    pairs = zip(rgb_frames(a, frames, COMPARE_SIZE), rgb_frames(b, frames, COMPARE_SIZE), strict=True)
    totals = [
        sum(ciede2000(lab(*x[i : i + 3]), lab(*y[i : i + 3])) for i in range(0, len(x), 3)) / (len(x) // 3)
        for x, y in pairs
    ]
    return sum(totals) / len(totals)


def combing(path: Path, frames: int = 6) -> float:
    """Mean zig-zag energy of the first `frames` frames: max(0, -(a - b) * (b - c)) for every three
    vertically adjacent luma values a, b, c (0-255 scale).

    An edge in a progressive picture changes one way down a column (a product >= 0, no energy);
    a combed one alternates with every row, each from the other field, half a frame time away.
    """
    width, height = _size(path)
    energies = []
    for rgb in rgb_frames(path, frames):
        luma = [sum(rgb[i : i + 3]) / 3 for i in range(0, len(rgb), 3)]
        rows = [luma[y * width : (y + 1) * width] for y in range(height)]
        total = sum(
            max(0.0, -(a - b) * (b - c))
            for y in range(height - 2)
            for a, b, c in zip(rows[y], rows[y + 1], rows[y + 2], strict=True)
        )
        energies.append(total / (width * (height - 2)))
    return sum(energies) / len(energies)


def delays(path: Path) -> list[float]:
    """Each frame's display time in seconds (a GIF's delays), in order."""
    argv = ["ffprobe", "-v", "error", "-show_entries", "packet=duration_time", "-of", "csv=p=0", str(path)]
    out = subprocess.run(argv, check=True, capture_output=True, text=True, timeout=60).stdout
    return [float(line) for line in out.split()]


def _size(path: Path) -> tuple[int, int]:
    """The width and height of the first video stream."""
    argv = ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "stream=width,height"]
    out = subprocess.run([*argv, "-of", "csv=p=0", str(path)], check=True, capture_output=True, text=True)
    width, height = out.stdout.strip().split(",")[:2]
    return int(width), int(height)


def lab(r: int, g: int, b: int) -> tuple[float, float, float]:
    """CIE L*a*b* (D65) of an sRGB colour."""

    def linear(c: int) -> float:
        v = c / 255
        return v / 12.92 if v <= 0.04045 else ((v + 0.055) / 1.055) ** 2.4

    rl, gl, bl = linear(r), linear(g), linear(b)
    xyz = (
        (0.4124 * rl + 0.3576 * gl + 0.1805 * bl) / _WHITE[0],
        (0.2126 * rl + 0.7152 * gl + 0.0722 * bl) / _WHITE[1],
        (0.0193 * rl + 0.1192 * gl + 0.9505 * bl) / _WHITE[2],
    )
    fx, fy, fz = (t ** (1 / 3) if t > 0.008856 else 7.787 * t + 16 / 116 for t in xyz)
    return 116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)


def ciede2000(lab1: tuple[float, float, float], lab2: tuple[float, float, float]) -> float:
    """The CIEDE2000 colour difference (Sharma, Wu and Dalal's formulation)."""
    (l1, a1, b1), (l2, a2, b2) = lab1, lab2
    c_mean = (math.hypot(a1, b1) + math.hypot(a2, b2)) / 2
    g = 0.5 * (1 - math.sqrt(c_mean**7 / (c_mean**7 + 25**7)))
    a1p, a2p = (1 + g) * a1, (1 + g) * a2
    c1p, c2p = math.hypot(a1p, b1), math.hypot(a2p, b2)
    h1p, h2p = math.degrees(math.atan2(b1, a1p)) % 360, math.degrees(math.atan2(b2, a2p)) % 360
    dh = 0.0 if c1p * c2p == 0 else (h2p - h1p + 180) % 360 - 180
    d_hue = 2 * math.sqrt(c1p * c2p) * math.sin(math.radians(dh / 2))
    l_mean, cp_mean = (l1 + l2) / 2, (c1p + c2p) / 2
    if c1p * c2p == 0:
        h_mean = h1p + h2p
    elif abs(h1p - h2p) <= 180:
        h_mean = (h1p + h2p) / 2
    else:
        h_mean = (h1p + h2p + 360) / 2 if h1p + h2p < 360 else (h1p + h2p - 360) / 2
    t = (
        1
        - 0.17 * math.cos(math.radians(h_mean - 30))
        + 0.24 * math.cos(math.radians(2 * h_mean))
        + 0.32 * math.cos(math.radians(3 * h_mean + 6))
        - 0.20 * math.cos(math.radians(4 * h_mean - 63))
    )
    s_l = 1 + 0.015 * (l_mean - 50) ** 2 / math.sqrt(20 + (l_mean - 50) ** 2)
    s_c, s_h = 1 + 0.045 * cp_mean, 1 + 0.015 * cp_mean * t
    r_t = (
        -math.sin(math.radians(60 * math.exp(-(((h_mean - 275) / 25) ** 2))))
        * 2
        * math.sqrt(cp_mean**7 / (cp_mean**7 + 25**7))
    )
    dl, dc, dhue = (l2 - l1) / s_l, (c2p - c1p) / s_c, d_hue / s_h
    return math.sqrt(dl**2 + dc**2 + dhue**2 + r_t * dc * dhue)
