"""REDIS_URL's Sentinel form: parsed exactly, refused with one clear message, and followed by a
client through a real failover (redis-server Sentinels, SIGKILL of the master)."""

from __future__ import annotations

import signal
import socket
from pathlib import Path

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from core.connection import Pinned, connect_url, master_only, replicated
from core.redis_url import SentinelURL, parse_sentinel_url
from core.settings import Settings, SettingsError
from tests.sentinel import SentinelGroup, running_group
from tests.services import wait_until

SECRET = "hunter2-do-not-show"


# ---------------------------------------------------------------- parsing


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "redis+sentinel://10.0.0.1:26379,10.0.0.2:26380,s3.example:5000/mymaster",
            SentinelURL(
                hosts=(("10.0.0.1", 26379), ("10.0.0.2", 26380), ("s3.example", 5000)), service="mymaster"
            ),
        ),
        (
            "redis+sentinel://s1,s2:26380/gifs",
            SentinelURL(hosts=(("s1", 26379), ("s2", 26380)), service="gifs"),
        ),
        (
            "redis+sentinel://:pw@s1:26379/mymaster/3",
            SentinelURL(hosts=(("s1", 26379),), service="mymaster", db=3, password="pw"),
        ),
        (
            "redis+sentinel://bot:p%40ss%3Aword@s1:26379/mymaster",
            SentinelURL(hosts=(("s1", 26379),), service="mymaster", username="bot", password="p@ss:word"),
        ),
        (
            "redis+sentinel://s1:26379/mymaster?sentinel_password=sp%26x",
            SentinelURL(hosts=(("s1", 26379),), service="mymaster", sentinel_password="sp&x"),
        ),
        (
            "redis+sentinel://[::1]:26380,[fe80::2]/mymaster/1",
            SentinelURL(hosts=(("::1", 26380), ("fe80::2", 26379)), service="mymaster", db=1),
        ),
    ],
    ids=["hosts", "default-port", "password-db", "username-escaped", "sentinel-password", "ipv6"],
)
def test_sentinel_url_parts_are_read_exactly(url: str, expected: SentinelURL):
    """Hosts (26379 by default), service, db, username, password and sentinel_password are parsed."""
    assert parse_sentinel_url(url) == expected


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        (f"redis+sentinel://:{SECRET}@/mymaster", "names no Sentinel host"),
        (f"redis+sentinel://:{SECRET}@s1:26379", "must end in /SERVICE_NAME"),
        (f"redis+sentinel://:{SECRET}@s1:26379/mymaster/zero", "must end in /SERVICE_NAME"),
        (f"redis+sentinel://:{SECRET}@s1:26379/a/1/2", "must end in /SERVICE_NAME"),
        (f"redis+sentinel://:{SECRET}@s1:port/mymaster", "not HOST:PORT"),
        (f"redis+sentinel://:{SECRET}@s1:0/mymaster", "not HOST:PORT"),
        (f"redis+sentinel://:{SECRET}@s1:65536/mymaster", "not HOST:PORT"),
        (f"redis+sentinel://:{SECRET}@:26379/mymaster", "not HOST:PORT"),
    ],
    ids=["no-host", "no-service", "bad-db", "extra-part", "bad-port", "port-0", "port-high", "no-hostname"],
)
def test_bad_sentinel_url_is_refused_without_echoing_the_password(url: str, reason: str):
    """Each malformed URL raises ValueError saying what is wrong, never showing the password."""
    with pytest.raises(ValueError, match=reason) as info:
        parse_sentinel_url(url)
    assert SECRET not in str(info.value)


def test_settings_accept_a_sentinel_url(tmp_path: Path):
    """REDIS_URL may name a Sentinel group; the setting keeps it whole."""
    url = f"redis+sentinel://:{SECRET}@127.0.0.1:26379,127.0.0.1:26380/mymaster/2?sentinel_password=sp"
    settings = Settings.from_env({"REDIS_URL": url}, env_file=tmp_path / "none")
    assert settings.redis_url == url
    assert SECRET not in repr(settings)


@pytest.mark.parametrize(
    "url",
    [
        f"redis+sentinel://:{SECRET}@s1:26379",
        f"redis+sentinel://:{SECRET}@s1:notaport/mymaster",
        f"redis-sentinel://:{SECRET}@s1:26379/mymaster",
    ],
    ids=["no-service", "bad-port", "misspelt-scheme"],
)
def test_settings_refuse_a_bad_sentinel_url_in_one_message(tmp_path: Path, url: str):
    """A bad Sentinel URL stops the start with one problem naming REDIS_URL, the password hidden."""
    with pytest.raises(SettingsError) as info:
        Settings.from_env({"REDIS_URL": url}, env_file=tmp_path / "none")
    [problem] = info.value.problems
    assert problem.startswith("REDIS_URL=(hidden) ")
    assert SECRET not in str(info.value)


# ---------------------------------------------------------------- a real Sentinel group


def _write_lands_on(client: redis.Redis, key: str) -> int | None:
    """Write `key` through `client`; the port of the master that took it, or None if it failed."""
    try:
        client.set(key, "1")
        info = client.info("replication") | client.info("server")
    except redis.RedisError:
        return None
    return int(info["tcp_port"]) if info["role"] == "master" else None


def test_connect_url_writes_to_the_master(sentinel_group: SentinelGroup):
    """A client for a redis+sentinel:// URL writes to the master, and the replica receives it."""
    client = connect_url(sentinel_group.url)
    master, replica = sentinel_group.master(), sentinel_group.replica()
    assert _write_lands_on(client, "greeting") == master.port
    assert master.client().get("greeting") == b"1"
    wait_until(lambda: replica.client().get("greeting") == b"1", timeout=10, what="the replica to have it")


def test_same_client_writes_to_the_new_master_after_a_failover(sentinel_group: SentinelGroup):
    """kill -9 of the master: the same client object writes to the promoted replica, not rebuilt."""
    client = connect_url(sentinel_group.url)
    assert _write_lands_on(client, "before") is not None
    wait_until(lambda: sentinel_group.replica().client().get("before"), timeout=10, what="before replicated")
    old, _killed_at = sentinel_group.kill_master()
    port = wait_until(lambda: _write_lands_on(client, "after"), timeout=60, what="a write after the failover")
    new = sentinel_group.wait_failover(old)
    assert port == new.port != old.port
    assert new.client().mget("before", "after") == [b"1", b"1"]


def test_writes_on_a_master_frozen_through_a_failover_are_redone(sentinel_group: SentinelGroup):
    """The master freezes (a stalled VM, a partition), the Sentinels promote the replica, and the
    old master wakes up still taking writes on the connections it had: replicated() on such a
    connection raises (the writes would vanish when the old master rejoins as a replica), and the
    same writes on a new Pinned client land on the new master and pass."""
    client = connect_url(sentinel_group.url)
    pinned = Pinned(client)
    try:
        pinned.set("before", "1")
        assert replicated(pinned, timeout_ms=10_000)
        old, new = sentinel_group.frozen_through_failover()
        pinned.set("during", "1")  # the old master answers: it does not know it was replaced
        assert pinned.borrowed.connection.port == old.port
        with pytest.raises(redis.ConnectionError):
            replicated(pinned, timeout_ms=200)
    finally:
        pinned.close()
    with Pinned(client) as again:
        again.set("during", "1")
        replicated(again, timeout_ms=200)  # no replica yet, maybe: one copy, but the right one
        assert again.borrowed.connection.port == new.port


def test_a_block_that_reached_a_thawed_former_master_is_refused_then_lands_on_the_new_one(
    sentinel_group: SentinelGroup,
):
    """A pool keeps its idle connection to a master frozen through a failover; once thawed, that
    server still takes writes. master_only() raises for a block whose commands went there, and the
    same block run again reaches the new master."""
    client = connect_url(sentinel_group.url)
    client.set("before", "1")  # leaves an idle connection to this master in the pool
    old, new = sentinel_group.frozen_through_failover()
    with pytest.raises(redis.ConnectionError, match=f"'127.0.0.1', {old.port}"), master_only(client):
        client.set("during", "1")
    with master_only(client):
        client.set("during", "2")
    assert new.client().get("during") == b"2"


class Interrupted(Exception):
    """Raised by a signal handler mid-command, as RQ's StopRequested and job timeouts are."""


def _interrupt(_signum: int, _frame: object) -> None:
    raise Interrupted


def test_an_interrupted_command_never_hands_its_reply_to_the_next(sentinel_group: SentinelGroup):
    """A signal that interrupts a blocking read: the next commands get their own replies."""
    client = connect_url(sentinel_group.url)
    client.set("probe", "mine")
    previous = signal.signal(signal.SIGALRM, _interrupt)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.2)
        with pytest.raises(Interrupted):
            client.blpop(["empty-list"], timeout=1)  # its nil reply comes 0.8 s after the interrupt
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert client.ping() is True
    assert client.get("probe") == b"mine"


def test_connect_url_authenticates_to_sentinels_and_master(tmp_path: Path, request: pytest.FixtureRequest):
    """Passwords in the URL reach the master (requirepass) and the Sentinels (sentinel_password)."""
    with running_group(tmp_path, request, password="data-pw", sentinel_password="sentinel-pw") as group:
        assert _write_lands_on(connect_url(group.url), "authed") == group.master().port
        wrong = group.url.replace(":data-pw@", ":wrong@")
        with pytest.raises(redis.AuthenticationError):
            connect_url(wrong).ping()
        no_retry = Retry(NoBackoff(), 0)  # refused at once, not after redis-py's backoff
        with pytest.raises(redis.AuthenticationError):  # so the Sentinels did need the password
            redis.Redis(port=group.sentinels[0].port, retry=no_retry).ping()


def _has_ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.skipif(not _has_ipv6_loopback(), reason="this machine has no IPv6 loopback")
def test_connect_url_reaches_sentinels_over_ipv6(sentinel_group: SentinelGroup):
    """Sentinels named as [::1]:PORT are asked over IPv6 and lead the client to the master."""
    url = sentinel_group.url.replace("127.0.0.1:", "[::1]:")
    assert "[::1]:" in url
    assert _write_lands_on(connect_url(url), "over-ipv6") == sentinel_group.master().port
