"""Restore a backup made by scripts/backup.sh into this box's supervised Redis, AOF included.

Run by `bash scripts/restore.sh [--conf CONF] FILE` (README "Backup and restore"). With `appendonly
yes` Redis loads only its AOF at start and ignores dump.rdb: a backup put in place as dump.rdb next
to the old AOF brings back the old data, and with no AOF at all Redis starts EMPTY (and writes an
empty AOF). So the backup is loaded by a temporary redis-server with appendonly off, on a private
unix socket, which is then told `CONFIG SET appendonly yes`: Redis writes a new AOF from the data
in memory (Redis's documented way to switch a running server to AOF). Only then does the
supervised Redis start again, and it loads that AOF. The files it replaces are moved aside, never
deleted.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from redis import Redis, RedisError

from core.connection import connect
from core.settings import Settings, SettingsError
from scripts.backup import REPO_ROOT, BackupError, check_rdb

REDIS_PROGRAM = "redis"  # its name in supervisord.conf
UP_STATES = ("RUNNING", "STARTING", "BACKOFF")  # supervisord states of a program that is meant to run
CTL_TIMEOUT_S = 900  # a stop waits for workers to finish their job (stopwaitsecs 400)
LOAD_TIMEOUT_S = 600  # loading a dataset, or writing its AOF


def say(message: str) -> None:
    print(f"==> {message}", flush=True)


def wait_for(check: Callable[[], object], what: str, timeout: float = LOAD_TIMEOUT_S) -> object:
    """Poll `check` until it returns something truthy; BackupError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not (value := check()):
        if time.monotonic() > deadline:
            raise BackupError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.1)
    return value


@dataclass(frozen=True)
class Supervisor:
    """supervisorctl for one box's supervisord conf."""

    conf: Path

    def argv(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "supervisor.supervisorctl", "-c", str(self.conf), *args]

    def ctl(self, *args: str, check: bool = True) -> str:
        """Run `supervisorctl -c CONF ARGS`; BackupError if it fails and `check` is set."""
        done = subprocess.run(self.argv(*args), capture_output=True, text=True, timeout=CTL_TIMEOUT_S)
        if check and done.returncode != 0:
            raise BackupError(f"supervisorctl {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
        return done.stdout

    def each(self, action: str, programs: list[str]) -> None:
        """`supervisorctl ACTION NAME` for every program at once: one call with all the names would
        stop them one by one, and each worker's stop waits for its job to finish."""
        calls = [
            subprocess.Popen(
                self.argv(action, name), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
            )
            for name in programs
        ]
        outputs = [(call, call.communicate(timeout=CTL_TIMEOUT_S)[0]) for call in calls]
        failed = "".join(out for call, out in outputs if call.returncode != 0)
        if failed:
            raise BackupError(f"supervisorctl {action} failed:\n{failed}")

    def status(self) -> dict[str, tuple[str, int]]:
        """Every program's state and pid (0 if none), from `supervisorctl status`, in its order."""
        found = {}
        for row in (line.replace(",", " ").split() for line in self.ctl("status", check=False).splitlines()):
            if len(row) >= 2 and row[1].isupper():
                found[row[0]] = (row[1], int(row[3]) if row[2:3] == ["pid"] and row[3].isdigit() else 0)
        return found


@dataclass(frozen=True)
class RedisFiles:
    """Where the supervised Redis keeps its data and how it was started, as it reports it."""

    executable: str
    config_file: str
    data_dir: Path
    dbfilename: str
    aof_dirname: str


def locate(redis: Redis, supervisor: Supervisor, status: dict[str, tuple[str, int]]) -> RedisFiles:
    """Check that REDIS_URL names this box's supervised Redis, and ask it where its files are."""
    state, pid = status.get(REDIS_PROGRAM, ("", 0))
    if state != "RUNNING":
        raise BackupError(
            f"program '{REDIS_PROGRAM}' of {supervisor.conf} is not running: start the box first"
        )
    server = redis.info("server")
    if int(server["process_id"]) != pid:
        raise BackupError(
            f"REDIS_URL names a Redis other than program '{REDIS_PROGRAM}' of {supervisor.conf}; "
            "restore.sh restores only a box's own supervised Redis (README: Backup and restore)"
        )
    config = redis.config_get("dir") | redis.config_get("dbfilename") | redis.config_get("appenddirname")
    # Redis makes argv[0] absolute against its cwd even when it was found on PATH: check it exists.
    executable = server.get("executable", "")
    return RedisFiles(
        executable=executable if os.path.isfile(executable) else shutil.which("redis-server") or "",
        config_file=server.get("config_file") or "",
        data_dir=Path(config["dir"]),
        dbfilename=config["dbfilename"],
        aof_dirname=config.get("appenddirname", "appendonlydir"),
    )


def persistent_keys(redis: Redis) -> int:
    """Keys without a TTL, over every db: these cannot expire between two counts."""
    return sum(db["keys"] - db.get("expires", 0) for db in redis.info("keyspace").values())


def loaded(redis: Redis) -> bool:
    """True once Redis answers and has finished loading its data."""
    with contextlib.suppress(RedisError):  # BusyLoadingError while loading, ConnectionError before
        return bool(redis.ping()) and not int(redis.info("persistence").get("loading", 0))
    return False


def move_aside(files: RedisFiles) -> Path | None:
    """Move the current dump.rdb and AOF dir into before-restore-<time>/ in the data dir."""
    aside = files.data_dir / time.strftime("before-restore-%Y%m%dT%H%M%SZ", time.gmtime())
    for name in (files.aof_dirname, files.dbfilename):
        if (files.data_dir / name).exists():
            aside.mkdir(mode=0o700, exist_ok=True)
            os.replace(files.data_dir / name, aside / name)
    return aside if aside.exists() else None


def put_in_place(backup: Path, files: RedisFiles) -> None:
    """Copy the backup to the data dir's dump.rdb (mode 0600), whole or not at all."""
    target = files.data_dir / files.dbfilename
    partial = target.with_name(f".{target.name}.restoring")
    shutil.copyfile(backup, partial)
    os.chmod(partial, 0o600)
    os.replace(partial, target)


@contextlib.contextmanager
def temporary_server(files: RedisFiles, credentials: dict, cwd: Path) -> Iterator[Redis]:
    """A redis-server on the data dir with appendonly off, listening only on a private unix socket
    (no TCP port); it has the supervised one's config file, but not var/redis-auth.conf, so it asks
    for no password (Redis lets the client's in anyway), and only root can reach the socket."""
    with tempfile.TemporaryDirectory(prefix="gifbot-restore-") as tmp:  # short: socket paths are capped
        socket_path, log_path = Path(tmp) / "redis.sock", Path(tmp) / "redis.log"
        argv = [files.executable, *([files.config_file] if files.config_file else [])]
        argv += ["--port", "0", "--unixsocket", str(socket_path), "--unixsocketperm", "700"]
        argv += ["--dir", str(files.data_dir), "--appendonly", "no", "--save", "", "--daemonize", "no"]
        with log_path.open("wb") as log:
            server = subprocess.Popen(
                argv, cwd=cwd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
        client = Redis(unix_socket_path=str(socket_path), socket_timeout=60, **credentials)
        try:
            wait_for(lambda: server.poll() is not None or loaded(client), "the backup to load")
            if server.poll() is not None:
                raise BackupError(f"redis-server could not load the backup:\n{log_path.read_text()[-2000:]}")
            yield client
            server.wait(timeout=LOAD_TIMEOUT_S)
        finally:
            if server.poll() is None:
                server.terminate()
                server.wait(timeout=60)


def rewrite_done(client: Redis) -> bool:
    """True once the AOF that CONFIG SET appendonly yes started has been written."""
    info = client.info("persistence")
    return not info["aof_rewrite_in_progress"] and not info["aof_rewrite_scheduled"]


def load_and_write_aof(files: RedisFiles, credentials: dict, cwd: Path) -> int:
    """Load dump.rdb in a temporary server and have it write a fresh AOF from the data; return the
    number of keys without a TTL it holds."""
    with temporary_server(files, credentials, cwd) as client:
        kept = persistent_keys(client)
        client.config_set("appendonly", "yes")  # starts an AOF rewrite from the data in memory
        wait_for(lambda: rewrite_done(client), "Redis to write the new AOF")
        if client.info("persistence")["aof_last_bgrewrite_status"] != "ok":
            raise BackupError("Redis could not write the new AOF (see its log)")
        client.shutdown(nosave=True)  # fsyncs the AOF; refuses while the first AOF is unfinished
    if not any((files.data_dir / files.aof_dirname).glob("*.manifest")):
        raise BackupError(f"no AOF was written in {files.data_dir / files.aof_dirname}")
    return kept


def hand_back(files: RedisFiles, aside: Path | None) -> None:
    """Give what we wrote in the data dir to the dir's owner (the user Redis runs as)."""
    owner = files.data_dir.stat()
    written = [files.data_dir / files.dbfilename, files.data_dir / files.aof_dirname]
    for path in [p for p in [*written, aside] if p and p.exists()]:
        for item in [path, *(path.rglob("*") if path.is_dir() else [])]:
            if item.lstat().st_uid != owner.st_uid or item.lstat().st_gid != owner.st_gid:
                os.lchown(item, owner.st_uid, owner.st_gid)


def restore(backup: Path, settings: Settings, supervisor: Supervisor) -> None:
    """Stop the box's programs and Redis, restore `backup` with a fresh AOF, start them again."""
    say(f"checking {backup}: {check_rdb(backup)} keys")
    redis = connect(settings)
    status = supervisor.status()
    files = locate(redis, supervisor, status)
    credentials = {k: redis.connection_pool.connection_kwargs.get(k) for k in ("username", "password")}
    programs = [name for name, (state, _) in status.items() if state in UP_STATES and name != REDIS_PROGRAM]
    if programs:
        say(f"stopping {' '.join(programs)} (workers finish their current job first)")
        supervisor.each("stop", programs)
    try:
        kept = replace_data(backup, files, credentials, supervisor)
        restarted = connect(settings)
        wait_for(lambda: loaded(restarted), "the supervised redis to load its new AOF")
        if persistent_keys(restarted) != kept:
            raise BackupError(
                f"redis came back with {persistent_keys(restarted)} keys without a TTL, not {kept}"
            )
    except (BackupError, RedisError, OSError, subprocess.SubprocessError) as exc:
        raise BackupError(
            f"{exc}\nPrograms it stopped stay stopped ({' '.join(programs) or 'none'}): supervisorctl status"
        ) from exc
    if programs:
        say(f"starting {' '.join(programs)}")
        supervisor.each("start", programs)
    say(f"restored {kept} keys without a TTL (and those with one not yet expired); AOF rebuilt")


def replace_data(backup: Path, files: RedisFiles, credentials: dict, supervisor: Supervisor) -> int:
    """Stop Redis, move its files aside, load `backup` and write its AOF, start Redis; return the
    number of keys without a TTL in the backup."""
    say("stopping redis")
    supervisor.ctl("stop", REDIS_PROGRAM)
    aside = move_aside(files)
    if aside:
        say(f"moved the current data aside to {aside} (delete it once the restore is good)")
    put_in_place(backup, files)
    say("loading the backup into a temporary redis-server and writing a new AOF from it")
    kept = load_and_write_aof(files, credentials, supervisor.conf.parent)
    hand_back(files, aside)
    say("starting redis")
    supervisor.ctl("start", REDIS_PROGRAM)
    return kept


def main(argv: list[str] | None = None) -> int:
    """`scripts/restore.py [--conf CONF] FILE`: restore FILE into the box's supervised Redis."""
    parser = argparse.ArgumentParser(prog="scripts/restore.sh", description=__doc__.split("\n\n")[0])
    parser.add_argument("file", type=Path, help="a backup made by scripts/backup.sh")
    parser.add_argument("--conf", type=Path, default=REPO_ROOT / "supervisord.conf", help="the box's conf")
    options = parser.parse_args(argv)
    try:
        settings = Settings.from_env(env_file=REPO_ROOT / ".env")
        restore(options.file.resolve(), settings, Supervisor(options.conf.resolve()))
    except (BackupError, SettingsError, RedisError, OSError) as exc:
        print(f"restore failed: {exc}\nSee README, Backup and restore.", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
