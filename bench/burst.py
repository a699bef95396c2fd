"""`python -m bench.burst`: time one burst of videos through the real bot and 1, 2, 3 workers.

Each run starts a fresh redis-server and fake Telegram Bot API (from tests/), the bot and W
workers as real processes (`python -m app`, `python -m jobs.worker`), waits until they are ready,
then pushes N copies of one clip from N users in one getUpdates batch. The time is from the push
to the last GIF sent. Not a test: the numbers depend on the machine and on what else runs on it.
Run from the repo root with the venv's python; it needs ffmpeg and redis-server.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from rq import Worker

from tests import factories
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.media import make_clip
from tests.services import RedisServer, Stack, wait_until

READY_TIMEOUT_S = 120
BURST_TIMEOUT_S = 1800
FIRST_USER_ID = 500_000


def run_burst(clip: bytes, workers: int, videos: int, workdir: Path) -> float:
    """Seconds from pushing `videos` updates to the last GIF sent, with `workers` workers."""
    server = RedisServer(workdir / "redis").start()
    try:
        with FakeTelegramAPI() as api:
            env = {
                "TELEGRAM_BOT_TOKEN": api.token,
                "TELEGRAM_API_URL": api.base_url,
                "REDIS_URL": server.url,
                "GIFBOT_TMP_DIR": str(workdir / "work"),
                "LOG_LEVEL": "WARNING",
            }
            stack = Stack(env=env, logdir=workdir / "logs")
            try:
                return _timed_burst(api, stack, server, clip, workers, videos)
            finally:
                stack.stop()
    finally:
        server.stop()


def _timed_burst(
    api: FakeTelegramAPI, stack: Stack, server: RedisServer, clip: bytes, workers: int, videos: int
) -> float:
    stack.bot()
    for _ in range(workers):
        stack.worker()
    client = server.client()
    wait_until(lambda: Worker.count(connection=client) == workers, READY_TIMEOUT_S, what="workers up")
    wait_until(lambda: api.pollers_waiting() > 0, READY_TIMEOUT_S, what="the bot polling")
    updates = []
    for user in range(FIRST_USER_ID, FIRST_USER_ID + videos):
        updates.append(factories.make_video_update(api.add_file(clip), user_id=user, chat_id=user))
    pushed_at = time.monotonic()
    api.push_updates(updates)
    api.wait_for(lambda: len(api.sent_animations()) >= videos, BURST_TIMEOUT_S, message="all GIFs")
    sent = api.sent_animations()
    chats = sorted(int(call.chat_id or 0) for call in sent)
    if chats != list(range(FIRST_USER_ID, FIRST_USER_ID + videos)):
        raise SystemExit(f"expected one GIF per user, got chats {chats}")
    return max(call.at for call in sent) - pushed_at


def main(argv: list[str] | None = None) -> int:
    """Run the bursts and print seconds per worker count and the ratio to 1 worker."""
    parser = argparse.ArgumentParser(prog="python -m bench.burst", description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--videos", type=int, default=30)
    parser.add_argument("--seconds", type=float, default=4.0, help="clip length (640x360, 25 fps)")
    parser.add_argument("--repeat", type=int, default=1, help="runs per worker count (median shown)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="gifbot-bench-") as tmp:
        clip = make_clip(Path(tmp), seconds=args.seconds).read_bytes()
        results: dict[int, float] = {}
        for workers in args.workers:
            runs = []
            for attempt in range(args.repeat):
                runs.append(run_burst(clip, workers, args.videos, Path(tmp) / f"w{workers}-{attempt}"))
                print(f"  {workers} worker(s), run {attempt + 1}: {runs[-1]:.1f} s", flush=True)
            results[workers] = statistics.median(runs)
    base = results.get(1)
    print(f"\n{args.videos} clips of {args.seconds:g} s, 640x360:")
    print(f"{'workers':>7}  {'seconds':>8}  {'time vs 1':>9}  {'speed-up':>8}")
    for workers, seconds in results.items():
        ratio = f"{seconds / base:9.2f}  {base / seconds:7.2f}x" if base else f"{'-':>9}  {'-':>8}"
        print(f"{workers:>7}  {seconds:8.1f}  {ratio}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
