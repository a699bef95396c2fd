"""Webhook mode: Telegram's secret-token header is required; authentic updates become GIFs."""

from __future__ import annotations

import json

import requests

from tests import factories
from tests.services import free_port, wait_until

SECRET = "s3cret-webhook-token-0123456789"


def post(port: int, update: dict, secret: str | None) -> int:
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers["X-Telegram-Bot-Api-Secret-Token"] = secret
    url = f"http://127.0.0.1:{port}/telegram/webhook"
    return requests.post(url, data=json.dumps(update), headers=headers, timeout=10).status_code


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
