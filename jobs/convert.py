"""The RQ job: download one Telegram video by file_id, convert it to a GIF on this box."""

from __future__ import annotations

import logging
import secrets
import time
from typing import Any

from rq import get_current_job

from app import markers, telegram
from app.models import ConversionRequest
from app.settings import Settings
from jobs import ffmpeg, runtime, status, workdir

log = logging.getLogger(__name__)
GIF_NAME = "animation.gif"


def convert_video(**kwargs: Any) -> dict[str, Any]:
    """Turn the video in kwargs (a ConversionRequest) into a GIF in the job's temp dir.

    Returns what the on_success callback needs to send it; plain JSON, no paths.
    """
    request = ConversionRequest.from_kwargs(kwargs)
    job = get_current_job()
    if job is not None and markers.already_sent(job.connection, request.job_id):
        log.info("job=%s already delivered; skipping the conversion", request.job_id)
        return {"already_sent": True}
    settings = runtime.settings()
    bot = runtime.client()
    status.show(bot, request, "status_converting")
    folder = workdir.fresh_job_dir(settings.tmp_root, request.job_id)
    started = time.monotonic()
    try:
        src = folder / f"in-{secrets.token_hex(8)}"
        size_in = telegram.download(bot, request.file_id, src, settings.max_input_bytes)
        result = ffmpeg.convert(src, folder / GIF_NAME, options_for(request), limits_for(settings))
        src.unlink(missing_ok=True)
    except BaseException:
        workdir.remove(folder)
        raise
    seconds = time.monotonic() - started
    log.info(
        "job=%s user=%s converted %d B -> %d B in %.2fs",
        request.job_id,
        request.user_id,
        size_in,
        result.size_bytes,
        seconds,
    )
    return {
        "gif": GIF_NAME,
        "size_in": size_in,
        "size_bytes": result.size_bytes,
        "width": result.width,
        "height": result.height,
        "duration": result.seconds,
        "truncated": result.truncated,
        "shrunk": result.shrunk,
        "convert_seconds": round(seconds, 3),
    }


def options_for(request: ConversionRequest) -> ffmpeg.GifOptions:
    """The recipe options a request asks for."""
    return ffmpeg.GifOptions(
        width=request.width,
        fps=request.fps,
        max_seconds=request.max_seconds,
        start=request.start,
        end=request.end,
    )


def limits_for(settings: Settings) -> ffmpeg.Limits:
    """The safety limits this worker enforces."""
    return ffmpeg.Limits(
        max_pixels=settings.max_pixels,
        convert_timeout=float(settings.convert_timeout),
        max_output_bytes=settings.max_output_bytes,
    )
