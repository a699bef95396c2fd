"""The admin panel's Flask factory: a health probe now, the full panel behind HTTP Basic later."""

from __future__ import annotations

import hmac
from typing import Any

import redis
from flask import Flask, Response, current_app, jsonify, request
from rq import Queue, Worker

from app.connection import connect
from app.settings import Settings

AUTH_REALM = "gifbot admin"
OPEN_ENDPOINTS = frozenset({"healthz", "static"})


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the admin app; `test_config` may carry SETTINGS (a Settings) and REDIS (a client)."""
    app = Flask(__name__)
    app.config.from_mapping(test_config or {})
    if not isinstance(app.config.get("SETTINGS"), Settings):
        app.config["SETTINGS"] = Settings.from_env(require=("ADMIN_PASSWORD",))
    settings: Settings = app.config["SETTINGS"]
    if app.config.get("REDIS") is None:
        app.config["REDIS"] = connect(settings)  # no round trip until the first command

    app.before_request(_require_basic_auth)
    app.add_url_rule("/healthz", "healthz", healthz)
    app.add_url_rule("/", "index", index)
    return app


def healthz() -> tuple[Response, int]:
    """Report whether Redis answers, how many workers are registered and how deep the queue is."""
    settings: Settings = current_app.config["SETTINGS"]
    connection: redis.Redis = current_app.config["REDIS"]
    try:
        connection.ping()
        workers = Worker.count(connection=connection)
        depth = Queue(settings.queue_name, connection=connection).count
    except redis.RedisError as exc:
        # One line, no traceback: probes call this every few seconds while Redis is down.
        current_app.logger.warning("healthz: Redis does not answer: %s", exc)
        return jsonify(redis=False, workers=0, queue_depth=0), 503
    return jsonify(redis=True, workers=workers, queue_depth=depth), 200


def index() -> Response:
    """Placeholder page until the panel's views land."""
    return Response("gifbot admin: the panel is not built yet; see /healthz.\n", mimetype="text/plain")


def _require_basic_auth() -> Response | None:
    """Refuse every request except the open endpoints unless it carries the admin's credentials."""
    if request.endpoint in OPEN_ENDPOINTS:
        return None
    settings: Settings = current_app.config["SETTINGS"]
    auth = request.authorization
    if (
        auth is not None
        and auth.type == "basic"
        and settings.admin_password
        and _same(auth.username or "", settings.admin_username)
        and _same(auth.password or "", settings.admin_password)
    ):
        return None
    return Response(
        "Login required.\n",
        status=401,
        mimetype="text/plain",
        headers={"WWW-Authenticate": f'Basic realm="{AUTH_REALM}", charset="UTF-8"'},
    )


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))
