"""jobs.spare: the worker starts the next job's ffprobe runs before the job comes; the work horse it
forks adopts them. Real ffprobe, a real fork: the horse's probe of a video (or of a file that is no
video) is the same as a cold one, the spare's runs are the ones that did it, and a spare that died
while it waited costs nothing but its start."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from core.admission import gif_queue
from core.errors import UserFacingError
from core.settings import Settings
from jobs import probe, runtime, spare, workdir
from jobs.recipe import Limits
from jobs.warm import Warm
from jobs.worker import build_worker
from tests.media import make_clip

LIMITS = Limits()


@pytest.fixture
def root(tmp_path: Path) -> Iterator[Path]:
    """A private temp root; no spare outlives the test."""
    path = tmp_path / "root"
    path.mkdir(mode=0o700)
    yield path
    spare.close()


def in_horse(job: Callable[[], object]) -> object:
    """Run `job` in a forked child, as RQ runs a job in its work horse; return what it returned
    (a dict) or the name and text of what it raised."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the horse
        os.close(read)
        try:
            outcome: object = job()
        except UserFacingError as exc:
            outcome = {"refused": type(exc).__name__, "text_key": exc.text_key}
        except BaseException as exc:  # reported to the test, never raised in a fork
            outcome = {"crashed": f"{type(exc).__name__}: {exc}"}
        with os.fdopen(write, "w") as out:
            json.dump(outcome, out)
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as got:
        text = got.read()
    os.waitpid(pid, 0)
    return json.loads(text)


def probe_with_spare(video: Path) -> dict[str, object]:
    """What a horse does: take the spare, put the video at its input path, probe with its runs."""
    taken = spare.take()
    assert taken is not None
    shutil.copyfile(video, taken.src)
    with Warm(taken.folder) as warm:
        warm.adopt(taken.warm)
        return described(probe.probe(taken.src, LIMITS, warm))


def described(info: probe.MediaInfo) -> dict[str, object]:
    """A probe's result as plain JSON data."""
    return json.loads(json.dumps(dataclasses.asdict(info), default=str))


def cold(video: Path) -> object:
    """A cold probe's result (or refusal), the way in_horse reports it."""
    try:
        return described(probe.probe(video, LIMITS))
    except UserFacingError as exc:
        return {"refused": type(exc).__name__, "text_key": exc.text_key}


def spare_exit_codes() -> list[int | None]:
    """Reap the worker's spare runs (as after_job would) and return how each ended."""
    assert spare._spare is not None
    codes = []
    for held in spare._spare.warm.held.values():
        try:
            codes.append(held.proc.wait(10))
        except subprocess.TimeoutExpired:  # still waiting: it was never used
            codes.append(None)
    return codes


def test_a_horse_probes_a_video_with_the_runs_its_worker_started(root: Path, tmp_path: Path):
    video = make_clip(tmp_path, "clip.mp4", seconds=1.0, size=(320, 240), audio=True)
    spare.start(root, LIMITS)

    got = in_horse(lambda: probe_with_spare(video))

    assert got == cold(video)
    assert got["width"] == 320 and got["has_audio"] is True
    assert spare_exit_codes() == [0, 0]  # the spare's own runs read it (a cold retry kills them)


def test_a_file_that_is_no_video_gets_the_same_refusal_through_the_spare(root: Path, tmp_path: Path):
    junk = tmp_path / "notes.mp4"
    junk.write_bytes(b"these are not the frames you are looking for\n" * 50)
    spare.start(root, LIMITS)

    got = in_horse(lambda: probe_with_spare(junk))

    assert got == cold(junk)
    assert got["refused"] == "NotAVideo"
    assert 1 in spare_exit_codes()  # the refusal came from the spare's header run


def test_a_spare_killed_while_it_waited_is_run_anew(root: Path, tmp_path: Path):
    """The OOM killer, say, took the waiting runs: the horse starts its own and probes all the same."""
    video = make_clip(tmp_path, "clip.mp4", seconds=1.0, size=(320, 240))
    spare.start(root, LIMITS)
    assert spare._spare is not None
    for held in spare._spare.warm.held.values():
        os.killpg(held.proc.pid, signal.SIGKILL)
        held.proc.wait()  # the worker noticed (reaped them): the horse finds nothing in /proc

    assert in_horse(lambda: probe_with_spare(video)) == cold(video)


def test_the_worker_keeps_an_unused_spare_and_replaces_a_used_one(root: Path, tmp_path: Path):
    spare.start(root, LIMITS)
    first = spare._spare
    assert first is not None and first.folder.is_dir()
    assert oct(first.folder.stat().st_mode & 0o777) == oct(0o700)

    spare.after_job(root, LIMITS)  # a job that never took it (another kind, or refused early)
    assert spare._spare is first

    video = make_clip(tmp_path, "clip.mp4", seconds=1.0, size=(320, 240))
    in_horse(lambda: probe_with_spare(video))
    spare.after_job(root, LIMITS)
    assert spare._spare is not first and spare._spare is not None
    assert not first.folder.exists()  # its folder, and the video in it, went with it
    assert [p.name for p in root.iterdir()] == [spare._spare.folder.name]


def test_a_spare_whose_fifos_are_gone_is_not_taken(root: Path, tmp_path: Path):
    """A run whose output FIFO is gone could never start: the horse starts its own instead."""
    video = make_clip(tmp_path, "clip.mp4", seconds=1.0, size=(320, 240))
    spare.start(root, LIMITS)
    assert spare._spare is not None
    for held in spare._spare.warm.held.values():
        held.fifo.unlink()

    def horse() -> object:
        assert spare.take() is None
        return described(probe.probe(video, LIMITS))

    assert in_horse(horse) == cold(video)


def test_closing_leaves_no_process_and_no_folder(root: Path):
    spare.start(root, LIMITS)
    assert spare._spare is not None
    pids = [held.proc.pid for held in spare._spare.warm.held.values()]

    spare.close()

    assert list(root.iterdir()) == []
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_the_sweep_leaves_a_live_workers_spare_and_removes_a_dead_ones(root: Path):
    spare.start(root, LIMITS)
    assert spare._spare is not None
    live = spare._spare.folder
    dead = root / f"{workdir.SPARE_PREFIX}{dead_pid()}-0badcafe"
    no_pid = root / f"{workdir.SPARE_PREFIX}0-0badcafe"  # kill(0, 0) would answer for our own group
    for path in (dead, no_pid):
        path.mkdir(mode=0o700)
        (path / spare.INPUT_NAME).write_bytes(b"a video left behind")
    old = time.time() - 3 * workdir.STALE_AFTER_S
    for path in (live, dead, no_pid):
        os.utime(path, (old, old))

    assert workdir.sweep(root) == 2

    assert live.is_dir() and not dead.exists() and not no_pid.exists()


def dead_pid() -> int:
    """A pid no process has right now (a child that has been reaped)."""
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
    return pid


def ffprobe_children() -> list[int]:
    """The pids of this process's ffprobe children."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        name, rest = text[text.index("(") + 1 : text.rindex(")")], text[text.rindex(")") + 2 :].split()
        if name == "ffprobe" and int(rest[1]) == os.getpid():
            found.append(int(stat.parent.name))
    return found


def test_a_work_loop_that_ends_takes_its_spare_with_it(
    tmp_path: Path, redis_server: Any, redis_client: Any, monkeypatch: pytest.MonkeyPatch
):
    """The real worker, one job, burst mode: the spare it kept while it worked is gone when it stops."""
    settings = Settings(redis_url=redis_server.url, tmp_dir=str(tmp_path / "work"), admin_password="x")
    monkeypatch.setattr(runtime, "_settings", settings)
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    job = gif_queue(redis_client, settings).enqueue("builtins.len", [1, 2])
    before = ffprobe_children()
    try:
        assert build_worker(settings, "spare-test.1", redis_client).work(burst=True) is True
    finally:
        for sig, handler in saved.items():  # RQ's loop installs its own in this process
            signal.signal(sig, handler)

    assert job.get_status(refresh=True) == "finished"
    assert spare._spare is None
    assert not any(p.name.startswith(workdir.SPARE_PREFIX) for p in settings.tmp_root.iterdir())
    assert ffprobe_children() == before
