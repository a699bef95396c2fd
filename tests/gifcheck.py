"""Read back what the bot sent: GIF bytes checked with ffprobe, job states from Redis."""

from __future__ import annotations

import json
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import redis
from rq.job import Job, JobStatus
from rq.serializers import JSONSerializer

from core.models import job_id_for


@dataclass(frozen=True)
class GifInfo:
    width: int
    height: int
    frames: int
    duration: float


def gif_info(data: bytes) -> GifInfo:
    """Probe GIF bytes with ffprobe (after checking the GIF magic bytes)."""
    assert data[:6] in (b"GIF89a", b"GIF87a"), f"not a GIF: {data[:16]!r}"
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "out.gif"
        path.write_bytes(data)
        out = subprocess.run(
            [
                "ffprobe",
                "-v",
                "error",
                "-count_frames",
                "-select_streams",
                "v:0",
                "-show_entries",
                "stream=width,height,nb_read_frames:format=duration",
                "-of",
                "json",
                str(path),
            ],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    info = json.loads(out)
    stream = info["streams"][0]
    return GifInfo(
        int(stream["width"]),
        int(stream["height"]),
        int(stream["nb_read_frames"]),
        float(info["format"].get("duration", 0)),
    )


def job_status(client: redis.Redis, chat_id: int, message_id: int) -> JobStatus | None:
    """The RQ status of the job for one Telegram message (None if there is none)."""
    try:
        job = Job.fetch(job_id_for(chat_id, message_id), connection=client, serializer=JSONSerializer)
        return job.get_status(refresh=True)
    except Exception:  # NoSuchJobError, a half-written job, or Redis mid-failover: asked again later
        return None


def all_done(client: redis.Redis, messages: list[tuple[int, int]]) -> bool:
    """True when every message's job has finished or failed for good."""
    ended = {JobStatus.FINISHED, JobStatus.FAILED}
    return all(job_status(client, chat, msg) in ended for chat, msg in messages)
