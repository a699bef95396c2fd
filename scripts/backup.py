"""Back up the Redis that REDIS_URL names: a consistent snapshot taken while it runs.

Run by `bash scripts/backup.sh [DEST_DIR]` (README "Backup and restore"). `redis-cli --rdb` asks Redis
for the snapshot it would send a new replica: Redis forks and writes its data as it was at that
moment, so writes that go on meanwhile cannot tear the copy. It needs no access to Redis's disk, so
it works as well against a central or remote Redis. The password reaches redis-cli through
REDISCLI_AUTH, never its command line (which `ps` shows to every local user).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from redis import Redis, RedisError
from redis.connection import SSLConnection, UnixDomainSocketConnection
from redis.sentinel import SentinelConnectionPool

from core.connection import connect
from core.settings import Settings, SettingsError

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DEST = REPO_ROOT / "var" / "backups"
DEFAULT_KEEP = 48  # hourly backups: two days of them
FILE_PREFIX = "gifbot-redis-"
FILE_SUFFIX = ".rdb"
SNAPSHOT_TIMEOUT_S = 600


class BackupError(Exception):
    """A backup or restore step failed; the message says which and why."""


def cli_target(redis: Redis) -> tuple[list[str], dict[str, str]]:
    """redis-cli arguments and environment that reach the server `redis` talks to (for a Sentinel
    URL, the current master). The password goes in the environment, never in the arguments."""
    pool = redis.connection_pool
    kwargs = pool.connection_kwargs
    env = {"REDISCLI_AUTH": kwargs["password"]} if kwargs.get("password") else {}
    args = ["--user", kwargs["username"]] if kwargs.get("username") else []
    if issubclass(pool.connection_class, UnixDomainSocketConnection):
        return [*args, "-s", kwargs["path"]], env
    if isinstance(pool, SentinelConnectionPool):
        host, port = pool.get_master_address()
    else:
        host, port = kwargs["host"], kwargs["port"]
    args += ["-h", str(host), "-p", str(port)]
    if issubclass(pool.connection_class, SSLConnection):
        args.append("--tls")
        if kwargs.get("ssl_ca_certs"):
            args += ["--cacert", kwargs["ssl_ca_certs"]]
        if str(kwargs.get("ssl_cert_reqs", "")).lower() in ("none", "0"):
            args.append("--insecure")
    return args, env


def tool(name: str) -> str:
    """The path of a redis-tools program, or a BackupError saying how to install it."""
    path = shutil.which(name)
    if path is None:
        raise BackupError(f"{name} is not installed (Debian/Ubuntu: apt-get install redis-tools)")
    return path


def check_rdb(path: Path) -> int:
    """Check an RDB file with redis-check-rdb; return the number of keys it holds."""
    done = subprocess.run(
        [tool("redis-check-rdb"), str(path)], capture_output=True, text=True, stdin=subprocess.DEVNULL
    )
    out = done.stdout + done.stderr
    if done.returncode != 0 or "RDB looks OK" not in out:
        tail = "\n".join(out.strip().splitlines()[-5:])
        raise BackupError(f"{path} is not a sound RDB file (redis-check-rdb):\n{tail}")
    found = re.search(r"(\d+) keys read", out)
    return int(found.group(1)) if found else 0


def take_snapshot(redis: Redis, partial: Path) -> None:
    """Write the server's snapshot to `partial` (mode 0600) with redis-cli --rdb."""
    args, env = cli_target(redis)
    argv = [tool("redis-cli"), *args, "--rdb", str(partial)]
    old_umask = os.umask(0o077)
    try:
        done = subprocess.run(
            argv,
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            timeout=SNAPSHOT_TIMEOUT_S,
        )
    finally:
        os.umask(old_umask)
    if done.returncode != 0 or not partial.exists():
        partial.unlink(missing_ok=True)
        reason = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        raise BackupError(f"redis-cli --rdb failed: {reason[0]}")
    os.chmod(partial, 0o600)


def backups_in(dest: Path) -> list[Path]:
    """The backups in `dest`, oldest first (their names sort by time)."""
    return sorted(dest.glob(f"{FILE_PREFIX}*{FILE_SUFFIX}"))


def prune(dest: Path, keep: int) -> list[Path]:
    """Delete all but the newest `keep` backups in `dest` (0 keeps all); return what was deleted."""
    old = backups_in(dest)[:-keep] if keep > 0 else []
    for path in old:
        path.unlink()
    return old


def backup(redis: Redis, dest: Path, keep: int = DEFAULT_KEEP) -> tuple[Path, int]:
    """Take a snapshot into `dest`, check it, then give it its final name (so a file under a final
    name is always complete and sound); prune old ones. Return the file and its key count."""
    dest.mkdir(mode=0o700, parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    final = dest / f"{FILE_PREFIX}{stamp}{FILE_SUFFIX}"
    partial = dest / f".{final.name}.partial"
    take_snapshot(redis, partial)
    try:
        keys = check_rdb(partial)
        with partial.open("rb") as f:
            os.fsync(f.fileno())
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    os.replace(partial, final)
    prune(dest, keep)
    return final, keys


def main(argv: list[str] | None = None) -> int:
    """`scripts/backup.py [DEST_DIR] [--keep N]`: back up the Redis that REDIS_URL names."""
    parser = argparse.ArgumentParser(prog="scripts/backup.sh", description=__doc__.split("\n\n")[0])
    parser.add_argument("dest", nargs="?", type=Path, default=DEFAULT_DEST, help="default: var/backups")
    parser.add_argument("--keep", type=int, default=DEFAULT_KEEP, help="newest backups kept (0: all)")
    options = parser.parse_args(argv)
    try:
        redis = connect(Settings.from_env(env_file=REPO_ROOT / ".env"))
        path, keys = backup(redis, options.dest, options.keep)
    except (BackupError, SettingsError, RedisError) as exc:
        print(f"backup failed: {exc}", file=sys.stderr)
        return 1
    print(f"backup {path} ({path.stat().st_size} bytes, {keys} keys)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
