"""scripts/setup.sh reads .env as core.settings does (python-dotenv), not with regexes of its own."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from core.settings import read_env_file

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def box(tmp_path: Path) -> Path:
    """A scratch checkout holding the scripts, with core/ and the virtualenv linked from this one."""
    shutil.copytree(REPO / "scripts", tmp_path / "scripts")
    (tmp_path / "core").symlink_to(REPO / "core")
    (tmp_path / ".venv").symlink_to(Path(sys.prefix))
    return tmp_path


def run_step(box: Path, env_text: str, step: str) -> subprocess.CompletedProcess[str]:
    """Source setup.sh (which then defines its functions only) and run one of its steps."""
    (box / ".env").write_text(env_text)
    env = {k: v for k, v in os.environ.items() if k not in ("ADMIN_PASSWORD", "REDIS_URL")}
    return subprocess.run(
        ["bash", "-c", f"source scripts/setup.sh && {step}"],
        cwd=box,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("env_text", "generated"),
    [
        ("  ADMIN_PASSWORD = chosen-by-hand\n", False),  # the old regex missed the spaces
        ('ADMIN_PASSWORD="pa#ss $word" # note\n', False),
        ("# ADMIN_PASSWORD=old\nADMIN_PASSWORD= # to do\n", True),
    ],
)
def test_admin_password_is_generated_only_when_dotenv_sees_none(box: Path, env_text: str, generated: bool):
    """make_env_file appends a password exactly when core.settings would find ADMIN_PASSWORD unset."""
    done = run_step(box, env_text, "make_env_file")
    assert done.returncode == 0, done.stderr
    after = (box / ".env").read_text()
    assert (after != env_text) is generated
    assert read_env_file(box / ".env")["ADMIN_PASSWORD"].strip()


def test_env_file_dotenv_cannot_parse_stops_setup_untouched(box: Path):
    """An unclosed quote stops setup with the line named, before anything is appended to .env."""
    env_text = "WORKERS=2\nADMIN_PASSWORD='unclosed\n"
    done = run_step(box, env_text, "make_env_file")
    assert done.returncode != 0 and ".env line 2" in done.stderr
    assert (box / ".env").read_text() == env_text


@pytest.mark.parametrize(
    ("env_text", "expected"),
    [
        ("REDIS_URL = redis://10.0.0.5:6379/0 # central\n", "redis://10.0.0.5:6379/0"),
        ("# REDIS_URL=redis://old:6379/0\n", "redis+sentinel://127.0.0.1:26379/gifbot"),
    ],
)
def test_sentinel_setup_keeps_a_redis_url_dotenv_sees(box: Path, env_text: str, expected: str):
    """--sentinel points REDIS_URL at the local Sentinel only when .env does not set it already."""
    done = run_step(box, env_text, "LOCAL_SENTINEL=true REDIS_PORT=6390 && make_local_sentinel")
    assert done.returncode == 0, done.stderr
    assert read_env_file(box / ".env")["REDIS_URL"] == expected
