"""core.outage and core.connection.replicated: backing off, logging once each way, waiting for replicas."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest
import redis

from core import connection, keys, outage, pace
from tests.fakes.redis_cut import RedisCut
from tests.services import RedisServer, Stack, stack_env, wait_until

DEAD = "redis://127.0.0.1:1/0"  # nothing listens on port 1


def test_backoff_doubles_up_to_the_cap_with_jitter() -> None:
    """Each failure waits longer, never past BACKOFF_CAP_S, and never the same fixed amount."""
    for failures in range(1, 12):
        ceiling = min(outage.BACKOFF_CAP_S, outage.BACKOFF_FIRST_S * 2 ** (failures - 1))
        delays = {outage.backoff(failures) for _ in range(20)}
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert len(delays) > 1, "no jitter"


def test_an_outage_logs_one_line_going_and_one_coming_back(caplog: pytest.LogCaptureFixture) -> None:
    """Five failed calls and a good one give exactly two log lines."""
    tracker = outage.Outage("the test")
    with caplog.at_level(logging.WARNING, logger="core.outage"):
        for _ in range(5):
            tracker.failed(redis.exceptions.ConnectionError("refused"))
        assert tracker.active
        tracker.recovered()
        tracker.recovered()
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 2
    assert "unreachable" in messages[0] and "is back" in messages[1]
    assert not tracker.active


def test_persist_retries_until_redis_answers_then_returns() -> None:
    """A write that must land is retried through errors and returns its result once it works."""
    calls: list[int] = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise redis.exceptions.ConnectionError("down")
        return "ok"

    assert outage.persist(flaky, "a test write", deadline_s=10) == "ok"
    assert len(calls) == 3


def test_persist_gives_up_at_its_deadline() -> None:
    """Past its deadline persist raises the Redis error instead of waiting forever."""
    client = redis.Redis.from_url(DEAD, socket_connect_timeout=0.2)
    started = time.monotonic()
    with pytest.raises(redis.exceptions.ConnectionError):
        outage.persist(client.ping, "a test write", deadline_s=1.5)
    assert time.monotonic() - started < 5


def test_wait_for_redis_returns_false_when_told_to_stop() -> None:
    """A process told to stop while waiting for Redis stops waiting."""
    import threading

    stop = threading.Event()
    threading.Timer(0.5, stop.set).start()
    assert (
        outage.wait_for_redis(redis.Redis.from_url(DEAD, socket_connect_timeout=0.2), "test", stop) is False
    )


def test_pacing_falls_back_to_local_time_while_redis_is_away(monkeypatch: pytest.MonkeyPatch) -> None:
    """With Redis away a chat still gets at most a burst of two, then one message per interval."""
    monkeypatch.setattr(pace, "CHAT_INTERVAL_S", 0.3)
    monkeypatch.setattr(pace, "BURST_S", 0.3)
    monkeypatch.setattr(pace, "_LOCAL", pace.LocalPace())
    dead = redis.Redis.from_url(DEAD, socket_connect_timeout=0.1)
    started = time.monotonic()
    for _ in range(4):
        assert pace.reserve(dead, 99)
    assert time.monotonic() - started >= 2 * 0.3 * 0.9
    assert pace.reserve(dead, 99, wait=False) is False, "an optional edit is skipped while the chat is busy"


def test_replicated_is_instant_without_replicas(redis_client: redis.Redis) -> None:
    """A lone Redis (no replica) does not make writers wait."""
    started = time.monotonic()
    assert connection.replicated(redis_client)
    assert time.monotonic() - started < 0.4


def test_replicated_waits_for_a_real_replica(redis_server: RedisServer, tmp_path: Path) -> None:
    """With a replica attached, a write is acknowledged by it; with the replica paused, WAIT times out."""
    replica = RedisServer(tmp_path / "replica").start()
    try:
        replica.client().execute_command("REPLICAOF", "127.0.0.1", redis_server.port)
        master = redis_server.client()
        wait_until(lambda: _online(master), timeout=15, what="the replica to finish its sync")
        master.set("gifbot:test:replicated", "1")
        assert connection.replicated(master, timeout_ms=10_000)  # generous: a loaded box is slow
        assert replica.client().get("gifbot:test:replicated") == b"1"
        replica.process.send_signal(19)  # SIGSTOP: the replica stops acknowledging
        assert connection.replicated(master, timeout_ms=200) is False
        replica.process.send_signal(18)  # SIGCONT
    finally:
        replica.stop()
        redis_server.client().execute_command("REPLICAOF", "NO", "ONE")


def test_a_pinned_client_runs_commands_and_pipelines_on_one_connection(redis_client: redis.Redis) -> None:
    """Writes made in a pipeline (the bot's store) and replicated()'s own commands reach the
    server on the same connection, which goes back to its pool afterwards."""
    with connection.Pinned(redis_client) as pinned:
        ids = {pinned.client_id()}
        for transaction in (False, True):
            with pinned.pipeline(transaction=transaction) as pipe:
                pipe.client_id()
                ids.add(pipe.execute()[0])
        assert connection.replicated(pinned)
        assert len(ids) == 1
    assert redis_client.client_id() in ids  # the pool has it back


def _online(master: redis.Redis) -> bool:
    replica = master.info("replication").get("slave0")
    return isinstance(replica, dict) and replica.get("state") == "online"


def test_a_scheduler_whose_redis_drops_while_it_sets_up_waits_and_goes_on(
    redis_server: RedisServer, redis_client: redis.Redis, tmp_path: Path
) -> None:
    """A failover can cut Redis while the scheduler sets itself up (it cancels older versions'
    schedules first, as after every outage): it waits for Redis again and leads, never exits."""
    with RedisCut(redis_server.port) as cut:
        cut.drop_answer_to(b"ZSCORE")  # the first schedule it looks for
        env = stack_env("123456:TEST-fake-token", "http://127.0.0.1:9", cut.url, tmp_path)
        stack = Stack(env=env, logdir=tmp_path / "logs")
        try:
            scheduler = stack.spawn("scheduler", "jobs.scheduler")
            wait_until(lambda: cut.cuts == 1, 20, what="the cut during the set-up")
            wait_until(lambda: redis_client.get(keys.SCHEDULER_LOCK), 30, what="the scheduler leading")
            assert scheduler.popen.poll() is None, stack.logs()
        finally:
            stack.stop()
