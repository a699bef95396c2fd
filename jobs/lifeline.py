"""Tie a child process's life to its parent's, so no work horse or ffmpeg outlives its worker."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal

PR_SET_PDEATHSIG = 1  # linux/prctl.h
_libc = None


def die_with_parent(parent_pid: int, sig: int = signal.SIGKILL) -> None:
    """Ask Linux to send `sig` to this process when its parent `parent_pid` dies (no-op elsewhere).

    Called in a forked child; RQ puts each work horse in its own process group and our runner
    puts ffmpeg in its own session, so a process-group kill of the worker would miss them.
    """
    global _libc
    if _libc is None:
        name = ctypes.util.find_library("c")
        if name is None:
            return
        _libc = ctypes.CDLL(name, use_errno=True)
    _libc.prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0)
    if os.getppid() != parent_pid:  # the parent died before prctl took effect (we were re-parented)
        os.kill(os.getpid(), sig)
