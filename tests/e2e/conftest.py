"""Fixtures shared by the end-to-end tests: a Redis of the test's own that can be stopped."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.telegram_api import FakeTelegramAPI
from tests.services import RedisServer, Stack, running_stack, stack_env


@pytest.fixture
def aof_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server of this test's own with appendonly yes, so it can be stopped and restarted."""
    server = RedisServer(tmp_path / "redis-aof", appendonly=True).start()
    yield server
    server.stop()


@pytest.fixture
def aof_stack(
    request: pytest.FixtureRequest, fake_api: FakeTelegramAPI, aof_redis: RedisServer, tmp_path: Path
) -> Iterator[Stack]:
    """Our processes as real processes, on the appendonly redis-server of `aof_redis`."""
    env = stack_env(fake_api.token, fake_api.base_url, aof_redis.url, tmp_path)
    with running_stack(env, tmp_path / "logs", request) as processes:
        yield processes
