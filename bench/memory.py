"""Resident memory of whole process trees (a worker, its work horse, their ffprobe/ffmpeg), from /proc."""

from __future__ import annotations

import os
import statistics
import threading
from pathlib import Path

PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")
SAMPLE_INTERVAL_S = 0.02
MB = 1024 * 1024


def children(pid: int) -> list[int]:
    """Direct children of `pid` (Linux /proc/PID/task/*/children); [] if it is gone."""
    found: list[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            found += [int(c) for c in Path(f"/proc/{pid}/task/{task}/children").read_text().split()]
    except (OSError, ValueError):
        return found
    return found


def tree(root: int) -> list[int]:
    """`root` and all its descendants."""
    pids, todo = [], [root]
    while todo:
        pid = todo.pop()
        pids.append(pid)
        todo += children(pid)
    return pids


def rss_bytes(pid: int) -> int:
    """Resident set size of one process (0 if it is gone)."""
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE_BYTES
    except (OSError, ValueError, IndexError):
        return 0


def tree_rss_bytes(root: int) -> int:
    """Sum of RSS over the tree (shared pages count once per process: an upper bound)."""
    return sum(rss_bytes(pid) for pid in tree(root))


class TreeSampler:
    """Poll the RSS of each root's tree in a thread; remember every sample, per root."""

    def __init__(self, roots: list[int], interval: float = SAMPLE_INTERVAL_S) -> None:
        self.roots = roots
        self.interval = interval
        self.samples: dict[int, list[int]] = {root: [] for root in roots}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def __enter__(self) -> TreeSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            for root in self.roots:
                self.samples[root].append(tree_rss_bytes(root))
            self._stop.wait(self.interval)

    def peak_mb(self) -> float:
        """The largest tree seen, over all roots."""
        return max((max(s) for s in self.samples.values() if s), default=0) / MB

    def median_mb(self) -> float:
        """The median tree size of the largest root (what an idle worker holds)."""
        return max((statistics.median(s) for s in self.samples.values() if s), default=0) / MB

    def count(self) -> int:
        """How many samples were taken per root."""
        return min((len(s) for s in self.samples.values()), default=0)
