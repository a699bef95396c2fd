"""A box installed by scripts/setup.sh itself, its programs run as a dedicated non-root user.

The box is a copy of the code in a dir only root may enter (as a clone in /root would be), with
the repo's .venv. setup.sh is sourced and its `main` run, with the steps that act on the whole
machine stubbed out (apt, the distro's Redis service, pip, the systemd unit), on a .env that names
the fake Bot API, a free Redis port (without a password, as an older install had) and a free
admin port. One stack (SIGKILLed at the end) then proves: nothing of ours but supervisord runs as
root; another local user can read neither var/ nor .env; and a whole run (a video through a
failed getFile and a retry, every admin page, a wrong login) puts neither the bot token nor the
admin password nor the Redis password in any log, page, process title, or setup.sh's own output.
"""

from __future__ import annotations

import contextlib
import grp
import os
import pwd
import re
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
import requests

from admin import create_app
from core.models import job_id_for
from core.settings import Settings
from tests import factories
from tests.e2e.test_boxes import kill_tree
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.gifcheck import all_done
from tests.procs import alive, process_tree
from tests.services import REPO_ROOT, free_port, wait_until

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="makes a system user and runs programs as it")

USER = "gifbot-e2e"  # not `gifbot`: a real install on this machine keeps its user to itself
COPIED = ("app", "core", "jobs", "admin", "config", "scripts", "supervisord.conf", "requirements.txt")
PROGRAMS = {"redis", "bot", "scheduler", "admin", "worker:worker-0"}
START_TIMEOUT_S = 120  # five programs and gunicorn on a shared 2-core machine
# What acts on the whole machine: apt, the distro's Redis service, pip, and the systemd unit.
STUBBED = "; ".join(
    f"{name}() {{ {body}; }}"
    for name, body in (("install_system_packages", ":"), ("stop_distro_redis", ":"), ("make_venv", ":"),
                       ("systemd_is_pid1", "false"))
)  # fmt: skip


@dataclass
class Box:
    root: Path
    setup_output: str
    token: str
    admin_password: str
    admin_port: int

    def sh(self, script: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """Run `script` after sourcing the box's setup.sh, as setup.sh runs (root, from the box)."""
        env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "PYTHONPATH")}
        env["GIFBOT_USER"] = USER
        argv = ["bash", "-c", f'source scripts/setup.sh; export PATH="$PWD/.venv/bin:$PATH"; {script}']
        return subprocess.run(argv, cwd=self.root, env=env, capture_output=True, text=True, timeout=timeout)

    def supervisord_pid(self) -> int:
        return int((self.root / "var/supervisord.pid").read_text())

    def status(self) -> dict[str, str]:
        out = self.sh("supervisorctl -c supervisord.conf status || true")
        return {row[0]: row[1] for row in (line.split() for line in out.stdout.splitlines()) if len(row) > 1}

    @property
    def redis_url(self) -> str:
        return Settings.from_env({}, env_file=self.root / ".env").redis_url

    def logs(self) -> dict[str, str]:
        return {p.name: p.read_text(errors="replace") for p in sorted((self.root / "var/log").glob("*.log*"))}


def process_uid(pid: int) -> tuple[int, int] | None:
    """(real, effective) uid of `pid`, from /proc; None if it has exited (a worker's short-lived ffprobe)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    line = next(x for x in status.splitlines() if x.startswith("Uid:"))
    real, effective = line.split()[1:3]
    return int(real), int(effective)


def as_user(user: str, *argv: str) -> int:
    """Exit status of `argv` run as another local user."""
    return subprocess.run(["runuser", "-u", user, "--", *argv], capture_output=True, timeout=30).returncode


@pytest.fixture
def fake() -> Iterator[FakeTelegramAPI]:
    """The fake Bot API with a token of this test's own, so a leak of it cannot be a coincidence."""
    with FakeTelegramAPI(f"{secrets.randbelow(9 * 10**9) + 10**9}:{secrets.token_urlsafe(27)}") as api:
        yield api


@pytest.fixture
def box(fake: FakeTelegramAPI, request: pytest.FixtureRequest) -> Iterator[Box]:
    """The box, set up and started by setup.sh's main; stopped by its stop_supervisord."""
    outer = Path(tempfile.mkdtemp(prefix="gifbot-install-"))  # 0700 root, like /root
    root = outer / "gifbot"
    root.mkdir()
    for name in COPIED:
        if (REPO_ROOT / name).is_dir():
            shutil.copytree(REPO_ROOT / name, root / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(REPO_ROOT / name, root / name)
    (root / ".venv").symlink_to((REPO_ROOT / ".venv").resolve())
    admin_password, admin_port = secrets.token_urlsafe(18), free_port()
    env = root / ".env"
    env.write_text(
        f"TELEGRAM_BOT_TOKEN={fake.token}\nTELEGRAM_API_URL={fake.base_url}\nADMIN_PASSWORD={admin_password}\n"
        f"ADMIN_PORT={admin_port}\nREDIS_URL=redis://127.0.0.1:{free_port()}/0\nWORKERS=1\nRETRY_INTERVAL=1\n"
    )
    env.chmod(0o644)  # as an older setup.sh, or a hand, may have left it
    box = Box(root, "", fake.token, admin_password, admin_port)
    try:
        done = box.sh(
            f"{STUBBED}; START_TIMEOUT_SECONDS={START_TIMEOUT_S}; main", timeout=START_TIMEOUT_S + 60
        )
        box.setup_output = done.stdout + done.stderr
        assert done.returncode == 0, box.setup_output
        yield box
    finally:
        stop(box, request)
        shutil.rmtree(outer)


def stop(box: Box, request: pytest.FixtureRequest) -> None:
    """SIGKILL the box whole (a clean stop proves nothing here and costs ~10 s); logs if it failed."""
    with contextlib.suppress(FileNotFoundError, ValueError):  # no pid file: it never started
        killed = kill_tree(box.supervisord_pid())
        wait_until(lambda: not any(alive(pid) for pid in killed), timeout=10, what="the box gone")
    report = getattr(request.node, "rep_call", None)
    if report is None or report.failed:
        print(box.setup_output, *box.logs().values(), sep="\n")


def admin_pages(box: Box, job_id: str, user_id: int) -> list[str]:
    """Every GET URL of the admin app (ours and rq-dashboard's), built for the real job and user."""
    settings = Settings(admin_password="only for the URL map", redis_url=box.redis_url)
    app = create_app({"SETTINGS": settings, "REDIS": redis.Redis()})
    values = {
        "instance_number": 0, "queue_name": "gifs", "registry_name": "finished", "per_page": 8,
        "order": "asc", "page": 1, "job_id": job_id, "user_id": user_id, "filename": "admin.css",
    }  # fmt: skip
    urls = [
        rule.build({name: values[name] for name in rule.arguments})[1]
        for rule in app.url_map.iter_rules()
        if "GET" in rule.methods and rule.endpoint != "rq_dashboard.static"
    ]
    return [*urls, "/no-such-page", f"/users/{user_id + 1}", f"/api/users/{user_id + 1}"]


def fetch_all(box: Box, urls: list[str]) -> dict[str, str]:
    """Each URL's status and body, logged in through the form; plus a wrong login and Basic auth."""
    base = f"http://127.0.0.1:{box.admin_port}"
    seen = {}
    with requests.Session() as browser:
        form = browser.get(f"{base}/login", timeout=10).text
        (csrf,) = re.findall(r'name="csrf_token" value="([^"]+)"', form)
        wrong = browser.post(
            f"{base}/login", data={"username": "admin", "password": "nope", "csrf_token": csrf}
        )
        seen["wrong login"] = f"{wrong.status_code} {wrong.text}"
        data = {"username": "admin", "password": box.admin_password, "csrf_token": csrf}
        assert browser.post(f"{base}/login", data=data, timeout=10).url == f"{base}/"
        for url in urls:
            reply = browser.get(base + url, timeout=30, allow_redirects=False)
            seen[url] = f"{reply.status_code} {reply.headers} {reply.text}"
    basic = requests.get(f"{base}/metrics", auth=("admin", box.admin_password), timeout=10)
    seen["/metrics (HTTP Basic)"] = f"{basic.status_code} {basic.text}"
    return seen


def test_programs_run_as_the_user_var_is_closed_and_no_secret_is_ever_shown(box: Box, fake, clip_bytes):
    """Only supervisord is root; other users cannot read var/ or .env; a full run shows no secret."""
    user = pwd.getpwnam(USER)
    assert box.status() == dict.fromkeys(PROGRAMS, "RUNNING"), box.status()

    supervisord = box.supervisord_pid()
    assert process_uid(supervisord) == (0, 0)
    wait_until(
        lambda: len(process_tree(supervisord)) >= 8, 30, what="supervisord, 5 programs, 2 gunicorn workers"
    )
    uids = {pid: process_uid(pid) for pid in process_tree(supervisord) - {supervisord}}
    alive = {pid: uid for pid, uid in uids.items() if uid is not None}
    assert len(alive) >= 7, uids  # the 5 programs and 2 gunicorn workers do not exit
    assert alive == dict.fromkeys(alive, (user.pw_uid, user.pw_uid))

    # Another local user (`nobody`, let through the dir above the box as if it were /srv):
    subprocess.run(["setfacl", "-m", "u:nobody:x", str(box.root.parent)], check=True)
    assert as_user("nobody", "test", "-r", str(box.root / "supervisord.conf")) == 0, "the code is reachable"
    for closed in ("var", "var/log", "var/redis", "var/tmp"):
        assert as_user("nobody", "ls", str(box.root / closed)) != 0, closed
    for secret_file in (".env", "var/redis-auth.conf"):
        assert as_user("nobody", "cat", str(box.root / secret_file)) != 0, secret_file
    group = grp.getgrgid(user.pw_gid).gr_name
    expected = {
        ".env": (0o640, f"root:{group}"),
        "var": (0o750, f"root:{group}"),
        "var/redis-auth.conf": (0o600, f"{USER}:{group}"),
        "var/tmp": (0o700, f"{USER}:{group}"),
    }
    for path, (mode, owner) in expected.items():
        info = (box.root / path).stat()
        found = f"{pwd.getpwuid(info.st_uid).pw_name}:{grp.getgrgid(info.st_gid).gr_name}"
        assert (info.st_mode & 0o7777, found) == (mode, owner), path
    assert "Fixed .env's mode: it was 644 root:root, now 640" in box.setup_output

    # The Redis password: made by setup.sh, asked for by the supervised Redis.
    redis_url = box.redis_url
    (redis_password,) = re.fullmatch(r"redis://:([0-9a-f]{48})@127\.0\.0\.1:\d+/0", redis_url).groups()
    port = int(redis_url.rsplit(":", 1)[1].split("/")[0])
    with pytest.raises(redis.AuthenticationError):
        redis.Redis(port=port).ping()
    client = redis.Redis.from_url(redis_url)

    # One video, through a failed getFile (an error and a retry in the logs) to its GIF.
    fake.fail("getFile", 502)
    user_id = 77_001
    update = factories.make_video_update(fake.add_file(clip_bytes), user_id=user_id, chat_id=user_id)
    fake.push_update(update)
    message = (user_id, update["message"]["message_id"])
    fake.wait_for(lambda: fake.sent_animations(user_id), timeout=120, message="the GIF")
    wait_until(lambda: all_done(client, [message]), timeout=30, what="the job to end")

    pages = fetch_all(box, admin_pages(box, job_id_for(*message), user_id))
    answered = {url: text[:3] for url, text in pages.items()}
    job_page, user_page = f"/rq/0/view/job/{job_id_for(*message)}", f"/users/{user_id}"
    assert answered[job_page] == answered[user_page] == answered["/metrics"] == "200", answered
    assert list(answered.values()).count("200") >= 20 and answered["/no-such-page"] == "404", answered
    titles = subprocess.run(["ps", "-eww", "-o", "args="], capture_output=True, text=True, check=True).stdout
    shown = {**box.logs(), **pages, "ps": titles, "setup.sh output": box.setup_output}
    assert any("attempt failed" in text for text in box.logs().values()), "the failed getFile is logged"
    for name, secret in (("bot token", box.token), ("admin password", box.admin_password),
                         ("Redis password", redis_password)):  # fmt: skip
        leaks = [where for where, text in shown.items() if secret in text]
        assert not leaks, f"the {name} is shown in {leaks}"
    print(f"{len(pages)} admin pages, {len(box.logs())} log files, {len(alive)} processes as {USER}")
