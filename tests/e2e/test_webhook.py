"""Webhook mode: gunicorn serves it; the secret-token header is required; updates become GIFs."""

from __future__ import annotations

import json
import signal
import time

import requests

from tests import factories
from tests.procs import descendants
from tests.services import free_port, wait_until

SECRET = "s3cret-webhook-token-0123456789"


def post(port: int, update: dict, secret: str | None) -> int:
    return send(port, update, secret).status_code


def send(port: int, update: dict, secret: str | None) -> requests.Response:
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers["X-Telegram-Bot-Api-Secret-Token"] = secret
    url = f"http://127.0.0.1:{port}/telegram/webhook"
    return requests.post(url, data=json.dumps(update), headers=headers, timeout=10)


def test_webhook_checks_the_secret_and_delivers_authentic_updates(stack, fake_api, redis_client, clip_bytes):
    """Missing secret → 401, wrong → 403, nothing queued; the right secret → one GIF."""
    port = free_port()
    stack.bot(
        BOT_MODE="webhook",
        WEBHOOK_URL=f"http://127.0.0.1:{port}",
        WEBHOOK_SECRET=SECRET,
        WEBHOOK_PORT=str(port),
    )
    stack.worker()
    [hook] = fake_api.wait_for(lambda: fake_api.calls("setWebhook"), timeout=30, message="setWebhook")
    assert hook.params["secret_token"] == SECRET
    user = 91_001
    update = factories.make_video_update(
        fake_api.add_file(clip_bytes), user_id=user, chat_id=user, update_id=1
    )
    wait_until(lambda: _answers(port), timeout=30, what="the webhook server to listen")
    assert post(port, update, None) == 401
    assert post(port, update, "wrong-secret-wrong-secret") == 403
    assert not redis_client.keys("rq:job:*") and not fake_api.calls("sendMessage", chat_id=user)
    assert post(port, update, SECRET) == 200
    fake_api.wait_for(lambda: fake_api.sent_animations(user), timeout=60, message="GIF via webhook")
    assert post(port, update, SECRET) == 200  # Telegram re-sends: still one job, one GIF
    assert len(fake_api.sent_animations(user)) == 1
    assert len(fake_api.calls("sendMessage", chat_id=user)) == 1, "the re-sent update was not handled again"


def _answers(port: int) -> bool:
    try:
        return post(port, {}, None) == 401
    except requests.ConnectionError:
        return False


def test_gunicorn_serves_it_answers_503_while_redis_is_away_and_stops_on_sigterm(stack, fake_api, clip_bytes):
    """gunicorn, one worker holding the lanes: Redis away → 503 and a notice; SIGTERM → exit 0 fast."""
    port = free_port()
    bot = stack.bot(
        BOT_MODE="webhook",
        WEBHOOK_URL=f"http://127.0.0.1:{port}",
        WEBHOOK_SECRET=SECRET,
        WEBHOOK_PORT=str(port),
        REDIS_URL=f"redis://127.0.0.1:{free_port()}/0",  # nothing listens there
    )
    wait_until(lambda: _answers(port), timeout=30, what="the webhook server to listen")
    assert len(descendants(bot.popen.pid)) == 1, "one gunicorn worker under the master"
    user = 91_002
    update = factories.make_video_update(
        fake_api.add_file(clip_bytes), user_id=user, chat_id=user, update_id=2
    )
    answer = send(port, update, SECRET)
    assert answer.status_code == 503 and answer.headers["Server"].startswith("gunicorn")
    fake_api.wait_for(
        lambda: fake_api.calls("sendMessage", chat_id=user), timeout=15, message="the later notice"
    )
    started = time.monotonic()
    bot.kill_group(signal.SIGTERM)  # as supervisord's stopasgroup does
    assert bot.popen.wait(timeout=15) == 0
    assert time.monotonic() - started < 15
