"""Behind a reverse proxy: X-Forwarded-For names the client only if ADMIN_TRUSTED_PROXIES trusts the peer."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient
from redis import Redis

from admin import create_app
from admin.proxy import client_address, networks
from admin.throttle import MAX_FAILURES
from core.settings import Settings, SettingsError
from tests.admin.helpers import PASSWORD, USERNAME, login

PROXY = "127.0.0.1"  # the Flask test client's REMOTE_ADDR: our reverse proxy
ATTACKER, ADMIN = "203.0.113.66", "198.51.100.7"


def browser(settings: Settings, redis_client: Redis, trusted: str, forwarded_for: str) -> FlaskClient:
    """A client behind the proxy: every request carries the proxy's X-Forwarded-For."""
    values = Settings(
        redis_url=settings.redis_url,
        admin_username=USERNAME,
        admin_password=PASSWORD,
        admin_trusted_proxies=networks_setting(trusted),
    )
    client = create_app({"SETTINGS": values, "REDIS": redis_client, "TESTING": True}).test_client()
    client.environ_base["HTTP_X_FORWARDED_FOR"] = forwarded_for
    return client


def networks_setting(raw: str) -> tuple[str, ...]:
    """ADMIN_TRUSTED_PROXIES as Settings.from_env parses it."""
    return Settings.from_env({"ADMIN_TRUSTED_PROXIES": raw}, env_file=None).admin_trusted_proxies


def lock_out(client: FlaskClient) -> None:
    """Fail the login MAX_FAILURES times."""
    for _ in range(MAX_FAILURES):
        assert login(client, password="guess").status_code == 401


def test_behind_a_trusted_proxy_one_client_cannot_lock_out_another(settings, redis_client):
    """The throttle counts per real client: the attacker is locked out, the admin still logs in."""
    attacker = browser(settings, redis_client, PROXY, ATTACKER)
    admin = browser(settings, redis_client, PROXY, ADMIN)
    lock_out(attacker)
    assert login(attacker).status_code == 429
    assert login(admin).status_code == 302


def test_a_forged_x_forwarded_for_does_not_escape_the_throttle(settings, redis_client):
    """What a client writes into X-Forwarded-For itself is never read: the proxy's entry counts."""
    lock_out(browser(settings, redis_client, PROXY, ATTACKER))
    spoofer = browser(settings, redis_client, PROXY, f"{ADMIN}, {ATTACKER}")  # the proxy appended ATTACKER
    assert login(spoofer).status_code == 429


def test_without_trusted_proxies_x_forwarded_for_is_ignored(settings, redis_client):
    """Default (empty): a client cannot pick its address, so rotating the header does not help."""
    lock_out(browser(settings, redis_client, "", ATTACKER))
    assert login(browser(settings, redis_client, "", "192.0.2.1")).status_code == 429


def test_a_peer_that_is_not_a_trusted_proxy_is_the_client(settings, redis_client):
    """X-Forwarded-For from a peer outside ADMIN_TRUSTED_PROXIES is ignored."""
    lock_out(browser(settings, redis_client, "10.0.0.0/8", ATTACKER))
    assert login(browser(settings, redis_client, "10.0.0.0/8", ADMIN)).status_code == 429


@pytest.mark.parametrize(
    ("peer", "forwarded_for", "expected"),
    [
        ("10.0.0.2", "198.51.100.7", "198.51.100.7"),
        ("10.0.0.2", "1.1.1.1, 198.51.100.7, 10.0.0.3", "198.51.100.7"),  # two proxies, one forged entry
        ("10.0.0.2", "10.0.0.9, 10.0.0.3", "10.0.0.9"),  # every hop trusted: the left-most
        ("10.0.0.2", "", "10.0.0.2"),
        ("10.0.0.2", "not-an-ip, 10.0.0.3", "10.0.0.3"),  # a malformed entry ends the walk
        ("192.0.2.5", "198.51.100.7", "192.0.2.5"),  # an untrusted peer is the client
        ("fd00::2", "2001:db8::7", "2001:db8::7"),
    ],
)
def test_client_address_is_the_right_most_untrusted_hop(peer: str, forwarded_for: str, expected: str):
    """The parser walks X-Forwarded-For from the right, skipping trusted proxies."""
    assert client_address(peer, forwarded_for, networks(["10.0.0.0/8", "fd00::/8"])) == expected


def test_admin_trusted_proxies_is_checked_at_start():
    """A malformed entry stops the process with a message naming the setting."""
    assert networks_setting(" 127.0.0.1 , 10.0.0.0/8,::1") == ("127.0.0.1/32", "10.0.0.0/8", "::1/128")
    with pytest.raises(SettingsError, match="ADMIN_TRUSTED_PROXIES"):
        networks_setting("127.0.0.1, proxy.example")
