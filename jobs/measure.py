"""The fit measurement (jobs.palettes) in an ffmpeg run of its own, beside the conversion.

The conversion writes a small sampled copy of its frames to disk as it makes them. The measuring
run starts with the conversion (its start-up is done by the time it is needed) and reads them
through a FIFO, which a thread here fills once every sample is written. ffmpeg maps no frame to the
palette before palettegen has seen every frame, so the first line of the conversion's -progress
output means every sample is on disk (or the conversion's end, if it printed no line). The
measurement then runs beside the mapping, which leaves a CPU free. Fed as the samples were
written, it ran beside the decoding and slowed it more than it gained: bench's corpus took 3 %
longer (camera footage ~0.06 s a clip; a clip with a short mapping, such as the noisy gradients,
~0.05 s less). If the measuring run dies, the feed stops and the conversion goes on unharmed (it
never writes to the FIFO itself).
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

from jobs import fifo, palettes
from jobs.runner import run

log = logging.getLogger(__name__)

_CHUNK = 1 << 16


class Measurement:
    """One GIF's measuring run: started with the conversion (start()), fed at its first -progress
    line (or once it ended), waited for by gain() and close(); close() also removes the files."""

    def __init__(self, files: palettes.FitFiles, width: int, height: int, deadline: float) -> None:
        self.files = files
        self.argv = palettes.measure_args(files, width, height)
        self.deadline = deadline  # time.monotonic() by which the run must be done
        self._pool = ThreadPoolExecutor(2, thread_name_prefix="measure")
        self._lock = threading.Lock()
        self._run: Future[None] | None = None
        self._feed: Future[None] | None = None
        self._written = threading.Event()  # every sample is on disk

    def on_line(self, _line: str) -> None:
        """A -progress line of the conversion: its samples are all written."""
        self._written.set()

    def start(self) -> None:
        """Start the measuring run and its feed, once (before the conversion, or late by gain())."""
        with self._lock:
            if self._run is not None:
                return
            try:
                os.mkfifo(self.files.feed, 0o600)
            except OSError as exc:
                self._run = Future()
                self._run.set_exception(exc)  # gain() tells: one palette
                return
            timeout = max(1.0, self.deadline - time.monotonic())
            self._run = self._pool.submit(run, self.argv, timeout)
            self._feed = self._pool.submit(self._feed_samples, self._run)

    def done(self) -> bool:
        """Whether the run has ended (gain() then answers at once)."""
        with self._lock:
            return self._run is not None and self._run.done()

    def finished(self, timeout: float) -> bool:
        """Whether the run has ended, waiting up to `timeout` seconds for it (False if not started)."""
        with self._lock:
            run = self._run
        if run is None:
            return False
        with contextlib.suppress(Exception):  # TimeoutError, or the run's own failure (gain() tells)
            run.exception(timeout)
        return run.done()

    def gain(self) -> float:
        """How much per-frame palettes cut the one palette's error; 0 if the run failed. The
        conversion has ended by now: whatever it wrote is every sample there is."""
        self._written.set()
        self.start()
        assert self._run is not None
        try:
            self._run.result()
        except Exception as exc:  # it only chooses the palette: any failure means one
            log.warning("the palette measurement failed (%s); keeping one palette", type(exc).__name__)
            return 0.0
        return palettes.per_frame_gain(self.files.stats)

    def close(self) -> None:
        """Wait for the run and its feed if they were started (no child is left behind), remove
        the files."""
        self._written.set()
        with self._lock:
            started = [f for f in (self._run, self._feed) if f is not None]
        for future in started:
            with contextlib.suppress(Exception):  # told by gain(), if it was asked
                future.result()
        self._pool.shutdown(wait=True)
        for path in self.files.all():
            path.unlink(missing_ok=True)

    def _feed_samples(self, measuring: Future[None]) -> None:
        """Copy the samples file into the FIFO once every sample is written."""
        try:
            if not self._written.wait(max(0.0, self.deadline - time.monotonic())):
                raise TimeoutError("the conversion ran out of time")
            with (
                fifo.writer(self.files.feed, measuring.done) as feed,
                open(self.files.frames, "rb") as samples,
            ):
                shutil.copyfileobj(samples, feed, _CHUNK)
        except (OSError, TimeoutError) as exc:  # the run died or the conversion never wrote: it ends
            log.debug("the measurement's feed stopped: %s", exc)


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
