"""jobs.workdir: each attempt of a job has its own temp dir; cleaning up never reaches past it."""

from __future__ import annotations

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
