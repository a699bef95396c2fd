"""The fit measurement (jobs.palettes) in an ffmpeg run of its own, beside the conversion.

The conversion writes a small sampled copy of its frames to disk as it makes them. ffmpeg maps no
frame to the palette before palettegen has seen every frame, so the first line of its -progress
output means every sample is on disk: the measuring run starts then, on a thread, while the
conversion maps and encodes its frames and gifsicle repacks them. Inside the conversion's graph the
measurement took ~0.3 s of a 4 s clip's one ffmpeg process (README, Performance).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

from jobs import palettes
from jobs.runner import run

log = logging.getLogger(__name__)


class Measurement:
    """One GIF's measuring run: started by the conversion's first -progress line (or by gain()),
    waited for by gain() and close(); close() also removes the files."""

    def __init__(self, files: palettes.FitFiles, width: int, height: int, deadline: float) -> None:
        self.files = files
        self.argv = palettes.measure_args(files, width, height)
        self.deadline = deadline  # time.monotonic() by which the run must be done
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="measure")
        self._lock = threading.Lock()
        self._run: Future[None] | None = None

    def on_line(self, _line: str) -> None:
        """A -progress line of the conversion: its samples are all written, so the run starts."""
        self.start()

    def start(self) -> None:
        """Start the measuring run, once."""
        with self._lock:
            if self._run is None:
                timeout = max(1.0, self.deadline - time.monotonic())
                self._run = self._pool.submit(run, self.argv, timeout)

    def done(self) -> bool:
        """Whether the run has ended (gain() then answers at once)."""
        with self._lock:
            return self._run is not None and self._run.done()

    def gain(self) -> float:
        """How much per-frame palettes would cut the one palette's error; 0 if the run failed."""
        self.start()  # a conversion that printed no progress line: measure now
        assert self._run is not None
        try:
            self._run.result()
        except Exception as exc:  # it only chooses the palette: any failure means one
            log.warning("the palette measurement failed (%s); keeping one palette", type(exc).__name__)
            return 0.0
        return palettes.per_frame_gain(self.files.stats)

    def close(self) -> None:
        """Wait for the run if it was started (no child is left behind), remove the files."""
        with self._lock:
            started = self._run
        if started is not None:
            with contextlib.suppress(Exception):  # told by gain(), if it was asked
                started.result()
        self._pool.shutdown(wait=True)
        for path in self.files.all():
            path.unlink(missing_ok=True)


def with_measurement(
    on_line: Callable[[str], None], measurement: Measurement | None
) -> Callable[[str], None]:
    """The conversion's -progress lines to `on_line`, and to the measurement if there is one."""
    if measurement is None:
        return on_line

    def both(line: str) -> None:
        on_line(line)
        measurement.on_line(line)

    return both
