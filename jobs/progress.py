"""How far a conversion has got, as rising fractions 0..1 for the user's status message.

ffmpeg prints nothing on -progress until palettegen has seen every frame, so the first share of a
run is measured from how far ffmpeg has read its input (Linux /proc), the rest from its clock.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path

logger = logging.getLogger(__name__)

# Share of a conversion spent reading the input and building the palette: 0.55-0.65 on bench's
# corpus since the frames are rounded first (it was ~0.85 when palettegen dominated).
DECODE_SHARE = 0.6
PROGRESS_POLL_S = 0.3


class Progress:
    """Pass on rising fractions only (a retry restarts ffmpeg's clock); drop a callback that fails."""

    def __init__(self, callback: Callable[[float], None] | None) -> None:
        self.callback, self.last = callback, -1.0

    def __call__(self, fraction: float) -> None:
        if self.callback is None or fraction <= self.last:
            return
        self.last = fraction
        try:
            self.callback(fraction)
        except Exception:  # cosmetic: a failing progress display must not fail the conversion
            logger.exception("progress callback failed; no further progress reported")
            self.callback = None


class RunProgress:
    """Report one ffmpeg run: its input read offset while decoding, then its -progress clock."""

    def __init__(
        self, report: Callable[[float], None], src: Path, expected_bytes: int, expected_us: float
    ) -> None:
        self.report, self.src = report, src
        self.expected_bytes, self.expected_us = expected_bytes, expected_us
        self._stopped = threading.Event()
        self.frames = 0  # frames written so far, by ffmpeg's -progress (its first output's)

    def on_start(self, pid: int) -> None:
        """Watch, from a daemon thread until stop(), how far process `pid` has read the input."""
        watch = threading.Thread(
            target=_watch_input,
            args=(pid, self.src, self.expected_bytes, self.report, self._stopped),
            daemon=True,
        )
        watch.start()

    def on_line(self, line: str) -> None:
        """Report the encode phase from one line of ffmpeg's -progress output."""
        key, _, value = line.partition("=")
        if key == "frame" and value.isdigit():
            self.frames = int(value)
        out_us = out_time_us(line)
        if out_us is not None:
            self.report(DECODE_SHARE + (1 - DECODE_SHARE) * min(1.0, out_us / self.expected_us))

    def stop(self) -> None:
        """Stop watching the input: the run is over."""
        self._stopped.set()


def out_time_us(line: str) -> int | None:
    """Return the output time an `out_time_us=N` -progress line reports, None for any other line."""
    key, _, value = line.partition("=")
    return int(value) if key == "out_time_us" and value.isdigit() else None


def _watch_input(
    pid: int, src: Path, expected_bytes: int, report: Callable[[float], None], stop: threading.Event
) -> None:
    """Report the decode phase's progress from the input file's read offset until `stop`."""
    while not stop.wait(PROGRESS_POLL_S):
        position = _read_offset(pid, src)
        if position is not None:
            report(DECODE_SHARE * min(1.0, position / expected_bytes))


def _read_offset(pid: int, src: Path) -> int | None:
    """How far process `pid` has read `src` (Linux /proc), None if unknown."""
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            if os.readlink(f"/proc/{pid}/fd/{fd}") == str(src):
                with open(f"/proc/{pid}/fdinfo/{fd}") as info:
                    for line in info:
                        if line.startswith("pos:"):
                            return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None
