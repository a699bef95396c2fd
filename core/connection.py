"""The Redis connection every process uses (plain, TLS, unix socket or Sentinel) with timeouts.

`REDIS_URL` may name a Sentinel group: `redis+sentinel://[:PASSWORD@]HOST:PORT[,HOST:PORT…]/SERVICE
[/DB][?sentinel_password=…]`. The client then asks the Sentinels for the master on every new
connection, so after a failover every process follows the new master without a restart.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator
from typing import Any

import redis.exceptions
from redis import ConnectionPool, Redis
from redis.driver_info import DriverInfo
from redis.sentinel import Sentinel, SentinelConnectionPool, SentinelManagedConnection

from core import keys
from core.redis_url import SENTINEL_SCHEME, parse_sentinel_url
from core.settings import Settings

SOCKET_TIMEOUT_S = 5.0
CONNECT_TIMEOUT_S = 2.0
HEALTH_CHECK_INTERVAL_S = 15
# Every Redis error is handled like an outage: a refused or dropped connection, a timeout, but also
# MISCONF (disk full), READONLY (a demoted master) or OOM. Work waits for Redis; none is dropped.
REDIS_DOWN = (redis.exceptions.RedisError,)
log = logging.getLogger(__name__)
# What redis-py tells Redis it is (CLIENT SETINFO), worked out once: left to itself it reads its own
# version from the package's metadata on disk (importlib.metadata, an email parser) for every new
# connection (2.32 -> 1.81 ms per new connection and PING), and a work horse opens new ones each job.
DRIVER = DriverInfo()
Address = tuple[str, int]
_servers = threading.local()  # `servers`: where this thread's commands went inside master_only(), or None


class NotTheMaster(redis.exceptions.ConnectionError):
    """Writes reached a server the Sentinels no longer name as master: they may vanish; redo them."""


class SentinelConnection(SentinelManagedConnection):
    """redis-py's Sentinel connection, but one whose read was interrupted (a signal raising
    StopRequested or a job timeout, a socket timeout) is dropped as a plain Connection drops it.
    redis-py keeps it by default (its PR #4292), so the next command would get the unread reply of
    the previous one: a worker told to stop while waiting for a job took 20 s and failed to leave."""

    def read_response(self, *args: Any, disconnect_on_error: bool = True, **kwargs: Any) -> Any:
        """Read a reply; drop the socket if the read fails or is interrupted (unless told not to)."""
        return super().read_response(*args, disconnect_on_error=disconnect_on_error, **kwargs)

    def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        """Send a command, noting its server for master_only() (after the send: it may connect)."""
        super().send_packed_command(command, check_health)
        seen = getattr(_servers, "servers", None)
        if seen is not None:
            seen.add((self.host, self.port))


def connect(settings: Settings) -> Redis:
    """Return a Redis client for settings.redis_url (no round trip is made here)."""
    return connect_url(settings.redis_url)


def connect_url(url: str) -> Redis:
    """Return a Redis client for a redis://, rediss://, unix:// or redis+sentinel:// URL."""
    timeouts = {
        "socket_timeout": SOCKET_TIMEOUT_S,
        "socket_connect_timeout": CONNECT_TIMEOUT_S,
        "health_check_interval": HEALTH_CHECK_INTERVAL_S,
        "driver_info": DRIVER,
    }
    if not url.startswith(f"{SENTINEL_SCHEME}://"):
        return Redis.from_url(url, **timeouts)
    target = parse_sentinel_url(url)
    sentinel_kwargs: dict[str, Any] = {
        "socket_timeout": SOCKET_TIMEOUT_S,
        "socket_connect_timeout": CONNECT_TIMEOUT_S,
        "driver_info": DRIVER,
    }
    if target.sentinel_password:
        sentinel_kwargs["password"] = target.sentinel_password
    sentinel = Sentinel(list(target.hosts), sentinel_kwargs=sentinel_kwargs)
    return sentinel.master_for(
        target.service,
        connection_class=SentinelConnection,
        db=target.db,
        username=target.username,
        password=target.password,
        **timeouts,
    )


REPLICA_WAIT_MS = 500  # how long a write waits for a replica's acknowledgement at most


class _OneConnection(ConnectionPool):
    """A pool that hands out one connection, borrowed from another pool until give_back()."""

    def __init__(self, source: ConnectionPool) -> None:
        super().__init__(connection_class=source.connection_class, **source.connection_kwargs)
        self.source = source
        self.connection = source.get_connection()

    def get_connection(self, *_args: Any, **_kwargs: Any) -> Any:
        return self.connection

    def release(self, connection: Any) -> None:
        """Kept: the connection goes back to its own pool only in give_back()."""

    def give_back(self) -> None:
        self.source.release(self.connection)


class Pinned(Redis):
    """A client on one connection of another client's pool, for a block of writes and the
    replicated() that confirms them: every command and pipeline then reaches the same server.
    (Our connections never retry a command on a new connection: a failed one raises.)"""

    def __init__(self, redis: Redis) -> None:
        self.borrowed = _OneConnection(redis.connection_pool)
        super().__init__(connection_pool=self.borrowed)

    def close(self) -> None:
        """Give the connection back to the pool it came from."""
        super().close()
        self.borrowed.give_back()


def replicated(redis: Redis, timeout_ms: int = REPLICA_WAIT_MS) -> bool:
    """Wait until every write made so far reached a replica, if the master has any; False if none
    acknowledged in time (then we go on: availability first when only one copy exists).

    On a Pinned client (the writes were made on it) with no replica acknowledging, this also asks
    the Sentinels whether its server is still the master, and raises NotTheMaster if not, so
    the caller redoes its writes (a master frozen through a failover answers again, unaware it was
    replaced, and drops what it took once it rejoins as a replica)."""
    # Asked every time, not cached: after a failover the master (and its replicas) changed, and a
    # stale "no replicas" would skip the wait exactly when a write can still be lost.
    replicas = int(redis.info("replication").get("connected_slaves", 0))
    acked = 0
    if replicas:
        # WAIT covers the writes of its own connection: a probe write on that connection comes
        # after every write we made before (on any connection), and replication applies them in order.
        with redis.pipeline(transaction=False) as pipe:
            pipe.set(keys.REPLICATION_PROBE, "1", ex=60)
            pipe.execute_command("WAIT", 1, timeout_ms)
            acked = int(pipe.execute()[1])
    if isinstance(redis, Pinned) and acked < 1:
        _still_the_master(redis)
    if replicas and acked < 1:
        log.warning("no replica acknowledged within %d ms; going on with one copy", timeout_ms)
        return False
    return True


def _still_the_master(client: Pinned) -> None:
    """Raise ConnectionError if the Sentinels name another master than `client`'s server."""
    pool = client.borrowed.source
    if not isinstance(pool, SentinelConnectionPool):
        return
    connection = client.borrowed.connection
    named = pool.get_master_address()  # asks the Sentinels; drops idle connections to a former master
    if (connection.host, connection.port) != tuple(named):
        connection.disconnect()
        raise NotTheMaster(f"{connection.host}:{connection.port} is no longer the master")


@contextlib.contextmanager
def master_only(client: Redis) -> Iterator[None]:
    """Run a block of this thread's commands on `client`; at its end raise NotTheMaster if any of
    them reached a server the Sentinels no longer name as the master (then the caller redoes the
    block). A pool keeps idle connections to a master frozen through a failover until it next asks
    the Sentinels, and that server answers again once thawed, unaware it was replaced, until it
    rejoins as a replica and drops what it took. One block's commands can so split between two
    masters: a job queued on the old one, its update taken out of the inbox on the new one, and
    that video lost (the likely cause of 3 lost in one CI run). Without Sentinels this checks
    nothing."""
    previous = getattr(_servers, "servers", None)
    _servers.servers = seen = set()
    try:
        yield
    finally:
        _servers.servers = previous
    if previous is not None:
        previous.update(seen)
    pool = client.connection_pool
    if seen and isinstance(pool, SentinelConnectionPool):
        master: Address = tuple(pool.get_master_address())  # drops the pool's idle stale connections
        if stale := seen - {master}:
            raise NotTheMaster(f"commands went to {sorted(stale)}, not the master")
