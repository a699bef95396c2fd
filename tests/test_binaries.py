"""jobs.binaries: the workers run the pinned static ffmpeg through a link named ffmpeg."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from jobs import binaries
from jobs.runner import FFMPEG


def major_version(program: str) -> int:
    """The major version `program -version` reports (BtbN's builds write n9.0.2, Debian's 5.1.x)."""
    head = subprocess.run([program, "-version"], capture_output=True, text=True, check=True, timeout=30)
    found = re.match(r"ffmpeg version n?(\d+)\.", head.stdout)
    assert found, head.stdout[:200]
    return int(found.group(1))


def test_the_workers_run_the_pinned_ffmpeg_through_a_link_named_ffmpeg() -> None:
    """scripts/test.sh made the link as setup.sh does: the process is called ffmpeg in ps, and it is
    the wheel's build (7 or later: filters and encoders on threads of their own), not PATH's."""
    assert binaries.bundled() is not None, "requirements.txt pins imageio-ffmpeg"
    assert Path(FFMPEG) == binaries.LINK and binaries.LINK.name == "ffmpeg"
    assert binaries.LINK.resolve() == binaries.bundled().resolve()
    assert major_version(FFMPEG) >= 7


def test_the_override_names_another_ffmpeg(monkeypatch: pytest.MonkeyPatch) -> None:
    """IMAGEIO_FFMPEG_EXE (the wheel's own setting) wins over the link; without the wheel's binary
    and the link, the ffmpeg on PATH runs."""
    monkeypatch.setenv(binaries.OVERRIDE, "/usr/bin/ffmpeg")
    assert binaries.ffmpeg() == "/usr/bin/ffmpeg"
    monkeypatch.delenv(binaries.OVERRIDE)
    monkeypatch.setattr(binaries, "LINK", Path("/nonexistent/libexec/ffmpeg"))
    monkeypatch.setattr(binaries, "bundled", lambda: None)
    assert binaries.ffmpeg() == "ffmpeg" and binaries.link() is None


def test_linking_again_replaces_the_link_in_one_step(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A second setup run (an upgrade to a newer wheel) swaps the link; no temporary link is left."""
    link = tmp_path / "libexec" / "gifbot" / "ffmpeg"
    monkeypatch.setattr(binaries, "LINK", link)
    old = tmp_path / "ffmpeg-old"
    old.write_text("")
    link.parent.mkdir(parents=True)
    link.symlink_to(old)
    assert binaries.link() == link and link.resolve() == binaries.bundled().resolve()
    assert binaries.link() == link and [p.name for p in link.parent.iterdir()] == ["ffmpeg"]
    assert binaries.ffmpeg() == str(link)
