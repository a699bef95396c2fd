"""jobs.runner against real child processes: sessions, stdin, timeouts, exit codes, output handling."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import ConversionTimeout
from jobs.runner import FFmpegFailed, run
from tests import procs
from tests.services import wait_until


def test_timeout_kills_the_whole_process_group(tmp_path: Path) -> None:
    """A child that outlives its timeout is SIGKILLed with its own children: no ffmpeg remains."""
    pids = tmp_path / "pids"
    endless = "ffmpeg -nostdin -v quiet -f lavfi -i testsrc=s=64x64 -f null -"
    script = f"{endless} & echo $$ $! > {pids}; wait"
    with pytest.raises(ConversionTimeout):
        run(["sh", "-c", script], timeout=1.0)
    shell, ffmpeg_pid = (int(pid) for pid in pids.read_text().split())
    wait_until(
        lambda: not procs.alive(shell) and not procs.alive(ffmpeg_pid),
        timeout=5,
        what="the process group to die",
    )


def test_failure_never_puts_stderr_in_the_exception(caplog: pytest.LogCaptureFixture) -> None:
    """A failing child raises FFmpegFailed with its exit code only; stderr goes to a log tail."""
    with pytest.raises(FFmpegFailed) as caught:
        run(["ffmpeg", "-nostdin", "-v", "error", "-i", "file:/nonexistent/MARKER-42.mp4"], timeout=20)
    assert "MARKER-42" not in str(caught.value) and caught.value.returncode != 0
    assert "MARKER-42" in caplog.text
