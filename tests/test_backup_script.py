"""scripts/backup.py's pure parts: redis-cli's arguments for each kind of REDIS_URL, and pruning.

The whole backup and restore run for real in tests/e2e/test_backup.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from core.connection import connect_url
from scripts.backup import backups_in, cli_target, prune


@pytest.mark.parametrize(
    ("url", "args", "env"),
    [
        ("redis://127.0.0.1:6379/0", ["-h", "127.0.0.1", "-p", "6379"], {}),
        ("redis://:p%40ss@10.0.0.5:6380/2", ["-h", "10.0.0.5", "-p", "6380"], {"REDISCLI_AUTH": "p@ss"}),
        (
            "rediss://bot:pw@redis.example:6390/0?ssl_cert_reqs=none",
            ["--user", "bot", "-h", "redis.example", "-p", "6390", "--tls", "--insecure"],
            {"REDISCLI_AUTH": "pw"},
        ),
        ("unix:///run/redis.sock?db=1&password=pw", ["-s", "/run/redis.sock"], {"REDISCLI_AUTH": "pw"}),
    ],
)
def test_redis_cli_gets_the_password_in_its_environment_never_in_its_arguments(url, args, env):
    """Each REDIS_URL form becomes redis-cli arguments without the password, which goes in REDISCLI_AUTH."""
    assert cli_target(connect_url(url)) == (args, env)


def test_prune_keeps_the_newest_backups(tmp_path: Path):
    """Only the newest `keep` backups stay (names sort by time); other files are left alone; 0 keeps all."""
    names = [f"gifbot-redis-2025010{day}T101700Z.rdb" for day in range(1, 6)]
    for name in [*names, "notes.txt"]:
        (tmp_path / name).write_bytes(b"x")
    assert prune(tmp_path, 0) == []
    assert [p.name for p in prune(tmp_path, 2)] == names[:3]
    assert [p.name for p in backups_in(tmp_path)] == names[3:]
    assert (tmp_path / "notes.txt").exists()
