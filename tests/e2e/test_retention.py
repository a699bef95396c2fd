"""Bounded Redis through the real stack: every key our processes leave has a TTL or a stated bound,
and with USER_DATA_DAYS shortened an inactive user's data expires while an admin's ban and quota
override stay (bot, worker and scheduler processes; the admin app in-process on the same Redis)."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis

from admin import create_app
from app.menu import callback_data
from core import keys, retention
from core.settings import Settings
from tests import factories
from tests.admin.helpers import PASSWORD, USERNAME, csrf_token, login
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.gifcheck import all_done
from tests.services import RedisServer, running_stack, stack_env, wait_until

USER = 81_001
USER_DATA_S = 15  # USER_DATA_DAYS for this stack, in seconds
# Keys allowed without a TTL, each with what bounds it. A new key without a TTL fails the walk
# until it is given one, or added here with its bound.
UNEXPIRING = {
    keys.USERS: "user ids by last activity; forget_users drops those past USER_DATA_DAYS",
    keys.TOTALS: "all-time counters, fixed fields",
    keys.BANNED: "an admin's decision, kept for good",
    keys.quota("*"): "an admin's decision, kept for good",
    keys.ACTIVE_USERS: "users who may hold a slot; the lost-slot pass drops idle ones",
    keys.LOST_SLOTS_CURSOR: "one number",
    keys.MAINTENANCE: "one field per periodic task",
    keys.SCHEDULER_SINCE: "one value: the leading scheduler and when it took the lead",
    keys.DEPTH: "queue depth samples of the last 24 h, trimmed at each write",
    keys.RECENT_SECONDS: "the last 100 conversion times",
    keys.WORKER_STATUSES: "names of live workers, pruned at each publish",
    keys.INBOX_CHATS: "chats with unhandled updates; a drained chat leaves",
    keys.inbox(0).removesuffix("0") + "*": "a chat's unhandled updates, at most 50, gone when drained",
    keys.ADMIN_SESSION_SALT: "one random salt",
    "rq:queues": "RQ: one entry per queue",
    "rq:workers": "RQ: live workers",
    "rq:workers:*": "RQ: live workers of a queue",
    "rq:queue:*": "RQ: jobs waiting to run",
    "rq:finished:*": "RQ registry: entries leave after result_ttl",
    "rq:failed:*": "RQ registry: entries leave after failure_ttl",
    "rq:wip:*": "RQ registry: running jobs",
    "rq:scheduled:*": "RQ registry: jobs waiting for a retry",
    "rq:deferred:*": "RQ registry: jobs waiting for another",
    "rq:canceled:*": "RQ registry: entries leave after their TTL",
    "rq:scheduler:scheduled_jobs": "rq-scheduler: jobs scheduled for later",
}


@dataclass(frozen=True)
class Run:
    """What the stack left in Redis right after a short real run."""

    redis: redis.Redis
    ttls: dict[str, int]  # every key -> its TTL (-1: none)
    settings: Settings


@pytest.fixture(scope="module")
def run(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest, clip_bytes
) -> Iterator[Run]:
    """Bot, worker and scheduler with USER_DATA_DAYS = 20 s: a user picks a setting and sends a
    video that comes back as a GIF; an admin bans the user and sets their quota, and scrapes."""
    workdir = tmp_path_factory.mktemp("retention")
    server = RedisServer(workdir / "redis").start()
    client = server.client()
    try:
        with (
            FakeTelegramAPI() as api,
            running_stack(_env(api, server, workdir), workdir / "logs", request) as stack,
        ):
            stack.bot()
            stack.worker()
            stack.spawn("scheduler", "jobs.scheduler")
            api.push_updates([factories.make_callback_update(callback_data("fps", "15"), user_id=USER)])
            api.wait_for(lambda: api.calls("answerCallbackQuery"), timeout=60, message="setting saved")
            update = factories.make_video_update(api.add_file(clip_bytes), user_id=USER, chat_id=USER)
            api.push_updates([update])
            message = [(USER, update["message"]["message_id"])]
            wait_until(lambda: all_done(client, message), timeout=90, what="the job to end")
            settings = Settings(
                redis_url=server.url,
                admin_username=USERNAME,
                admin_password=PASSWORD,
                user_data_days=USER_DATA_S / 86400,
            )
            _admin_acts(client, settings)
            yield Run(client, {k.decode(): client.ttl(k) for k in client.scan_iter(count=1000)}, settings)
    finally:
        server.stop()


def _env(api: FakeTelegramAPI, server: RedisServer, workdir: Path) -> dict[str, str]:
    env = stack_env(api.token, api.base_url, server.url, workdir)
    return {**env, "USER_DATA_DAYS": repr(USER_DATA_S / 86400)}


def _admin_acts(client: redis.Redis, settings: Settings) -> None:
    """Through the panel: log in, ban the user, override their hourly quota, scrape /metrics."""
    panel = create_app({"SETTINGS": settings, "REDIS": client, "TESTING": True}).test_client()
    assert login(panel).status_code == 302
    token = csrf_token(panel)
    assert panel.post(f"/users/{USER}/ban", data={"csrf_token": token}).status_code == 303
    assert panel.post(f"/users/{USER}/quota", data={"csrf_token": token, "per_hour": "2"}).status_code == 303
    assert panel.get("/metrics").status_code == 200


def test_every_key_the_stack_leaves_has_a_ttl_or_a_stated_bound(run: Run):
    """After a real run each key expires, or is one of the bounded or permanent keys listed here."""
    unbounded = [
        key
        for key, ttl in run.ttls.items()
        if ttl < 0 and not any(fnmatch.fnmatch(key, p) for p in UNEXPIRING)
    ]
    assert unbounded == [], run.ttls
    mine = {key: run.ttls.get(key) for key in retention.user_keys(USER)}
    assert all(ttl is not None and 0 < ttl <= USER_DATA_S for ttl in mine.values()), mine
    assert any(key.startswith("rq:job:") for key in run.ttls), "the walk saw the run's job"


def test_inactive_users_data_expires_but_ban_and_quota_stay(run: Run):
    """USER_DATA_DAYS after their last activity the user's data is gone; their ban and their quota
    override stay for good, and the panel still finds the user to undo them."""
    wait_until(
        lambda: not any(run.redis.exists(key) for key in retention.user_keys(USER)),
        timeout=USER_DATA_S + 30,
        what="the user's data to expire",
    )
    assert run.redis.sismember(keys.BANNED, USER)
    assert run.redis.hgetall(keys.quota(USER)) == {b"per_hour": b"2"}
    assert (run.redis.ttl(keys.BANNED), run.redis.ttl(keys.quota(USER))) == (-1, -1)
    panel = create_app({"SETTINGS": run.settings, "REDIS": run.redis, "TESTING": True}).test_client()
    assert login(panel).status_code == 302
    assert panel.get(f"/users/{USER}").status_code == 200
    assert b"\ngifbot_users 0.0\n" in panel.get("/metrics").data
