"""Tie a child process's life to its parent's, so no work horse or ffmpeg outlives its worker; read
how another process's child ended."""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import time
from pathlib import Path

PR_SET_PDEATHSIG = 1  # linux/prctl.h


def _load_libc() -> ctypes.CDLL | None:
    """The C library's prctl (None where there is none), looked up once, when this module loads.

    Not in the forked child that needs it: ctypes.util.find_library runs `ldconfig -p` in a
    subprocess, which cost every work horse ~5 ms of its start and every ffmpeg and ffprobe start
    (the runner calls die_with_parent between fork and exec) one more process."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)  # dlopen(NULL): the process's own symbols, libc's too
        libc.prctl  # noqa: B018 (Linux only: AttributeError elsewhere)
    except (OSError, AttributeError):
        return None
    return libc


_libc = _load_libc()


def die_with_parent(parent_pid: int, sig: int = signal.SIGKILL) -> None:
    """Ask Linux to send `sig` to this process when its parent `parent_pid` dies (no-op elsewhere).

    Called in a forked child; RQ puts each work horse in its own process group and our runner
    puts ffmpeg in its own session, so a process-group kill of the worker would miss them.
    """
    if _libc is None:
        return
    _libc.prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0)
    if os.getppid() != parent_pid:  # the parent died before prctl took effect (we were re-parented)
        os.kill(os.getpid(), sig)


def exit_status(pid: int, timeout: float) -> int:
    """Wait for `pid`, a child of another process (the worker, for its work horse), to end and
    return its exit status (negative: a signal); TimeoutExpired after `timeout` seconds.

    Only its parent may wait() for it; its status is in /proc/<pid>/stat (exit_code, field 52)
    while it is a zombie, which it stays until its parent reaps it."""
    deadline, pause = time.monotonic() + timeout, 0.0005
    while True:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        except OSError as exc:
            raise NoExitStatus(f"process {pid} is gone") from exc
        if fields and fields[0] in ("Z", "X"):
            if len(fields) < 50:  # a kernel before 3.5 does not show it
                raise NoExitStatus(f"no exit status for process {pid}")
            try:
                return os.waitstatus_to_exitcode(int(fields[49]))
            except ValueError as exc:
                raise NoExitStatus(f"exit status {fields[49]!r} of process {pid}") from exc
        if time.monotonic() >= deadline:
            raise subprocess.TimeoutExpired(str(pid), timeout)
        time.sleep(pause)
        pause = min(pause * 2, 0.01)


class NoExitStatus(Exception):
    """The exit status of another process's child could not be read."""
