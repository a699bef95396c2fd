"""scripts/setup.sh's own functions, sourced one at a time in a scratch copy: it reads .env as
core.settings does (python-dotenv), not with regexes of its own; it fixes .env's mode; and it gives
the local Redis a generated password (in .env's REDIS_URL and var/redis-auth.conf)."""

from __future__ import annotations

import grp
import os
import pwd
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from core.settings import read_env_file

REPO = Path(__file__).resolve().parents[1]
# As root the script hands .env's group to the programs' user (here `nobody`); otherwise the
# user can only be the one running it.
USER = "nobody" if os.geteuid() == 0 else pwd.getpwuid(os.geteuid()).pw_name
GROUP = grp.getgrgid(pwd.getpwnam(USER).pw_gid).gr_name
OWNER = pwd.getpwuid(os.geteuid()).pw_name
HEX48 = re.compile(r"[0-9a-f]{48}")


@pytest.fixture
def box(tmp_path: Path) -> Path:
    """A scratch checkout holding the scripts and var/, with core/ and the virtualenv linked from this one."""
    shutil.copytree(REPO / "scripts", tmp_path / "scripts")
    (tmp_path / "core").symlink_to(REPO / "core")
    (tmp_path / ".venv").symlink_to(Path(sys.prefix))
    (tmp_path / "var").mkdir()
    return tmp_path


def run(box: Path, *functions: str) -> subprocess.CompletedProcess[str]:
    """Source setup.sh (which then defines its functions only) and call `functions` in order."""
    env = {k: v for k, v in os.environ.items() if k not in ("ADMIN_PASSWORD", "REDIS_URL")}
    env["GIFBOT_USER"] = USER
    argv = ["bash", "-c", "source scripts/setup.sh && " + " && ".join(functions)]
    return subprocess.run(argv, cwd=box, env=env, capture_output=True, text=True, timeout=60)


def run_step(box: Path, env_text: str, step: str) -> subprocess.CompletedProcess[str]:
    """Write .env, then run one of setup.sh's steps."""
    (box / ".env").write_text(env_text)
    return run(box, step)


def ok(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 0, done.stderr
    return done.stdout


def mode_and_owner(path: Path) -> tuple[int, str, str]:
    info = path.stat()
    return stat.S_IMODE(info.st_mode), pwd.getpwuid(info.st_uid).pw_name, grp.getgrgid(info.st_gid).gr_name


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
        (
            "# REDIS_URL=redis://old:6379/0\n",
            "redis+sentinel://:PW@127.0.0.1:26379/gifbot?sentinel_password=PW",
        ),
    ],
)
def test_sentinel_setup_keeps_a_redis_url_dotenv_sees(box: Path, env_text: str, expected: str):
    """--sentinel points REDIS_URL at the local Sentinel (with the password) only when .env does not
    set it already."""
    done = run_step(box, env_text, "LOCAL_SENTINEL=true && make_redis_password")
    assert done.returncode == 0, done.stderr
    url = read_env_file(box / ".env")["REDIS_URL"]
    assert re.sub(r"[0-9a-f]{48}", "PW", url) == expected


def test_an_env_file_others_could_read_is_made_0640_and_the_script_says_so(box: Path):
    """A world-readable .env becomes <owner>:<the user's group> 0640, with a line saying it was fixed."""
    env = box / ".env"
    env.write_text("ADMIN_PASSWORD=secret\n")
    env.chmod(0o644)

    said = ok(run(box, "fix_env_file"))

    assert mode_and_owner(env) == (0o640, OWNER, GROUP)
    assert "Fixed .env's mode: it was 644" in said and f"now 640 {OWNER}:{GROUP}" in said
    assert env.read_text() == "ADMIN_PASSWORD=secret\n"
    assert ok(run(box, "fix_env_file")) == "", "a second run has nothing to fix or say"


def test_a_missing_redis_url_gets_the_local_redis_with_a_generated_password(box: Path):
    """No REDIS_URL: .env gets redis://:<48 hex>@127.0.0.1:6379/0, var/redis-auth.conf (0600) the same."""
    env = box / ".env"
    env.write_text("# REDIS_URL=redis://127.0.0.1:6379/0\nADMIN_PASSWORD=x")  # no newline at the end
    env.chmod(0o640)

    ok(run(box, "make_redis_password"))

    lines = env.read_text().splitlines()
    assert lines[:2] == ["# REDIS_URL=redis://127.0.0.1:6379/0", "ADMIN_PASSWORD=x"]
    (password,) = re.fullmatch(r"REDIS_URL=redis://:(\w+)@127\.0\.0\.1:6379/0", lines[2]).groups()
    assert HEX48.fullmatch(password) and len(lines) == 3
    auth = box / "var" / "redis-auth.conf"
    assert f"\nrequirepass {password}\nmasterauth {password}\n" in auth.read_text()
    assert mode_and_owner(auth) == (0o600, USER, GROUP) and stat.S_IMODE(env.stat().st_mode) == 0o640
    before = env.read_text(), auth.read_text()
    ok(run(box, "make_redis_password"))
    assert (env.read_text(), auth.read_text()) == before, "the password is made once"


@pytest.mark.parametrize(
    "line",
    ["export REDIS_URL=redis://localhost:6390/2", "  REDIS_URL = 'redis://localhost:6390/2'  # this box"],
)
def test_a_local_redis_url_without_a_password_gets_one_in_place(box: Path, line: str):
    """A REDIS_URL line naming this box's Redis (as python-dotenv reads it) becomes one with a password,
    same host, port and db; no second line is added and the other lines stay."""
    env = box / ".env"
    env.write_text(f"WORKERS=3\n{line}\nHOURLY_QUOTA=9\n")

    ok(run(box, "make_redis_password"))

    workers, url, quota = env.read_text().splitlines()
    (password,) = re.fullmatch(r"REDIS_URL=redis://:(\w+)@localhost:6390/2", url).groups()
    assert HEX48.fullmatch(password) and (workers, quota) == ("WORKERS=3", "HOURLY_QUOTA=9")
    assert f"requirepass {password}\n" in (box / "var" / "redis-auth.conf").read_text()


@pytest.mark.parametrize(
    ("url", "required"),
    [
        ("redis://:p%40ss%22w@127.0.0.1:6379/0", 'requirepass "p@ss\\"w"'),  # this box's: its password
        ("redis://:remote-pw@192.0.2.7:6379/0", None),  # another box's Redis: a password of our own
        ("rediss://managed.example:6380/0", None),
    ],
)
def test_any_other_redis_url_is_left_as_it_is(box: Path, url: str, required: str | None):
    """A URL with a password, or naming another Redis, is not changed; the local Redis takes its password
    only from a URL naming this box."""
    env = box / ".env"
    env.write_text(f"REDIS_URL={url}\n")

    ok(run(box, "make_redis_password"))

    assert env.read_text() == f"REDIS_URL={url}\n"
    auth = (box / "var" / "redis-auth.conf").read_text()
    if required:
        assert f"\n{required}\n" in auth
    else:
        assert HEX48.search(auth) and "remote-pw" not in auth
