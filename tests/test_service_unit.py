"""config/gifbot.service as setup.sh renders it: systemd accepts it and enables it at boot.

systemd is installed here but is not PID 1, so the unit is checked offline: `systemd-analyze
verify` on the rendered file (with this repo's real paths, so ExecStart's binary exists) and
`systemctl --root=DIR enable` on a scratch root.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.services import REPO_ROOT

WORKER_STOPWAITSECS = 400

pytestmark = pytest.mark.skipif(
    not (shutil.which("systemd-analyze") and shutil.which("systemctl")), reason="systemd tools missing"
)


def render(conf: str) -> str:
    """The unit setup.sh installs for this repo and `conf` (scripts/supervise.sh's render_unit)."""
    script = 'source scripts/supervise.sh && render_unit "$1" "$2"'
    argv = ["bash", "-c", script, "_", str(REPO_ROOT), conf]
    return subprocess.run(argv, cwd=REPO_ROOT, check=True, capture_output=True, text=True).stdout


def directives(unit: str) -> dict[str, str]:
    """KEY=value lines of a unit file (the last one wins)."""
    pairs = (line.split("=", 1) for line in unit.splitlines() if "=" in line and not line.startswith("#"))
    return {key.strip(): value.strip() for key, value in pairs}


@pytest.mark.parametrize("conf", ["supervisord.conf", "supervisord.worker.conf"])
def test_rendered_unit_passes_systemd_analyze_verify(conf: str, tmp_path: Path):
    """systemd-analyze verify has nothing to say about the unit, which runs and stops supervisord."""
    unit = tmp_path / "gifbot.service"
    unit.write_text(render(conf))

    result = subprocess.run(
        ["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60
    )

    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert unit.name not in output, output  # warnings (a bad directive) do not fail verify
    found = directives(unit.read_text())
    assert found["ExecStart"] == f"{REPO_ROOT}/.venv/bin/supervisord --nodaemon -c {REPO_ROOT}/{conf}"
    assert found["KillMode"] == "mixed"  # SIGTERM to supervisord only; it stops the workers
    assert int(found["TimeoutStopSec"]) > WORKER_STOPWAITSECS
    assert "@REPO@" not in unit.read_text() and "@CONF@" not in unit.read_text()


def test_systemctl_enable_links_the_unit_into_multi_user_target(tmp_path: Path):
    """`systemctl --root=DIR enable gifbot.service` links it into multi-user.target.wants."""
    units = tmp_path / "etc/systemd/system"
    units.mkdir(parents=True)
    (units / "gifbot.service").write_text(render("supervisord.conf"))

    subprocess.run(["systemctl", f"--root={tmp_path}", "enable", "gifbot.service"], check=True, timeout=60)

    link = units / "multi-user.target.wants/gifbot.service"
    assert link.is_symlink() and os.readlink(link) == "/etc/systemd/system/gifbot.service"
