"""Which ffmpeg the workers run: the static build that requirements.txt pins (imageio-ffmpeg's wheel),
reached through a link named `ffmpeg` in the virtualenv, so `ps` and the process table call it ffmpeg.

Debian 12's ffmpeg 5.1 runs every filter and both GIF encoders on one thread; ffmpeg 7 and later
run each on its own, and the pinned build converts bench's corpus in about a quarter less time
(README, Performance). ffprobe stays the system's (the wheel has none); it only reads headers.

`IMAGEIO_FFMPEG_EXE=/usr/bin/ffmpeg` (the wheel's own override) runs the system's ffmpeg instead;
without the wheel's binary, the `ffmpeg` on PATH runs.

`python -m jobs.binaries` makes the link (scripts/setup.sh and scripts/test.sh do, as the user who
owns the virtualenv) and prints the ffmpeg the workers will run.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

LINK = Path(sys.prefix) / "libexec" / "gifbot" / "ffmpeg"
OVERRIDE = "IMAGEIO_FFMPEG_EXE"


def ffmpeg() -> str:
    """The ffmpeg binary to run: the override, else the link, else the wheel's binary, else PATH's."""
    override = os.environ.get(OVERRIDE)
    if override:
        return override
    if LINK.exists():
        return str(LINK)
    return str(bundled() or "ffmpeg")


def bundled() -> Path | None:
    """The ffmpeg binary imageio-ffmpeg's wheel ships for this platform, if it is installed (found
    in its folder: the package's own get_ffmpeg_exe() runs the binary once a process to check it)."""
    spec = importlib.util.find_spec("imageio_ffmpeg")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "binaries"
    found = sorted(p for p in folder.glob("ffmpeg-*") if p.is_file() and os.access(p, os.X_OK))
    return found[-1] if found else None


def link() -> Path | None:
    """Point LINK at the wheel's binary (replacing an old link in one step); None without the wheel."""
    target = bundled()
    if target is None:
        return None
    LINK.parent.mkdir(parents=True, exist_ok=True)
    fresh = LINK.with_name(f".ffmpeg.{os.getpid()}")
    fresh.unlink(missing_ok=True)
    fresh.symlink_to(target)
    fresh.replace(LINK)
    return LINK


if __name__ == "__main__":
    made = link()
    print(f"ffmpeg for the workers: {ffmpeg()}" + ("" if made else " (imageio-ffmpeg's binary not found)"))
