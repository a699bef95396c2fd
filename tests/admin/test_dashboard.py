"""rq-dashboard under /rq names the Redis it shows without any secret of REDIS_URL."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from core.settings import Settings
from tests.admin.helpers import PASSWORD, USERNAME

DATA_PASSWORD = "data-secret-7f3a"
SENTINEL_PASSWORD = "sentinel-secret-9c1e"


@pytest.fixture
def settings() -> Settings:
    """A Sentinel REDIS_URL carrying both passwords (the app still gets the test Redis client)."""
    url = (
        f"redis+sentinel://:{DATA_PASSWORD}@10.0.0.1:26379,10.0.0.2:26379/mymaster"
        f"?sentinel_password={SENTINEL_PASSWORD}"
    )
    return Settings(redis_url=url, admin_username=USERNAME, admin_password=PASSWORD)


def test_dashboard_shows_the_sentinel_url_without_its_passwords(admin: FlaskClient):
    """The dashboard's instance list names the Sentinel group but neither password."""
    page = admin.get("/rq/").get_data(as_text=True)
    assert "redis+sentinel://" in page and "10.0.0.2:26379/mymaster" in page
    assert DATA_PASSWORD not in page
    assert SENTINEL_PASSWORD not in page
