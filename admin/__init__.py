"""The admin panel's Flask factory: login, our pages and JSON API, rq-dashboard under /rq."""

from __future__ import annotations

from typing import Any

from flask import Flask

from admin import context
from core.connection import connect
from core.logs import setup_logging
from core.settings import Settings

PASSWORD_HINT = """\
The admin panel needs ADMIN_PASSWORD: it refuses to start without a login.
Set it in the environment or add a line to .env at the repo root, e.g.
    echo "ADMIN_PASSWORD=$(python3 -c 'import secrets; print(secrets.token_urlsafe(24))')" >> .env
(scripts/setup.sh writes one for you on its first run.)"""


class MissingPasswordError(SystemExit):
    """Raised at start when no admin password is set; its message says how to set one."""

    def __init__(self) -> None:
        super().__init__(PASSWORD_HINT)


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the admin app; `test_config` may carry SETTINGS (a Settings) and REDIS (a client)."""
    app = Flask(__name__)
    app.config.from_mapping(test_config or {})
    settings = app.config.get(context.SETTINGS_KEY)
    if not isinstance(settings, Settings):
        settings = app.config[context.SETTINGS_KEY] = Settings.from_env()
    if not settings.admin_password:
        raise MissingPasswordError()
    if test_config is None:  # served (gunicorn, flask run): one line per event, secrets redacted
        setup_logging(settings, "admin")
    if app.config.get(context.REDIS_KEY) is None:
        app.config[context.REDIS_KEY] = connect(settings)  # no round trip until the first command

    from admin import (
        api,
        audit_view,
        auth,
        csrf,
        dashboard,
        errors,
        formatting,
        headers,
        jobs_view,
        proxy,
        reasons,
        scheduler_view,
        session_key,
        views,
    )

    app.json = api.HtmlSafeJSONProvider(app)
    proxy.init_app(app)
    session_key.init_app(app)
    headers.init_app(app)
    auth.init_app(app)  # before csrf: an anonymous request is refused before its token is checked
    csrf.init_app(app)
    errors.init_app(app)
    formatting.init_app(app)
    reasons.init_app(app)
    app.register_blueprint(views.bp)
    app.register_blueprint(jobs_view.bp)
    app.register_blueprint(scheduler_view.bp)
    app.register_blueprint(audit_view.bp)
    app.register_blueprint(api.bp)
    dashboard.init_app(app)
    return app
