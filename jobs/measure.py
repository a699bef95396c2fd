"""The fit measurement (jobs.palettes) in an ffmpeg run of its own, beside the conversion.

The conversion writes every frame before its palette to disk (the kept frames). The measuring run
(one palette and a palette per frame, each way's error) starts with the conversion, so its
start-up is done when it is needed, and reads every n-th kept frame (palettes.samples, never the
last two, which ffmpeg may write only as it ends) through a FIFO, which a thread here fills:
- at once, a warm-up frame of zeros, which the run drops: ffmpeg sets its filters up when the
  first frame comes (~0.1 s), so that is done while the video decodes, not after the samples
  came (bench's corpus: 0.8 s less over 12 clips; the run's ~120 MB of RSS are reached early);
- the samples, as soon as the last of them is on disk (or, if the conversion ended first, those
  it wrote). That is near the decoding's end: the run then goes beside palettegen's last step and
  the mapping, which leave a CPU free. Waiting for the conversion's first -progress line (when
  the mapping starts) was 1.6 % slower over the corpus; each sample fed as it landed, beside the
  decoding, 3 % slower.
It gets the very same frames every time: it used to read a small copy the conversion wrote, and
what it measured depended on timing (7 of 8 samples on most of bench's clips; 5 of 7 for a
reversed one). If the measuring run dies, its feed stops and the conversion goes on unharmed (it
never writes to the FIFO itself). Two runs, one a way, ended 0.07 s sooner but cost a process
more a job (palettes.measure_args).
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from concurrent import futures
from concurrent.futures import Future, ThreadPoolExecutor
from typing import BinaryIO

from jobs import fifo, palettes
from jobs.runner import run

log = logging.getLogger(__name__)

FEED_POLL_S = fifo.POLL_S  # how often the feed looks for the kept frames' file and its last samples


class Measurement:
    """One GIF's measuring run (palettes.measure_args), started with the conversion (start()),
    fed once the samples are on disk (or once it ended), waited for by gain() and close(); close()
    also removes the files."""

    def __init__(
        self, files: palettes.FitFiles, width: int, height: int, count: float, deadline: float
    ) -> None:
        self.files = files
        self.argv = palettes.measure_args(files, width, height)
        self.deadline = deadline  # time.monotonic() by which the run must be done
        self._pool = ThreadPoolExecutor(2, thread_name_prefix="measure")  # the run and its feed
        self._lock = threading.Lock()
        self._run: Future[None] | None = None
        self._feed: Future[None] | None = None
        self._over = threading.Event()  # the conversion has ended: every sample is on disk
        self._samples = palettes.samples(count)  # the kept frames measured
        self._frame_bytes = width * height * 4

    def start(self) -> None:
        """Start the measuring run and its feed, once (before the conversion, or late by gain())."""
        with self._lock:
            if self._run is not None:
                return
            try:
                os.mkfifo(self.files.feed, 0o600)
            except OSError as exc:
                failed: Future[None] = Future()
                failed.set_exception(exc)  # gain() tells: one palette
                self._run = failed
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
            measuring = self._run
        return measuring is not None and not futures.wait([measuring], timeout).not_done

    def gain(self) -> float:
        """How much per-frame palettes cut the one palette's error; 0 if the run failed. The
        conversion has ended by now: whatever it wrote is every sample there is."""
        self._over.set()
        self.start()
        try:
            if self._run is not None:  # start() made it
                self._run.result()
        except Exception as exc:  # it only chooses the palette: any failure means one
            log.warning("the palette measurement failed (%s); keeping one palette", type(exc).__name__)
            return 0.0
        return palettes.per_frame_gain(self.files.stats)

    def per_frame_pays(self) -> bool:
        """Whether per-frame palettes cut the error by palettes.PER_FRAME_GAIN_MSE or more (gain())."""
        return self.gain() >= palettes.PER_FRAME_GAIN_MSE

    def close(self) -> None:
        """Wait for the run and its feed if they were started (no child is left behind), remove
        the files."""
        self._over.set()
        with self._lock:
            started = [future for future in (self._run, self._feed) if future is not None]
        for future in started:
            with contextlib.suppress(Exception):  # told by gain(), if it was asked
                future.result()
        self._pool.shutdown(wait=True)
        for path in self.files.all():
            path.unlink(missing_ok=True)

    def _feed_samples(self, measuring: Future[None]) -> None:
        """Write a warm-up frame into the run's FIFO at once, then the sampled kept frames once
        they are all on disk (those there are, if the conversion is over first)."""
        try:
            with fifo.writer(self.files.feed, measuring.done) as fed:
                fed.write(bytes(self._frame_bytes) * palettes.WARM_UP_FRAMES)  # the run drops them
                fed.flush()
                with self._open_kept() as kept:
                    for index in self._on_disk(kept):
                        kept.seek(index * self._frame_bytes)
                        fed.write(kept.read(self._frame_bytes))
        except (OSError, TimeoutError) as exc:  # the run died or the conversion never wrote: it ends
            log.debug("the measurement's feed stopped: %s", exc)

    def _open_kept(self) -> BinaryIO:
        """The kept frames' file, opened once the conversion has made it (FileNotFoundError if it
        is over without one)."""
        while True:
            try:
                return open(self.files.kept, "rb")
            except FileNotFoundError:
                if self._over.is_set() or time.monotonic() > self.deadline:
                    raise
            time.sleep(FEED_POLL_S)

    def _on_disk(self, kept: BinaryIO) -> list[int]:
        """The samples, once all are on disk (or those there are once the conversion is over)."""
        while True:
            over = self._over.is_set()  # looked at before the size: all it covers is on disk
            whole = os.fstat(kept.fileno()).st_size // self._frame_bytes
            if over or whole > self._samples[-1]:
                return [index for index in self._samples if index < whole]
            if time.monotonic() > self.deadline:
                raise TimeoutError("the conversion ran out of time")
            time.sleep(FEED_POLL_S)
