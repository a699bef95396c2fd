"""Session services (real redis-server, fake Bot API over HTTP) and the process stack fixture."""

from __future__ import annotations

import shutil
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from rq import Queue
from telebot import apihelper

from core import admission
from core.settings import Settings
from jobs import runtime
from tests import media
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.services import RedisServer, Stack, running_stack, stack_env

pytest_plugins = ("tests.sentinel",)  # the sentinel_group fixture


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: long soak tests, run by `scripts/test.sh --slow` only")
    for tool in ("ffmpeg", "ffprobe", "redis-server"):
        if shutil.which(tool) is None:
            raise pytest.UsageError(f"{tool} is not installed: run `bash scripts/test.sh`, which installs it")


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> object:
    """Keep each phase's report on the item so fixtures can print logs of a failed test."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A real redis-server on a free port for the whole session."""
    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    yield server
    server.stop()


@pytest.fixture
def redis_client(redis_server: RedisServer) -> Iterator[redis.Redis]:
    """A client on the session's redis-server, flushed before and after the test."""
    client = redis_server.client()
    client.flushall()
    yield client
    client.flushall()


@pytest.fixture
def fake_api() -> Iterator[FakeTelegramAPI]:
    """A fake Telegram Bot API server speaking real HTTP on a free port."""
    with FakeTelegramAPI() as api:
        yield api


@pytest.fixture
def stack(
    request: pytest.FixtureRequest,
    fake_api: FakeTelegramAPI,
    redis_client: redis.Redis,
    redis_server: RedisServer,
    tmp_path: Path,
) -> Iterator[Stack]:
    """Bot and workers as real processes, wired to the fake Bot API and the test Redis."""
    env = stack_env(fake_api.token, fake_api.base_url, redis_server.url, tmp_path)
    with running_stack(env, tmp_path / "logs", request) as processes:
        yield processes


@pytest.fixture(scope="session")
def clip_bytes(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A small real H.264 mp4 (1.5 s, 192x108, 10 fps) made with ffmpeg's lavfi source."""
    return media.make_clip(
        tmp_path_factory.mktemp("clips"), seconds=1.5, size=(192, 108), fps=10
    ).read_bytes()


@pytest.fixture
def settings(
    fake_api: FakeTelegramAPI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Settings]:
    """Worker settings on the fake Bot API, installed in jobs.runtime (telebot's globals and the
    runtime are put back afterwards). Modules that need other settings define their own."""
    monkeypatch.setattr(runtime, "_settings", None)
    for name in ("API_URL", "FILE_URL", "CONNECT_TIMEOUT", "READ_TIMEOUT"):
        monkeypatch.setattr(apihelper, name, getattr(apihelper, name))
    settings = Settings(
        telegram_bot_token=fake_api.token,
        telegram_api_url=fake_api.base_url,
        tmp_dir=str(tmp_path / "work"),
        retry_max=3,
    )
    runtime.init(settings)
    yield settings


@pytest.fixture
def queue(redis_client: redis.Redis, settings: Settings) -> Queue:
    """The conversion queue on the test Redis, with the worker settings installed."""
    return admission.gif_queue(redis_client, settings)


@pytest.fixture
def rq_signal_handlers() -> Iterator[None]:
    """RQ's work loop installs SIGINT/SIGTERM handlers in this process: put pytest's back after."""
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    yield
    for sig, handler in saved.items():
        signal.signal(sig, handler)
