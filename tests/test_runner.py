"""jobs.runner against real child processes: sessions, stdin, timeouts, exit codes, output handling."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from core.errors import ConversionTimeout, TransientError
from jobs.runner import STDERR_TAIL_LINES, FFmpegFailed, FFmpegKilled, run
from tests import procs
from tests.services import wait_until


def python(code: str) -> list[str]:
    """Return an argv that runs `code` in a fresh Python child."""
    return [sys.executable, "-c", code]


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


def test_stdout_lines_reach_on_line_without_line_endings() -> None:
    """Each stdout line goes to on_line in order, stripped of \\n and \\r\\n."""
    lines: list[str] = []
    code = "print('out_time_us=1'); print('progress=end', end='\\r\\n')"
    run(python(code), timeout=20, on_line=lines.append)
    assert lines == ["out_time_us=1", "progress=end"]


def test_child_runs_in_its_own_session_and_on_start_gets_its_pid() -> None:
    """on_start receives the child's pid, and the child leads a new session (so a group kill is whole)."""
    started: list[int] = []
    lines: list[str] = []
    run(python("import os; print(os.getpid(), os.getsid(0))"), 20, lines.append, started.append)
    pid, sid = (int(word) for word in lines[0].split())
    assert started == [pid] and sid == pid != os.getsid(0)


def test_child_stdin_is_empty() -> None:
    """The child's stdin is /dev/null: a read gets EOF at once instead of waiting for a terminal."""
    lines: list[str] = []
    run(python("import sys; print(repr(sys.stdin.read()))"), timeout=20, on_line=lines.append)
    assert lines == ["''"]


def test_a_signal_death_is_transient() -> None:
    """A child killed by a signal (OOM killer, say) raises FFmpegKilled, a TransientError worth a retry."""
    with pytest.raises(FFmpegKilled) as caught:
        run(["sh", "-c", "kill -KILL $$"], timeout=20)
    assert isinstance(caught.value, TransientError) and "signal 9" in str(caught.value)


def test_only_the_stderr_tail_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    """Of a long stderr only the last STDERR_TAIL_LINES lines reach the log."""
    code = "import sys\nfor i in range(30): print(f'line-{i:02d}', file=sys.stderr)\nsys.exit(3)"
    with pytest.raises(FFmpegFailed) as caught:
        run(python(code), timeout=20)
    assert caught.value.returncode == 3
    kept = [f"line-{i:02d}" for i in range(30 - STDERR_TAIL_LINES, 30)]
    assert all(line in caplog.text for line in kept) and "line-00" not in caplog.text


def test_a_failing_line_handler_is_dropped_and_output_drained(caplog: pytest.LogCaptureFixture) -> None:
    """A handler that raises is logged once and dropped; the child is drained and ends normally."""
    calls: list[str] = []

    def broken(line: str) -> None:
        """Fail on every line, as a crashed display would."""
        calls.append(line)
        raise RuntimeError("display gone")

    run(python("for i in range(20000): print('x' * 100)"), timeout=20, on_line=broken)
    assert len(calls) == 1 and caplog.text.count("output handler failed") == 1
