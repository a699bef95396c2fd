"""Real services for tests: a redis-server on a free port and our own processes, with their logs."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis

REPO_ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(
    predicate: Callable[[], object], timeout: float, interval: float = 0.05, what: str = ""
) -> object:
    """Poll predicate until it returns something truthy; AssertionError after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or predicate}")
        time.sleep(interval)


@dataclass
class RedisServer:
    """A redis-server child process owned by the test session."""

    workdir: Path
    port: int = field(default_factory=free_port)
    appendonly: bool = False
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        """Start redis-server and wait until it answers PING."""
        exe = shutil.which("redis-server")
        if exe is None:
            raise RuntimeError("redis-server is not installed: run scripts/test.sh (it installs it)")
        self.workdir.mkdir(parents=True, exist_ok=True)
        args = [
            exe,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(self.workdir),
            "--save",
            "",
            "--appendonly",
            "yes" if self.appendonly else "no",
            "--loglevel",
            "warning",
        ]
        log = (self.workdir / "redis.log").open("ab")
        self.process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        client = redis.Redis.from_url(self.url, socket_connect_timeout=0.5)
        wait_until(lambda: self._ping(client), timeout=15, what="redis-server to answer PING")
        return self

    @staticmethod
    def _ping(client: redis.Redis) -> bool:
        try:
            return bool(client.ping())
        except redis.exceptions.ConnectionError:
            return False

    def stop(self, sig: int = signal.SIGTERM) -> None:
        """Stop redis-server (SIGTERM lets it flush its AOF) and wait for it."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(sig)
            self.process.wait(timeout=15)

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url)


@dataclass
class Proc:
    """One of our processes (`python -m ...`) in its own process group, logging to a file."""

    name: str
    popen: subprocess.Popen
    log_path: Path

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def kill_group(self, sig: int = signal.SIGKILL) -> None:
        """Signal the whole process group (the process, its work horse, its ffmpeg)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, sig)

    def stop(self, timeout: float = 20) -> None:
        """SIGTERM, wait, then SIGKILL the group if it is still there."""
        if self.alive():
            self.kill_group(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(timeout=timeout)
        self.kill_group(signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout=5)


def stack_env(token: str, api_url: str, redis_url: str, workdir: Path) -> dict[str, str]:
    """Settings for test processes: the fake Bot API, a test Redis, fast retries, own temp dir."""
    return {
        "TELEGRAM_BOT_TOKEN": token,
        "TELEGRAM_API_URL": api_url,
        "REDIS_URL": redis_url,
        "RETRY_INTERVAL": "1",
        "GIFBOT_TMP_DIR": str(workdir / "work"),
        "LOG_LEVEL": "INFO",
    }


@contextlib.contextmanager
def running_stack(env: dict[str, str], logdir: Path, request: Any) -> Iterator[Stack]:
    """A Stack stopped afterwards; its processes' logs are printed if the test failed."""
    processes = Stack(env=env, logdir=logdir)
    try:
        yield processes
    finally:
        processes.stop()
        report = getattr(request.node, "rep_call", None)
        if report is not None and report.failed:
            print(processes.logs())


@dataclass
class Stack:
    """Launches the bot and workers as real processes against the given services."""

    env: dict[str, str]
    logdir: Path
    procs: list[Proc] = field(default_factory=list)

    def spawn(self, name: str, module: str, **extra_env: str) -> Proc:
        """Start `python -m module` from the repo root with the stack's environment."""
        self.logdir.mkdir(parents=True, exist_ok=True)
        log_path = self.logdir / f"{name}.log"
        env = {**os.environ, **self.env, **extra_env, "PYTHONUNBUFFERED": "1"}
        popen = subprocess.Popen(
            [sys.executable, "-m", module],
            cwd=REPO_ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log_path.open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        proc = Proc(name, popen, log_path)
        self.procs.append(proc)
        return proc

    def bot(self, **extra_env: str) -> Proc:
        return self.spawn(f"bot-{len(self.procs)}", "app", **extra_env)

    def worker(self, **extra_env: str) -> Proc:
        name = f"worker-{len(self.procs)}"
        return self.spawn(name, "jobs.worker", WORKER_NAME=name, **extra_env)

    def stop(self) -> None:
        for proc in self.procs:
            proc.stop()

    def logs(self) -> str:
        return "\n".join(f"----- {p.name} -----\n{p.log()[-6000:]}" for p in self.procs)
