"""Error responses: a short page for people, JSON for /api/*, plain text for probes and scripts."""

from __future__ import annotations

import logging

from flask import Flask, Response, jsonify, render_template, request
from redis import RedisError
from rq.exceptions import NoSuchJobError
from werkzeug.exceptions import HTTPException, NotFound, ServiceUnavailable

log = logging.getLogger(__name__)


def init_app(app: Flask) -> None:
    """Render HTTP errors our way; a missing RQ job is a 404, an unreachable Redis a 503."""
    app.register_error_handler(HTTPException, render_http_error)
    app.register_error_handler(NoSuchJobError, lambda _exc: render_http_error(NotFound("No such job.")))
    app.register_error_handler(RedisError, _redis_down)


def render_http_error(exc: HTTPException) -> tuple[Response | str, int]:
    """Show the status and its (fixed, escaped) description."""
    code = exc.code or 500
    if request.path.startswith(("/api/", "/metrics")) or request.path.endswith(".json"):
        return jsonify(error=exc.name, detail=exc.description), code
    return render_template("error.html", code=code, name=exc.name, detail=exc.description), code


def _redis_down(exc: RedisError) -> tuple[Response | str, int]:
    log.warning("Redis does not answer: %s", exc)
    return render_http_error(ServiceUnavailable("The panel cannot reach Redis right now. Try again shortly."))
