"""Processes as Linux shows them in /proc: trees, liveness (tests kill real processes)."""

from __future__ import annotations

import os
from pathlib import Path

ProcessTable = dict[int, tuple[int, str, str]]


def process_table() -> ProcessTable:
    """pid -> (ppid, comm, state) for every process, read from /proc."""
    table = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            raw = stat.read_text()
        except OSError:
            continue  # exited while we looked
        close = raw.rindex(")")
        state, ppid = raw[close + 2 :].split()[:2]
        table[int(stat.parent.name)] = (int(ppid), raw[raw.index("(") + 1 : close], state)
    return table


def descendants(pid: int, table: ProcessTable | None = None) -> list[int]:
    """Every live process below `pid` (children, grandchildren...)."""
    table = table if table is not None else process_table()
    found, frontier = [], [pid]
    while frontier:
        parent = frontier.pop()
        kids = [p for p, (pp, _c, state) in table.items() if pp == parent and state not in "ZX"]
        found += kids
        frontier += kids
    return found


def alive(pid: int) -> bool:
    """True while `pid` exists and is not a zombie."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return raw[raw.rindex(")") + 2] not in "ZX"


def process_tree(root: int) -> set[int]:
    """`root` and every live process below it (empty once `root` is gone)."""
    return {root, *descendants(root)} if alive(root) else set()


def tcp_ports(pid: int) -> set[int]:
    """Local ports of the TCP sockets `pid` holds open (empty once it is gone)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").glob("*"):
        try:
            target = fd.readlink().name
        except OSError:
            continue  # closed while we looked
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    ports = set()
    for table in ("tcp", "tcp6"):
        try:
            lines = Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[9] in inodes:
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) `pid` itself has used so far."""
    raw = Path(f"/proc/{pid}/stat").read_text()
    utime, stime = raw[raw.rindex(")") + 2 :].split()[11:13]
    return (int(utime) + int(stime)) / os.sysconf("SC_CLK_TCK")
