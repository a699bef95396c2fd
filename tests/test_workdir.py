"""jobs.workdir: each attempt of a job has its own temp dir; cleaning up never reaches past it; a temp
root that is not ours alone is refused."""

from __future__ import annotations

import os
import pwd
import stat
from pathlib import Path

import pytest

from jobs import workdir

JOB = "gif_42_7"


def test_two_attempts_of_one_job_get_separate_private_dirs(tmp_path: Path):
    """Two attempts of one job on one box (a re-run) each get a fresh 0700 dir; neither wipes the other."""
    first = workdir.new_attempt_dir(tmp_path, JOB)
    (first / "animation.gif").write_bytes(b"first")
    second = workdir.new_attempt_dir(tmp_path, JOB)
    (second / "in-video").write_bytes(b"second")

    assert first != second
    assert (first / "animation.gif").read_bytes() == b"first"
    assert (second / "in-video").read_bytes() == b"second"
    assert all(stat.S_IMODE(d.stat().st_mode) == 0o700 for d in (first, second))
    assert workdir.attempt_dir(tmp_path, first.name) == first


def test_removing_one_attempt_leaves_the_other_attempts_files(tmp_path: Path):
    """The failure callback removes its own attempt (current_attempt) and nothing of the other one."""
    other = workdir.new_attempt_dir(tmp_path, JOB)
    (other / "animation.gif").write_bytes(b"done")
    mine = workdir.new_attempt_dir(tmp_path, JOB)
    (mine / "in-video").write_bytes(b"half")

    workdir.remove(workdir.current_attempt())

    assert not mine.exists()
    assert (other / "animation.gif").read_bytes() == b"done"


def test_remove_attempts_removes_only_that_jobs_attempt_dirs(tmp_path: Path):
    """remove_attempts(job) spares other jobs, a job id it prefixes, and entries that are no attempt."""
    gone = [workdir.new_attempt_dir(tmp_path, JOB) for _ in range(2)]
    kept = [workdir.new_attempt_dir(tmp_path, job) for job in ("gif_42_70", "gif_42_7-b", "gif_4_7")]
    kept += [tmp_path / JOB, tmp_path / f"{JOB}.notes"]
    for path in kept[-2:]:
        path.mkdir()

    workdir.remove_attempts(tmp_path, JOB)

    assert not any(path.exists() for path in gone)
    assert all(path.exists() for path in kept)


@pytest.mark.parametrize(
    "name",
    [
        "",
        ".",
        "..",
        "../gif_42_7.0badc0de",
        "gif_42_7.0badc0de/..",
        "gif_42_7.0badc0de/../../etc",
        "/etc/gif_42_7.0badc0de",
        "gif_42_7.0badc0de/x",
        "..%2fgif_42_7.0badc0de",
        "gif_42_7.0BADC0DE",
        "gif_42_7",
    ],
)
def test_attempt_dir_refuses_a_name_that_is_not_one_attempt_dir(tmp_path: Path, name: str):
    """A result naming a path ('/', '..') or anything but `<job id>.<8 hex>` gets None, never a path."""
    assert workdir.attempt_dir(tmp_path, name) is None


def test_a_missing_temp_root_is_made_private(tmp_path: Path):
    """The temp root (default var/tmp) is created 0700 on first use, and then it is fine to use."""
    root = tmp_path / "var" / "tmp"

    assert workdir.root_problem(root) is None

    assert stat.S_IMODE(root.stat().st_mode) == 0o700
    assert workdir.new_attempt_dir(root, JOB).parent == root


def _owned_by_nobody(root: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("only root can give a dir to another user")
    os.chown(root, pwd.getpwnam("nobody").pw_uid, -1)


@pytest.mark.parametrize(
    ("prepare", "reason"),
    [
        (_owned_by_nobody, "is owned by uid"),
        (lambda root: root.chmod(0o777), "writable by its group or others (mode 0777)"),
        (lambda root: root.chmod(0o1777), "writable by its group or others (mode 1777)"),
        (lambda root: root.chmod(0o770), "writable by its group or others (mode 0770)"),
    ],
)
def test_a_temp_root_someone_else_could_write_to_is_refused(tmp_path: Path, prepare, reason: str):
    """A temp root pre-made by another user, or group/world-writable, gets no job dir and no sweep."""
    root = tmp_path / "gifbot"
    root.mkdir(mode=0o700)
    (root / "planted").write_text("theirs")
    prepare(root)

    assert reason in (workdir.root_problem(root) or "")
    with pytest.raises(workdir.UnsafeTempRoot, match=reason.replace("(", r"\(").replace(")", r"\)")):
        workdir.new_attempt_dir(root, JOB)
    assert workdir.sweep(root, older_than_s=-1) == 0
    assert [p.name for p in root.iterdir()] == ["planted"]


def test_a_temp_root_that_is_a_symlink_is_refused(tmp_path: Path):
    """A symlink in place of the temp root (to a dir of ours, even) is not followed."""
    (tmp_path / "real").mkdir(mode=0o700)
    (tmp_path / "link").symlink_to(tmp_path / "real")

    assert "is not a directory" in (workdir.root_problem(tmp_path / "link") or "")
