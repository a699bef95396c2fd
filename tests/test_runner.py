"""jobs.runner against real child processes: sessions, stdin, timeouts, exit codes, output handling."""

from __future__ import annotations

import os
import resource
import sys
import time
from pathlib import Path

import pytest

from core.errors import ConversionTimeout, TooMuchMemory
from jobs import runner
from jobs.runner import KILL_RETRIES, MEMORY_LIMIT_BYTES, STDERR_TAIL_LINES, FFmpegFailed, FFmpegKilled, run
from jobs.warm import Warm
from tests import media, procs
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


def test_a_child_killed_twice_is_out_of_memory_after_one_rerun(tmp_path: Path) -> None:
    """A child killed by a signal (the OOM killer, say) runs once more; killed again it is TooMuchMemory."""
    runs = tmp_path / "runs"
    with pytest.raises(TooMuchMemory) as caught:
        run(["sh", "-c", f"echo run >> {runs}; kill -KILL $$"], timeout=20)
    assert runs.read_text().count("run") == KILL_RETRIES + 1 == 2
    assert "signal 9" in str(caught.value) and isinstance(caught.value.__cause__, FFmpegKilled)


def test_a_child_killed_once_succeeds_on_its_rerun(tmp_path: Path) -> None:
    """One kill is not a verdict: the rerun's success is the run's success."""
    marker, lines = tmp_path / "killed-once", []
    script = f"if [ -e {marker} ]; then echo second; else touch {marker}; kill -KILL $$; fi"
    run(["sh", "-c", script], timeout=20, on_line=lines.append)
    assert lines == ["second"]


def test_children_run_under_the_address_space_cap() -> None:
    """Each child's RLIMIT_AS is MEMORY_LIMIT_BYTES, set in the child, not in this process."""
    lines: list[str] = []
    run(python("import resource; print(resource.getrlimit(resource.RLIMIT_AS)[0])"), 20, lines.append)
    assert int(lines[0]) == MEMORY_LIMIT_BYTES
    assert resource.getrlimit(resource.RLIMIT_AS)[0] != MEMORY_LIMIT_BYTES


def test_children_keep_to_two_malloc_arenas() -> None:
    """Each child runs with MALLOC_ARENA_MAX=2: its threads' malloc arenas would reserve 64 MB of
    the address space cap each."""
    lines: list[str] = []
    run(python("import os; print(os.environ.get('MALLOC_ARENA_MAX'))"), 20, lines.append)
    assert lines == ["2"]


def test_ffmpeg_out_of_memory_under_the_cap_is_too_much_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    """ffmpeg failing an allocation under the cap (it may even exit 0, output cut short) is TooMuchMemory."""
    monkeypatch.setattr(runner, "MEMORY_LIMIT_BYTES", 400 * 1024**2)  # room for its libraries, not frames
    frames = "testsrc2=s=1280x720:r=25:d=10"  # 250 frames of 1.4 MB, all held by reverse
    argv = ["ffmpeg", "-nostdin", "-v", "error", "-f", "lavfi", "-i", frames, "-vf", "reverse"]
    argv += ["-f", "null", "-"]
    with pytest.raises(TooMuchMemory):
        run(argv, timeout=60)


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


def _ffprobe_format(src: Path) -> list[str]:
    """An ffprobe argv printing `src`'s format as JSON (its input last, as Warm wants)."""
    return ["ffprobe", "-v", "error", "-show_format", "-of", "json", f"file:{src}"]


def test_a_held_ffprobe_opens_its_input_only_once_run_lets_it_go(tmp_path: Path) -> None:
    """A Warm ffprobe started before its input exists waits; run() then gets its output, hardened."""
    clip, src = media.make_clip(tmp_path, "c.mkv"), tmp_path / "later.mkv"
    argv = _ffprobe_format(src)
    with Warm(tmp_path) as warm:
        warm.start(argv)
        [held] = warm.held.values()
        assert os.getsid(held.proc.pid) == held.proc.pid  # its own session, like any child
        clip.rename(src)
        lines: list[str] = []
        run(argv, timeout=20, on_line=lines.append, warm=warm)
        assert not warm.held and not held.fifo.exists()
    assert '"format_name": "matroska,webm"' in "\n".join(lines)
    assert held.proc.returncode == 0


def test_held_ffprobes_nobody_ran_are_killed_on_close(tmp_path: Path) -> None:
    """A job that ends before probing (a failed download) leaves no ffprobe and no FIFO behind."""
    with Warm(tmp_path) as warm:
        warm.start(_ffprobe_format(tmp_path / "never.mp4"))
        [held] = warm.held.values()
    assert held.proc.returncode is not None and not procs.alive(held.proc.pid)
    assert list(tmp_path.iterdir()) == []


def test_a_held_ffprobe_that_fails_before_its_output_opens_does_not_hang_run(tmp_path: Path) -> None:
    """An ffprobe that exits at start (a bad option) raises FFmpegFailed at once; no reader is left."""
    argv = ["ffprobe", "-v", "error", "-no_such_option", "1", f"file:{tmp_path / 'x.mp4'}"]
    with Warm(tmp_path) as warm:
        warm.start(argv)
        started = time.monotonic()
        with pytest.raises(FFmpegFailed):
            run(argv, timeout=20, warm=warm)
    assert time.monotonic() - started < 3.0
    assert list(tmp_path.iterdir()) == []


def test_without_a_fifo_the_ffprobe_simply_starts_cold(tmp_path: Path) -> None:
    """A temp dir that cannot hold the FIFO costs nothing but the head start: run() works as ever."""
    src = media.make_clip(tmp_path, "c.mkv")
    argv = _ffprobe_format(src)
    lines: list[str] = []
    with Warm(tmp_path / "missing") as warm:
        warm.start(argv)
        assert not warm.held
        run(argv, timeout=20, on_line=lines.append, warm=warm)
    assert '"format_name": "matroska,webm"' in "\n".join(lines)


def test_a_child_dies_with_the_process_that_started_it() -> None:
    """A child started by the runner (ffmpeg, ffprobe) gets SIGKILL when its parent dies (a work
    horse killed by /cancel or the OOM killer), though it runs in its own session."""
    read_end, write_end = os.pipe()
    parent = os.fork()
    if parent == 0:  # the horse: starts a long child, says its pid, waits to be killed
        try:
            child = runner._spawn(["sleep", "60"])
            os.write(write_end, str(child.pid).encode())
            time.sleep(60)
        finally:
            os._exit(0)
    os.close(write_end)
    pid = int(os.read(read_end, 32))
    os.close(read_end)
    assert procs.alive(pid)
    os.kill(parent, 9)
    os.waitpid(parent, 0)
    wait_until(lambda: not procs.alive(pid), 10, what="the child gone with its parent")


def test_a_grandchild_holding_stderr_does_not_hold_back_the_childs_end() -> None:
    """The runner sees a child end when its stderr closes; a grandchild left with that pipe (ffmpeg
    has none, but a wrapper might) delays it by at most a step, never to the timeout."""
    lines: list[str] = []
    started = time.monotonic()
    try:  # the sleep keeps stderr open; its pid is the child's one line of output
        run(["sh", "-c", "sleep 60 >/dev/null & echo $!; exit 0"], timeout=20, on_line=lines.append)
        assert time.monotonic() - started < 15, "waited for the timeout"
    finally:
        for line in lines:
            os.kill(int(line), 9)
