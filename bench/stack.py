"""The whole product running for real: redis-server, the fake Bot API over HTTP, the bot, workers.

Built from the test suite's own services (tests/services.py, tests/fakes/telegram_api.py), so
the benchmark drives exactly what the end-to-end tests drive: `python -m app` and
`python -m jobs.worker` as separate processes talking HTTP and Redis.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import redis
from rq import Worker

from core import keys, prefs
from tests import factories
from tests.fakes.telegram_api import Call, FakeTelegramAPI, FileRecord
from tests.gifcheck import all_done
from tests.services import Proc, RedisServer, Stack, stack_env, wait_until

READY_TIMEOUT_S = 120
TELEGRAM_LIMIT = 30  # the fake API answers 429 past this many messages a second, as Telegram does
FIRST_USER_ID = 900_000  # far from the test suite's and bench.burst's user ids


@dataclass(frozen=True)
class Sent:
    """One video update pushed to the fake API."""

    chat: int
    message_id: int
    update_id: int
    pushed_at: float  # time.monotonic(), the clock of Call.at
    record: FileRecord


class LiveStack:
    """A running stack plus the measurements the benchmark takes from the fake API's call log."""

    def __init__(self, api: FakeTelegramAPI, stack: Stack, server: RedisServer, workers: list[Proc]) -> None:
        self.api = api
        self.stack = stack
        self.redis: redis.Redis = server.client()
        self.workers = workers
        self._users = itertools.count(FIRST_USER_ID)

    def send(self, clips: list[bytes], choices: dict[str, str] | None = None) -> list[Sent]:
        """Push one video per clip, each from a new user (with these /settings `choices`), in one batch."""
        return self.push([self.api.add_file(data) for data in clips], choices or {})

    def resend(self, sent: Sent) -> Sent:
        """Push the same file again from a new user (a repeat the cache should answer)."""
        return self.push([sent.record])[0]

    def push(self, records: list[FileRecord], choices: dict[str, str] | None = None) -> list[Sent]:
        """Push one video update per file record, each from a new user, in one batch."""
        users = [next(self._users) for _ in records]
        for user in users:
            for name, value in (choices or {}).items():
                prefs.save_choice(self.redis, user, name, value)
        updates = [
            factories.make_video_update(record, user_id=user, chat_id=user)
            for record, user in zip(records, users, strict=True)
        ]
        pushed_at = time.monotonic()
        ids = self.api.push_updates(updates)
        return [
            Sent(user, u["message"]["message_id"], update_id, pushed_at, record)
            for user, u, update_id, record in zip(users, updates, ids, records, strict=True)
        ]

    def wait_gifs(self, sent: list[Sent], timeout: float) -> list[Call]:
        """Wait until every chat got its GIF; return them in `sent` order."""
        chats = {s.chat for s in sent}

        def delivered() -> dict[str, Call] | None:
            found = {
                c.chat_id: c for c in self.api.sent_animations() if c.chat_id and int(c.chat_id) in chats
            }
            return found if len(found) == len(chats) else None

        found = self.api.wait_for(delivered, timeout=timeout, message=f"{len(chats)} GIFs")
        return [found[str(s.chat)] for s in sent]

    def wait_done(self, sent: list[Sent], timeout: float = 60) -> None:
        """Wait until every job has ended in RQ (callbacks run, worker free again)."""
        messages = [(s.chat, s.message_id) for s in sent]
        wait_until(lambda: all_done(self.redis, messages), timeout, what="jobs to end")
        wait_until(self.workers_idle, timeout, what="workers idle")

    def workers_idle(self) -> bool:
        """Tell whether every worker is registered and idle."""
        workers = Worker.all(connection=self.redis)
        return len(workers) == len(self.workers) and all(w.get_state() == "idle" for w in workers)

    def served_at(self, sent: Sent) -> float:
        """When the bot received this update: the answer to the getUpdates call that carried it."""
        calls = self.api.calls("getUpdates")
        return next(c.at for c in calls if self._carries(c, sent.update_id))

    def calls_after(self, since: float, method: str, chat_id: int | None = None) -> list[Call]:
        """Calls of `method` (to `chat_id`) that arrived at or after `since` (monotonic), in order."""
        return [c for c in self.api.calls(method, chat_id=chat_id) if (c.started or c.at) >= since]

    def ack_at(self, sent: Sent) -> float:
        """When the first reply (the status message) reached the fake API."""
        return self.api.calls("sendMessage", chat_id=sent.chat)[0].at

    def wait_acks(self, sent: list[Sent], timeout: float) -> None:
        """Wait until every chat got its first reply."""
        chats = {str(s.chat) for s in sent}
        self.api.wait_for(
            lambda: chats <= {c.chat_id for c in self.api.calls("sendMessage")},
            timeout=timeout,
            message="every video acknowledged",
        )

    @staticmethod
    def _carries(call: Call, update_id: int) -> bool:
        return bool(call.result) and any(u.get("update_id") == update_id for u in call.result)

    def bot_pids(self) -> list[int]:
        """The pid of the bot process."""
        return [p.popen.pid for p in self.stack.procs if p.name.startswith("bot")]

    def worker_pids(self) -> list[int]:
        """The pids of the worker processes (each the root of its horse and ffmpeg)."""
        return [w.popen.pid for w in self.workers]


@contextmanager
def running(
    workdir: Path,
    workers: int = 2,
    log_level: str = "INFO",
    worker_module: str = "jobs.worker",
    scheduler: bool = False,
) -> Iterator[LiveStack]:
    """Start redis-server, the fake API, the bot and `workers` workers (and the scheduler, if
    asked); stop them all on exit.

    `worker_module` runs instead of jobs.worker (e.g. a patched worker, to measure a proposal).
    """
    server = RedisServer(workdir / "redis").start()
    try:
        with FakeTelegramAPI() as api:
            api.set_global_limit(TELEGRAM_LIMIT)
            env = {**stack_env(api.token, api.base_url, server.url, workdir), "LOG_LEVEL": log_level}
            stack = Stack(env=env, logdir=workdir / "logs")
            try:
                stack.bot()
                names = [f"worker-{i}" for i in range(workers)]
                procs = [stack.spawn(name, worker_module, WORKER_NAME=name) for name in names]
                live = LiveStack(api, stack, server, procs)
                if scheduler:
                    stack.spawn("scheduler", "jobs.scheduler")
                    wait_until(lambda: live.redis.exists(keys.MAINTENANCE), READY_TIMEOUT_S, what="a pass")
                wait_until(
                    lambda: Worker.count(connection=live.redis) == workers,
                    READY_TIMEOUT_S,
                    what="workers registered",
                )
                wait_until(lambda: api.pollers_waiting() > 0, READY_TIMEOUT_S, what="the bot polling")
                yield live
            finally:
                stack.stop()
    finally:
        server.stop()
