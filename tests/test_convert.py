"""`python -m jobs.convert`: the workers' recipe on a local file, for smoke tests and the benchmark."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests import media
from tests.gifcheck import gif_info
from tests.services import REPO_ROOT


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "jobs.convert", *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_offline_convert_writes_the_same_kind_of_gif_the_workers_send(tmp_path: Path):
    """A local clip becomes a GIF within the default width, and the command says what it made."""
    src = media.make_clip(tmp_path, seconds=2, size=(640, 360))
    out = tmp_path / "out.gif"
    done = run_cli(str(src), str(out))
    assert done.returncode == 0, done.stderr
    info = gif_info(out.read_bytes())
    assert info.width == 480 and info.frames >= 2
    assert "480x270" in done.stdout


def test_offline_convert_options_change_the_gif(tmp_path: Path):
    """--width and --max-seconds are honoured."""
    src = media.make_clip(tmp_path, seconds=3, size=(640, 360))
    out = tmp_path / "small.gif"
    assert run_cli(str(src), str(out), "--width", "320", "--max-seconds", "1").returncode == 0
    info = gif_info(out.read_bytes())
    assert info.width == 320 and info.duration <= 1.1


def test_offline_convert_refuses_a_non_video_with_the_users_text(tmp_path: Path):
    """A file that is not a video exits 2 with the same friendly text users get, no GIF written."""
    src = media.make_text(tmp_path)
    out = tmp_path / "never.gif"
    done = run_cli(str(src), str(out))
    assert done.returncode == 2
    assert "doesn't look like a video" in done.stderr
    assert not out.exists()
