"""The RQ job: download one Telegram video by file_id, convert it to a GIF on this box."""

from __future__ import annotations

import argparse
import logging
import secrets
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

from rq import get_current_job
from rq.job import Job

from core import admission, localfiles, markers, memetext, telegram
from core.errors import LocalFileRefused, TransientError, UserFacingError
from core.models import ConversionRequest, ConversionResult, OutputKind
from core.settings import Settings
from core.texts import text
from jobs import fit, overlay, probe, recipe, runtime, spare, sticker, workdir
from jobs.status import StatusMessage
from jobs.warm import Warm

log = logging.getLogger(__name__)
GIF_NAME = "animation.gif"
STICKER_NAME = "sticker.webm"
# A smaller video downloads in well under a second: a "downloading" step would cost a Bot API round
# trip before the download for a text shown a moment. Unknown sizes (0) are shown.
DOWNLOAD_STATUS_MIN_BYTES = 5 * 1024 * 1024


def convert_video(**kwargs: Any) -> dict[str, Any]:
    """Turn the video in kwargs (a ConversionRequest) into a GIF in this attempt's temp dir.

    Returns a ConversionResult as JSON (what RQ stores): what on_success needs, no paths.
    """
    request = ConversionRequest.from_kwargs(kwargs)
    job = get_current_job()
    claimed = markers.send_state(job.connection, request.job_id) if job is not None else None
    if claimed is not None:  # an earlier attempt delivered (or may have delivered) the GIF
        log.info("job=%s GIF %s by an earlier attempt; not converting", request.job_id, claimed)
        return ConversionResult(already_sent=True).to_json()
    settings = runtime.settings()
    started = time.monotonic()
    folder = workdir.new_attempt_dir(settings.tmp_root, request.job_id)
    try:
        size_in, result = download_and_convert(request, settings, folder, work_deadline(job, started))
    except BaseException:
        workdir.remove(folder)
        raise
    seconds = time.monotonic() - started
    log.info(
        "job=%s converted %d B -> %d B in %.3fs (ffmpeg %.3fs, %.3fs CPU)",
        request.job_id,
        size_in,
        result.size_bytes,
        seconds,
        result.ffmpeg_seconds,
        result.ffmpeg_cpu_seconds,
    )
    return ConversionResult(
        gif=result.path.name,
        workdir=folder.name,
        size_in=size_in,
        size_bytes=result.size_bytes,
        width=result.width,
        height=result.height,
        duration=result.seconds,
        truncated=result.truncated,
        shrunk=result.shrunk,
        convert_seconds=round(seconds, 3),
    ).to_json()


def work_deadline(job: Job | None, started: float) -> float:
    """When download and conversion must be done, so the upload still fits in the horse's time."""
    timeout = job.timeout if job is not None and job.timeout else runtime.settings().job_timeout
    upload = job.success_callback_timeout if job is not None else admission.success_callback_timeout(timeout)
    spare = timeout + admission.RQ_HORSE_GRACE_S - upload - admission.DEADLINE_MARGIN_S
    return started + max(spare, admission.MIN_WORK_S)


def download_and_convert(
    request: ConversionRequest, settings: Settings, folder: Path, deadline: float
) -> tuple[int, fit.GifResult]:
    """Download the video and convert it, showing the steps that take a while in the status message.

    The probe's ffprobe runs wait for the file (warm.Warm): the worker's spare pair, started
    before this horse forked (jobs.spare), or a pair started during the download. Either way their
    start-up is off the job's path. No status edit stands between the
    download and ffmpeg: the progress ticks (never waited for) show the conversion."""
    job = get_current_job()
    status = StatusMessage(runtime.client(), job.connection, request) if job is not None else None
    waiting = spare.take()  # the worker's ffprobe runs for this input path, if any (jobs.spare)
    src = waiting.src if waiting is not None else folder / f"in-{secrets.token_hex(8)}"
    meme = None
    if request.has_text and job is not None:  # the words wait in Redis, never in the job's arguments
        meme = overlay.write(folder, memetext.load(job.connection, request.job_id), request.lang)
    with Warm(folder) as warm:
        if waiting is not None:
            warm.adopt(waiting.warm)
        if status and not 0 < request.file_size < DOWNLOAD_STATUS_MIN_BYTES:
            status.show("status_downloading")
        size_in = fetch(request, settings, src, deadline, warm)
        limits = replace(
            limits_for(settings), convert_timeout=min(settings.convert_timeout, deadline - time.monotonic())
        )
        if limits.convert_timeout <= 0:
            raise TransientError("no time left to convert")
        progress = status.progress if status else None
        options = options_for(request, meme)
        if request.output is OutputKind.STICKER:
            result = sticker.convert(src, folder / STICKER_NAME, options, limits, progress, warm=warm)
        else:
            result = fit.convert(src, folder / GIF_NAME, options, limits, progress, warm)
    src.unlink(missing_ok=True)
    return size_in, result


def fetch(request: ConversionRequest, settings: Settings, src: Path, deadline: float, warm: Warm) -> int:
    """Download the video to `src` while probe()'s ffprobe runs start in `warm` (each start forks
    this process: ~10-30 ms that the download's network waits now hide), unless the worker's
    spare runs wait for `src` already; returns its size.

    The download runs on this thread, whose Bot API session the worker made before forking (a
    new thread's first request cost a work horse ~3 ms more). Its connection is closed after the
    download: sendAnimation, minutes later, would otherwise reuse one the server may have
    dropped meanwhile, and a send that fails after it went out cannot be retried."""
    client, local, max_bytes = runtime.client(), localfiles.from_settings(settings), settings.max_input_bytes
    limits = limits_for(settings)
    with ThreadPoolExecutor(1, thread_name_prefix="probe-start") as pool:
        starting = None if probe.held(src, limits, warm) else pool.submit(probe.warm_up, src, limits, warm)
        try:
            size = telegram.download(client, request.file_id, src, max_bytes, deadline, local)
        except LocalFileRefused as exc:  # the reason, never the path: it holds the token
            log.warning("job=%s refused the Bot API server's file: %s", request.job_id, exc.detail)
            raise
        finally:
            telegram.drop_connections()
    if starting is not None:
        starting.result()  # a start that failed (no process could be made) fails the attempt
    return size


def options_for(request: ConversionRequest, meme: overlay.Meme | None = None) -> recipe.GifOptions:
    """The recipe options a request asks for (with its text's files, if it has text)."""
    return recipe.GifOptions(
        width=request.width,
        fps=request.fps,
        max_seconds=request.max_seconds,
        start=request.start,
        end=request.end,
        speed=request.speed,
        reverse=request.reverse,
        meme=meme,
        crop=request.crop,
        square=request.square,
    )


def limits_for(settings: Settings) -> recipe.Limits:
    """The safety limits this worker enforces."""
    return recipe.Limits(
        max_pixels=settings.max_pixels,
        convert_timeout=float(settings.convert_timeout),
        max_output_bytes=settings.max_output_bytes,
    )


def main(argv: list[str] | None = None) -> int:
    """`python -m jobs.convert IN OUT.gif`: run the workers' exact recipe on a local file."""
    parser = argparse.ArgumentParser(prog="python -m jobs.convert", description=main.__doc__)
    parser.add_argument("src", type=Path)
    parser.add_argument("dst", type=Path)
    defaults = Settings()
    parser.add_argument("--width", type=int, default=defaults.gif_width)
    parser.add_argument("--fps", type=int, default=defaults.gif_fps)
    parser.add_argument("--max-seconds", type=float, default=defaults.max_seconds)
    parser.add_argument("--start", type=float, default=0.0)
    parser.add_argument("--end", type=float, default=None)
    args = parser.parse_args(argv)
    if not args.src.is_file():
        parser.error(f"{args.src}: no such file")  # exit 2 with the usage, not a traceback
    options = recipe.GifOptions(
        width=args.width, fps=args.fps, max_seconds=args.max_seconds, start=args.start, end=args.end
    )
    started = time.monotonic()
    try:
        result = fit.convert(args.src.resolve(), args.dst.resolve(), options, limits_for(defaults))
    except UserFacingError as exc:
        print(f"refused: {text(exc.text_key, max_mb=defaults.max_input_mb)}", file=sys.stderr)
        return 2
    print(
        f"{args.dst}: {result.width}x{result.height}, {result.fps:g} fps, {result.seconds:.2f} s, "
        f"{result.size_bytes} bytes, truncated={result.truncated}, shrunk={result.shrunk}, "
        f"in {time.monotonic() - started:.2f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
