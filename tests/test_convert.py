"""jobs.convert: the job's time budget, and `python -m jobs.convert` (the workers' recipe on a local file)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from rq.job import Job

from core import admission
from core.limits import UserLimits
from core.models import ConversionRequest, MediaKind
from core.settings import Settings
from jobs import convert
from tests import media
from tests.gifcheck import gif_info
from tests.services import REPO_ROOT

RQ_KILLS_HORSE_AFTER_TIMEOUT_S = 60  # rq.worker: a horse still running at job timeout + 60 s is killed


@pytest.mark.parametrize("job_timeout", [30, 60, 90, 120, 180, 300, 600, 1800])
def test_work_deadline_leaves_the_upload_its_callback_timeout_before_rq_kills_the_horse(
    redis_client, job_timeout: int
):
    """For any JOB_TIMEOUT, work (download + convert) plus the success callback's timeout fit in the horse."""
    settings = Settings(job_timeout=job_timeout)
    request = ConversionRequest(
        chat_id=1, user_id=1, message_id=job_timeout, status_message_id=0, file_id="f", file_unique_id="u",
        file_size=1, kind=MediaKind.VIDEO, lang="en", width=480, fps=12, max_seconds=15.0,
    )  # fmt: skip
    queue = admission.gif_queue(redis_client, settings)
    admission.submit(queue, request, settings, UserLimits(max_active=1, max_pending=0, per_hour=10))
    job = Job.fetch(request.job_id, connection=redis_client, serializer=queue.serializer)

    work_s = convert.work_deadline(job, started=0.0)

    assert work_s + job.success_callback_timeout <= job_timeout + RQ_KILLS_HORSE_AFTER_TIMEOUT_S
    assert work_s >= admission.MIN_WORK_S, "a small job timeout still leaves time to convert"
    assert job.success_callback_timeout >= 30, "the upload keeps a useful share"


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


def test_offline_convert_names_a_missing_input_file_without_a_traceback(tmp_path: Path):
    """A mistyped path exits 2 with the usage and the path, as a smoke test on a new box would want."""
    done = run_cli(str(tmp_path / "missing.mp4"), str(tmp_path / "out.gif"))
    assert done.returncode == 2
    assert "missing.mp4: no such file" in done.stderr and "Traceback" not in done.stderr
