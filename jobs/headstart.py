"""The first part of a per-frame GIF, started while the one-palette conversion still maps (jobs.passes).

A per-frame GIF of many frames is made in two parts at once (palettes.split_point), from the frames
the measured conversion kept. Both parts used to wait for the conversion's end, though its
measurement has usually chosen per-frame palettes by the time the last frame is decoded, and the
conversion then spends ~0.3 s of one CPU mapping and encoding a GIF that is thrown away (bench's
Mandelbrot zoom). The first part needs only the frames before the split, on disk long before that:
it starts as soon as the measurement has chosen, on the CPU the conversion leaves free, and takes
HEAD_SHARE of the frames, since the second part starts only when the conversion has ended (the
GIF's last frames, and how many there are, are known only then). The GIF is the same byte for byte.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from jobs import palettes
from jobs.measure import Measurement
from jobs.recipe import per_frame_args
from jobs.runner import run

# of the frames go to the first part. Since the measurement runs on a warmed-up filter graph it
# chooses ~0.1 s sooner; best of 3, 0.6 -> 0.7: bench's Mandelbrot zoom 1.82 -> 1.71 s, slideshow
# 0.98 -> 0.98 s; off the corpus, a colour-cycling zoom 2.39 -> 2.19 s, test graphics 1.24 -> 1.18 s.
HEAD_SHARE = 0.7
MARGIN_FRAMES = 3  # frames on disk past the first part's, so its run never reads a frame being written
POLL_S = 0.005  # how often the measurement is looked at while the conversion runs

log = logging.getLogger("jobs.fit")


@dataclass(frozen=True)
class FirstPart:
    """A first part started early: frames 0..split (one more than the GIF takes from it, as
    palettes.join_args expects), the copies among them that get no frame, its GIF and its run."""

    split: int
    repeats: list[int]
    gif: Path
    run: Future[None]


class HeadStart:
    """Watches one measured conversion from a thread; starts the first part of its per-frame GIF
    once the measurement chose per-frame palettes. take() hands it over, close() cleans up."""

    def __init__(
        self, measurement: Measurement, gif: Path, size: tuple[int, int], rate: float, deadline: float
    ) -> None:
        self._measurement, self._gif, self._size, self._rate = measurement, gif, size, rate
        self._deadline = deadline
        self._closing = threading.Event()  # the conversion is over without a per-frame GIF
        self._pool = ThreadPoolExecutor(2, thread_name_prefix="head")
        self._part: FirstPart | None = None
        self._watch = self._pool.submit(self._start_when_chosen)

    def take(self, frames: int, repeats: list[int]) -> FirstPart | None:
        """The first part started for a GIF of `frames` frames and these `repeats` (palettes.
        frame_changes), or None if none was started or it does not fit them. The measurement has
        ended by now: a part not started yet starts now, from the whole file."""
        try:
            self._watch.result()
        except Exception:  # a first part it could not start: both parts start now
            log.exception("the first part could not start early")
            return None
        part = self._part
        if part is None or part.split + MARGIN_FRAMES >= frames:
            return None
        if part.repeats != [r for r in repeats if r <= part.split]:
            return None
        return part

    def close(self) -> None:
        """Stop watching, wait for a started part's run (no child is left behind), remove its GIF."""
        self._closing.set()
        with contextlib.suppress(Exception):
            self._watch.result()
        if self._part is not None:
            with contextlib.suppress(Exception):  # told by the caller's result(), if it took it
                self._part.run.result()
        self._pool.shutdown(wait=True)
        self._gif.unlink(missing_ok=True)

    def _start_when_chosen(self) -> None:
        """Wait for the measurement; if it chose per-frame palettes, start the first part."""
        while not self._measurement.finished(POLL_S):
            if self._closing.is_set():
                return
        if self._closing.is_set() or not self._measurement.per_frame_pays():
            return
        kept = self._measurement.files.kept
        on_disk = self._measurement.files.kept_frames(*self._size) - MARGIN_FRAMES
        if palettes.split_point(on_disk) is None:
            return
        repeats = palettes.frame_changes(kept, self._size, on_disk).repeats  # none in the last two
        split = round(on_disk * HEAD_SHARE)
        while split in repeats:  # each part's first frame is a frame of its own
            split += 1
        if split + 2 >= on_disk:
            return
        mine = [r for r in repeats if r <= split]
        argv = per_frame_args(kept, self._gif, self._size, self._rate, (0, split + 1), mine)
        timeout = max(1.0, self._deadline - time.monotonic())
        self._part = FirstPart(split, mine, self._gif, self._pool.submit(run, argv, timeout))
