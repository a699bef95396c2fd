"""A real browser (headless Chromium) uses the admin panel: login, overview, users, rq-dashboard, job
search, scheduler and audit log.

Screenshots go to $ADMIN_SCREENSHOT_DIR (default: <tmp>/gifbot-admin-screenshots); their paths are
printed. The panel runs in a werkzeug server thread on a free 127.0.0.1 port, on the test Redis.
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from redis import Redis
from werkzeug.serving import make_server

from admin import create_app
from core import hourly, keys, stats, upkeep
from core.models import Outcome
from core.settings import Settings
from tests.admin.helpers import EVIL_NAME, PASSWORD, USERNAME, busy_worker, enqueue_jobs, fail_jobs, gif_queue
from tests.services import RedisServer, free_port, wait_until

webdriver = pytest.importorskip("selenium.webdriver")
from selenium.common.exceptions import NoAlertPresentException  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as ec  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1280,1500",
)
EVIL_ID = 31_337
REASONS = ("error_failed", "error_not_video", "error_gif_too_big")
WAIT_S = 20

pytestmark = pytest.mark.skipif(
    not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()),
    reason="chromium and chromium-driver are not installed (scripts/test.sh installs them as root)",
)


def screenshot_dir() -> Path:
    """Where screenshots are kept (created, emptied of old PNGs)."""
    path = Path(
        os.environ.get("ADMIN_SCREENSHOT_DIR") or Path(tempfile.gettempdir()) / "gifbot-admin-screenshots"
    )
    path.mkdir(parents=True, exist_ok=True)
    for old in path.glob("*.png"):
        old.unlink()
    return path


def seed_history(redis: Redis, now: float) -> None:
    """A day of plausible traffic: users (one named like a script tag), outcomes, latency, depth."""
    names = ["Ada", "Grace", "Linus", "Margaret", "Ken", "Barbara", "Dennis", "Frances", EVIL_NAME]
    for hour in reversed(range(24)):  # oldest first, so last-seen times come out right
        for n in range(2 + int(3 + 3 * math.sin(hour / 3))):
            uid = EVIL_ID if n == 0 and hour == 0 else 50_000 + (hour * 7 + n) % len(names)
            name = EVIL_NAME if uid == EVIL_ID else names[uid % len(names)]
            profile = stats.Profile(uid, f"user_{uid}" if uid != EVIL_ID else EVIL_NAME, name, "", "en")
            sent = now - hour * 3600 - n * 300
            job_id = f"gif_{uid}_{hour}_{n}"
            stats.record_video(redis, profile, job_id, 2_000_000 + n * 150_000, now=sent)
            outcome = Outcome.FAILED if (hour + n) % 9 == 0 else Outcome.DELIVERED
            delivered = outcome is Outcome.DELIVERED
            stats.record_outcome(
                redis, uid, job_id, outcome, seconds=2.5 + n * 0.4 if delivered else None,
                size_out=3_000_000 if delivered else 0, reason="" if delivered else REASONS[hour % 3],
                now=sent + 4 + n * 1.5 + (hour % 5),
            )  # fmt: skip
    for step in range(96):
        ts = now - step * 900
        hourly.record_depth(redis, int(max(0, 6 + 6 * math.sin(step / 8))), now=ts)


@pytest.fixture
def panel(redis_server: RedisServer, redis_client: Redis) -> Iterator[str]:
    """The admin app served by werkzeug in a thread; yields its base URL."""
    settings = Settings(redis_url=redis_server.url, admin_username=USERNAME, admin_password=PASSWORD)
    app = create_app({"SETTINGS": settings, "REDIS": redis_client})
    server = make_server("127.0.0.1", free_port(), app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[webdriver.Chrome]:
    """Headless Debian Chromium driven by its own chromedriver, with a fresh profile."""
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    yield driver
    driver.quit()
    shutil.rmtree(tmp_path / "profile", ignore_errors=True)


def shoot(driver: webdriver.Chrome, folder: Path, name: str) -> Path:
    """Save a screenshot of the whole page and print its path."""
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1280, max(900, min(int(height) + 200, 4000)))
    path = folder / f"{name}.png"
    driver.save_screenshot(str(path))
    print(f"screenshot: {path}")
    return path


def visible(driver: webdriver.Chrome, css: str):
    """Wait until the element is visible and return it."""
    return WebDriverWait(driver, WAIT_S).until(ec.visibility_of_element_located((By.CSS_SELECTOR, css)))


def log_in(driver: webdriver.Chrome, base: str) -> None:
    """Open the panel, get sent to the login form, fill it in."""
    driver.get(base + "/")
    visible(driver, "#username").send_keys(USERNAME)
    driver.find_element(By.ID, "password").send_keys(PASSWORD)
    driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    visible(driver, "svg.chart[data-chart=jobs]")


def csp_violations(driver: webdriver.Chrome) -> list[str]:
    """Console messages about anything the Content-Security-Policy blocked."""
    return [e["message"] for e in driver.get_log("browser") if "Content Security Policy" in e["message"]]


def check_panel_pages(driver: webdriver.Chrome, base: str, folder: Path) -> None:
    """Overview charts and workers, the users table, one user: all visible, names as text."""
    bars = driver.find_elements(By.CSS_SELECTOR, "svg.chart[data-chart=jobs] rect[class^=s-] title")
    assert len(bars) > 24, "the jobs chart has a bar per hour and outcome"
    assert driver.find_element(By.CSS_SELECTOR, "svg.chart[data-chart=depth] path.line").is_displayed()
    assert driver.find_element(By.CSS_SELECTOR, "svg.chart[data-chart=latency] path.line").is_displayed()
    assert "box-1.worker-0" in visible(driver, "#workers").text
    shoot(driver, folder, "2-overview")

    driver.get(base + "/users?sort=videos&order=desc")
    row = visible(driver, f'tr[data-user-id="{EVIL_ID}"]')
    assert EVIL_NAME in row.text, "the script-tag name is shown as text"
    assert len(driver.find_elements(By.CSS_SELECTOR, "#users tbody tr")) >= 9
    shoot(driver, folder, "3-users")

    driver.get(f"{base}/users/{EVIL_ID}")
    assert EVIL_NAME in visible(driver, "#profile").text
    shoot(driver, folder, "4-user")


def check_dashboard(driver: webdriver.Chrome, base: str, folder: Path, redis: Redis, failed: list) -> None:
    """rq-dashboard lists the queue, requeues all failed jobs (a CSRF-checked POST), shows a job."""
    driver.get(base + "/rq/")
    WebDriverWait(driver, WAIT_S).until(lambda d: "gifs" in d.find_element(By.ID, "queues").text)
    assert "Loading..." not in driver.find_element(By.ID, "queues").text
    shoot(driver, folder, "5-rq-queues")

    driver.get(base + "/rq/0/view/jobs/gifs/failed/8/asc/1")
    WebDriverWait(driver, WAIT_S).until(lambda d: failed[0].id in d.find_element(By.ID, "jobs").text)
    shoot(driver, folder, "6-rq-failed-jobs")
    visible(driver, "#requeue-all-btn").click()  # a POST with the CSRF header, from the dashboard's JS
    visible(driver, "#confirmation-modal-yes").click()
    queue = gif_queue(redis)
    # RQ's requeue takes a job off the failed registry, then queues it: wait for both, for every job
    requeued = {j.id for j in failed}
    wait_until(
        lambda: queue.failed_job_registry.get_job_count() == 0 and requeued <= set(queue.job_ids),
        timeout=WAIT_S,
        what="requeue all",
    )

    evil = queue.enqueue("builtins.len", [1], description=EVIL_NAME)
    driver.get(f"{base}/rq/0/view/job/{evil.id}")
    description = visible(driver, "#job-data .description-scroll")
    assert description.text == EVIL_NAME, "the job description is rendered as text"
    with pytest.raises(NoAlertPresentException):
        driver.switch_to.alert.text  # noqa: B018
    assert not driver.find_element(By.ID, "requeue-job-btn").is_displayed(), "style allowed by its hash"
    shoot(driver, folder, "7-rq-job")


def seed_scheduler(redis: Redis) -> None:
    """A leading scheduler, each periodic task's last pass and one recovery, as the scheduler writes them."""
    now = time.time()
    redis.set(keys.SCHEDULER_LOCK, "box-1.4242", ex=30)
    upkeep.took_lead(redis, "box-1.4242", now=now - 5400)
    for task, result in (("recover_abandoned", 2), ("free_lost_slots", 0), ("sample_depth", 4)):
        upkeep.record_pass(redis, upkeep.Pass(task, now - 8, now - 7.9, result=result))
    upkeep.record_pass(redis, upkeep.Pass("forget_users", now - 900, now - 899, error="ConnectionError"))
    upkeep.note_recovery(redis, abandoned=1, stuck=1, now=now - 8)


def check_new_pages(driver: webdriver.Chrome, base: str, folder: Path) -> None:
    """Job search (failed jobs, reasons in words, the hostile name as text), scheduler, audit log."""
    driver.get(base + "/jobs?status=failed&window=24h")
    table = visible(driver, "#jobs")
    assert "not a video" in table.text and "error_" not in table.text, "reasons in words"
    assert len(driver.find_elements(By.CSS_SELECTOR, "#jobs tbody tr[data-job-id]")) >= 3
    shoot(driver, folder, "8-jobs")
    driver.get(base + "/jobs?user=" + quote("<script>"))
    assert EVIL_NAME in visible(driver, "#jobs").text
    driver.get(base + "/scheduler")
    assert "box-1.4242" in visible(driver, "#leader").text
    assert "failed: ConnectionError" in visible(driver, "#tasks").text
    shoot(driver, folder, "9-scheduler")
    driver.get(base + "/audit")
    audit_rows = visible(driver, "#audit").text
    assert "requeue_all" in audit_rows and "127.0.0.1" in audit_rows and "sign_in" in audit_rows
    shoot(driver, folder, "10-audit")


def test_admin_panel_in_a_real_browser(panel: str, browser: webdriver.Chrome, redis_client: Redis):
    """Log in; overview, users, rq-dashboard (which acts), job search, scheduler and audit pages render
    under the CSP."""
    folder = screenshot_dir()
    seed_history(redis_client, time.time())
    failed = fail_jobs(redis_client, 2)
    enqueue_jobs(redis_client, 3)
    busy_worker(redis_client, name="box-1.worker-0")

    browser.get(panel + "/login")
    shoot(browser, folder, "1-login")
    log_in(browser, panel)
    check_panel_pages(browser, panel, folder)
    check_dashboard(browser, panel, folder, redis_client, failed)
    seed_scheduler(redis_client)
    check_new_pages(browser, panel, folder)
    assert csp_violations(browser) == [], "the Content-Security-Policy blocked nothing"
