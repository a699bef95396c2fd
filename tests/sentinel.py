"""A real Redis Sentinel group for tests: a master, a replica and three Sentinels on loopback.

Everything is Debian's redis-server binary: data nodes with AOF on (a replica with `--replicaof`),
Sentinels with `redis-server sentinel.conf --sentinel` (quorum 2, down after 1 s). Tests kill the
master with SIGKILL, wait for the Sentinels to promote the replica, and restart the killed node as
a replica of the new master, as ops would.

Down after 1 s is tight: a Sentinel pings once a second, so right after a switch one may call the
new master down before its first reply and start a failover of its own. Helpers wait for the group
to be whole again rather than for a given master.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import redis

from tests.services import free_port, wait_until

SERVICE = "mymaster"
QUORUM = 2
# Not 1 s: with down-after this short the Sentinels sometimes fail over a second time right after a
# kill and promote the node just restarted (still syncing), which drops acknowledged writes on the
# Sentinel's side (seen as lost and doubled GIFs in the 10-kill soak). README advises 5 s.
DOWN_AFTER_MS = 3000
FAILOVER_TIMEOUT_MS = 4000
SENTINELS = 3
START_TIMEOUT_S = 30
FAILOVER_BUDGET_S = 60  # Sentinel's own election may need a second round on a loaded machine
Address = tuple[str, int]


def _redis_server() -> str:
    exe = shutil.which("redis-server")
    if exe is None:
        raise RuntimeError("redis-server is not installed: run scripts/test.sh (it installs it)")
    return exe


def _answers(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False


def _healthy(state: dict) -> bool:
    """A Sentinel's record of a node says it is up (not subjectively or objectively down)."""
    return not (state["is_sdown"] or state["is_odown"] or state["is_disconnected"])


@dataclass
class Node:
    """One redis-server child (a data node or a Sentinel) on 127.0.0.1, in its own dir."""

    name: str
    workdir: Path
    password: str | None = None  # requirepass of this node
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None

    @property
    def address(self) -> Address:
        return ("127.0.0.1", self.port)

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, password=self.password, socket_timeout=2, socket_connect_timeout=1)

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def _launch(self, args: list[str]) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        log = (self.workdir / f"{self.name}.log").open("ab")
        self.process = subprocess.Popen(
            [_redis_server(), *args], stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        wait_until(lambda: _answers(self.client()), timeout=START_TIMEOUT_S, what=f"{self.name} to answer")

    def start_data(self, replicaof: Address | None = None) -> Node:
        """Start (or restart, same port and dir) a data node with AOF on, a replica if asked."""
        args = [
            "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.workdir),
            "--appendonly", "yes", "--save", "", "--loglevel", "notice",
            "--repl-diskless-sync-delay", "0",  # a replica syncs at once, not after 5 s
        ]  # fmt: skip
        if replicaof:
            args += ["--replicaof", replicaof[0], str(replicaof[1])]
        if self.password:
            args += ["--requirepass", self.password, "--masterauth", self.password]
        self._launch(args)
        return self

    def start_sentinel(self, master: Address, data_password: str | None = None) -> Node:
        """Start a Sentinel watching `master` (it rewrites its own config file as it learns); it
        listens on ::1 too where the machine has IPv6."""
        lines = [
            f"port {self.port}",
            "bind 127.0.0.1 -::1",  # "-": skip ::1 where there is no IPv6
            f"dir {self.workdir}",
            f"sentinel monitor {SERVICE} {master[0]} {master[1]} {QUORUM}",
            f"sentinel down-after-milliseconds {SERVICE} {DOWN_AFTER_MS}",
            f"sentinel failover-timeout {SERVICE} {FAILOVER_TIMEOUT_MS}",
            f"sentinel parallel-syncs {SERVICE} 1",
        ]
        if data_password:
            lines.append(f"sentinel auth-pass {SERVICE} {data_password}")
        if self.password:
            lines.append(f"requirepass {self.password}")  # peers authenticate with the same one
        self.workdir.mkdir(parents=True, exist_ok=True)
        conf = self.workdir / "sentinel.conf"
        conf.write_text("\n".join(lines) + "\n")
        self._launch([str(conf), "--sentinel"])
        return self

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Signal the process and wait until it is gone."""
        if self.alive():
            self.process.send_signal(sig)
            self.process.wait(timeout=15)

    def log(self) -> str:
        path = self.workdir / f"{self.name}.log"
        return path.read_text(errors="replace") if path.exists() else ""


@dataclass
class SentinelGroup:
    """A master, a replica and three Sentinels; `data` holds both data nodes whatever their role."""

    workdir: Path
    password: str | None = None  # of the data nodes
    sentinel_password: str | None = None
    data: list[Node] = field(default_factory=list)
    sentinels: list[Node] = field(default_factory=list)

    @property
    def url(self) -> str:
        """REDIS_URL for this group: redis+sentinel://HOST:PORT,…/SERVICE."""
        hosts = ",".join(f"127.0.0.1:{s.port}" for s in self.sentinels)
        auth = f":{self.password}@" if self.password else ""
        query = f"?sentinel_password={self.sentinel_password}" if self.sentinel_password else ""
        return f"redis+sentinel://{auth}{hosts}/{SERVICE}{query}"

    def start(self) -> SentinelGroup:
        """Start master, replica (in sync), then the Sentinels; wait until they see the whole group."""
        master, replica = (Node(n, self.workdir / n, self.password) for n in ("node-a", "node-b"))
        self.data = [master, replica]  # listed first, so stop() ends whatever did start
        master.start_data()
        replica.start_data(replicaof=master.address)
        # Sentinels learn of replicas from the master's INFO: have it listed before they first ask.
        wait_until(lambda: self.link_up(replica, master), timeout=START_TIMEOUT_S, what="the replica in sync")
        for i in range(SENTINELS):
            name = f"sentinel-{i}"
            self.sentinels.append(Node(name, self.workdir / name, self.sentinel_password))
            self.sentinels[-1].start_sentinel(master.address, self.password)
        self.wait_ready()
        return self

    def stop(self) -> None:
        """Kill every process of the group (nothing of it outlives the test)."""
        for node in [*self.sentinels, *self.data]:
            node.kill()

    # -- reading the group's state

    def master_address(self, sentinel: Node | None = None) -> Address | None:
        """The master's address as a Sentinel reports it (the first one unless told)."""
        try:
            found = (sentinel or self.sentinels[0]).client().sentinel_get_master_addr_by_name(SERVICE)
        except redis.RedisError:
            return None
        if not found:
            return None
        host = found[0].decode() if isinstance(found[0], bytes) else found[0]
        return (host, int(found[1]))

    def agreed_master(self) -> Address | None:
        """The master's address if every Sentinel reports the same one, else None."""
        seen = {self.master_address(s) for s in self.sentinels}
        return seen.pop() if len(seen) == 1 else None

    def master(self) -> Node:
        """The data node that the Sentinels call master now."""
        address = wait_until(self.agreed_master, timeout=START_TIMEOUT_S, what="Sentinels to agree")
        return next(n for n in self.data if n.address == address)

    def replica(self) -> Node:
        """The data node that is not the master."""
        master = self.master()
        return next(n for n in self.data if n is not master)

    @staticmethod
    def link_up(replica: Node, master: Node) -> bool:
        """True when `replica` runs as a replica of `master` and its link to it is up."""
        try:
            info = replica.client().info("replication")
        except redis.RedisError:
            return False
        return (
            info.get("role") == "slave"
            and int(info.get("master_port", 0)) == master.port
            and info.get("master_link_status") == "up"
        )

    def sees(self, sentinel: Node, master: Node) -> bool:
        """True when `sentinel` reports `master` as master, up, with one healthy replica and two peers."""
        try:
            client = sentinel.client()
            state = client.sentinel_master(SERVICE)
            replicas = client.sentinel_slaves(SERVICE)
        except redis.RedisError:
            return False
        healthy = [r for r in replicas if _healthy(r) and r.get("master-link-status") == "ok"]
        return (
            (state["ip"], int(state["port"])) == master.address
            and _healthy(state)
            and state["num-other-sentinels"] == SENTINELS - 1
            and len(healthy) == 1
        )

    def settled(self) -> Node | None:
        """The master once the group is whole again: every Sentinel names it and sees it up with one
        healthy replica and both peers, and the other data node replicates from it; else None."""
        address = self.agreed_master()
        master = next((n for n in self.data if n.address == address), None)
        if master is None:
            return None
        replica = next(n for n in self.data if n is not master)
        whole = self.link_up(replica, master) and all(self.sees(s, master) for s in self.sentinels)
        return master if whole else None

    def wait_ready(self, timeout: float = START_TIMEOUT_S) -> Node:
        """Wait until the group is whole (see `settled`); return the master. With down-after 1 s a
        Sentinel may start a failover of its own right after one, so the master may change meanwhile."""
        return wait_until(self.settled, timeout=timeout, interval=0.1, what="the Sentinel group to be whole")

    def switches(self) -> int:
        """How many times the Sentinels switched the master so far (as the busiest log tells)."""
        return max(s.log().count("+switch-master") for s in self.sentinels)

    # -- failures

    def kill_master(self) -> tuple[Node, float]:
        """SIGKILL the current master; return it and the monotonic time of the kill."""
        master = self.master()
        master.kill(signal.SIGKILL)
        return master, time.monotonic()

    def freeze_master(self) -> Node:
        """SIGSTOP the current master (a stalled VM, a partition): its connections stay open,
        silent; return it, to be thawed with SIGCONT."""
        master = self.master()
        master.process.send_signal(signal.SIGSTOP)
        return master

    def frozen_through_failover(self) -> tuple[Node, Node]:
        """Freeze the master, wait until the Sentinels promote the replica, thaw the old master
        (it answers again on the connections it had, unaware it was replaced, until they turn it
        into a replica); return (old, new)."""
        old = self.freeze_master()
        try:
            new = self.wait_failover(old)
        finally:
            old.process.send_signal(signal.SIGCONT)
        return old, new

    def wait_failover(self, old: Node, timeout: float = FAILOVER_BUDGET_S) -> Node:
        """Wait until every Sentinel names a new master (not `old`); return that node."""
        address = wait_until(
            lambda: (a := self.agreed_master()) and a != old.address and a,
            timeout=timeout,
            interval=0.05,
            what="the Sentinels to promote the replica",
        )
        return next(n for n in self.data if n.address == address)

    def restart_as_replica(self, node: Node) -> None:
        """Restart a killed data node as a replica of the current master; wait until it is in sync
        and every Sentinel counts it healthy again."""
        node.start_data(replicaof=self.master().address)
        self.wait_ready(timeout=FAILOVER_BUDGET_S)

    def logs(self) -> str:
        return "\n".join(f"----- {n.name} -----\n{n.log()[-3000:]}" for n in [*self.data, *self.sentinels])


@contextlib.contextmanager
def running_group(
    workdir: Path, request: pytest.FixtureRequest | None = None, **passwords: str
) -> Iterator[SentinelGroup]:
    """A started SentinelGroup (password=, sentinel_password= optional), stopped afterwards; its
    logs are printed if the test failed."""
    group = SentinelGroup(workdir, **passwords)
    try:
        yield group.start()
    finally:
        group.stop()
        report = getattr(request.node, "rep_call", None) if request else None
        if report is not None and report.failed:
            print(group.logs())


@pytest.fixture
def sentinel_group(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SentinelGroup]:
    """A fresh Sentinel group (master, replica, three Sentinels) for one test."""
    with running_group(tmp_path / "sentinel-group", request) as group:
        yield group
