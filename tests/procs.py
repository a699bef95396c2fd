"""Processes as Linux shows them in /proc: trees, liveness (tests kill real processes)."""

from __future__ import annotations

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
