"""Admin panel fixtures: the app on the session's real redis-server, browsers with and without a login."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from redis import Redis

from admin import create_app
from core.settings import Settings
from tests.admin.helpers import PASSWORD, USERNAME, login
from tests.services import RedisServer


@pytest.fixture
def settings(redis_server: RedisServer) -> Settings:
    """Settings pointing at the test Redis, with a known admin login."""
    return Settings(redis_url=redis_server.url, admin_username=USERNAME, admin_password=PASSWORD)


@pytest.fixture
def app(settings: Settings, redis_client: Redis) -> Flask:
    """The admin app on the (flushed) test Redis."""
    return create_app({"SETTINGS": settings, "REDIS": redis_client, "TESTING": True})


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A browser without a login."""
    return app.test_client()


@pytest.fixture
def admin(app: Flask) -> FlaskClient:
    """A browser that has logged in through the form."""
    browser = app.test_client()
    assert login(browser).status_code == 302
    return browser
