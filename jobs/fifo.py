"""Writing into a FIFO that a child ffmpeg reads as its input."""

from __future__ import annotations

import contextlib
import errno
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

POLL_S = 0.005  # how often a writer looks again for a reader that has not opened the FIFO yet


@contextlib.contextmanager
def writer(path: Path, reader_gone: Callable[[], bool]) -> Iterator[BinaryIO]:
    """The FIFO `path` opened for writing once its reader has opened it; OSError at once if the
    reader is gone (`reader_gone()`, e.g. its run ended) before it did, so no writer waits forever.
    A reader that goes later makes a write raise BrokenPipeError."""
    while True:
        try:
            fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
            break
        except OSError as exc:
            if exc.errno != errno.ENXIO or reader_gone():  # ENXIO: no reader yet
                raise
            time.sleep(POLL_S)
    os.set_blocking(fd, True)
    with open(fd, "wb") as fifo:
        yield fifo
