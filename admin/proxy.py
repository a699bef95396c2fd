"""The client's real address behind a reverse proxy, for the login throttle and the logs.

X-Forwarded-For is written by whoever sends the request, so it is believed only when the direct
peer is one of ADMIN_TRUSTED_PROXIES (empty by default: the header is ignored). Each trusted proxy
appends the address it saw, so the header is read from the right: the first address that is not a
trusted proxy is the client. Anything a client wrote itself sits further left and is never reached.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Any

from flask import Flask

from admin import context

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
PEER_KEY = "gifbot.proxy_peer"  # the WSGI environ keeps the direct peer's address under this key


def init_app(app: Flask) -> None:
    """Rewrite REMOTE_ADDR from X-Forwarded-For for requests from a trusted proxy (if any is set)."""
    trusted = networks(context.settings(app).admin_trusted_proxies)
    if trusted:
        app.wsgi_app = TrustedProxies(app.wsgi_app, trusted)  # type: ignore[method-assign]


def networks(values: Iterable[str]) -> tuple[Network, ...]:
    """Parse addresses and CIDR networks (settings has checked them already)."""
    return tuple(ipaddress.ip_network(v, strict=False) for v in values)


def is_trusted(address: str, trusted: tuple[Network, ...]) -> bool:
    """True if `address` is an IP inside one of the trusted networks."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip.version == net.version and ip in net for net in trusted)


def client_address(peer: str, forwarded_for: str, trusted: tuple[Network, ...]) -> str:
    """The right-most address in X-Forwarded-For that is not a trusted proxy, if `peer` is one;
    else `peer`. A malformed entry ends the walk at the last good address."""
    if not is_trusted(peer, trusted):
        return peer
    client = peer
    for hop in reversed([h.strip() for h in forwarded_for.split(",") if h.strip()]):
        try:
            client = str(ipaddress.ip_address(hop))
        except ValueError:
            break
        if not is_trusted(client, trusted):
            break
    return client


class TrustedProxies:
    """WSGI middleware: REMOTE_ADDR becomes the client's address when a trusted proxy sent it."""

    def __init__(self, wsgi_app: Any, trusted: tuple[Network, ...]) -> None:
        self.wsgi_app = wsgi_app
        self.trusted = trusted

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        peer = environ.get("REMOTE_ADDR", "")
        environ[PEER_KEY] = peer
        environ["REMOTE_ADDR"] = client_address(peer, environ.get("HTTP_X_FORWARDED_FOR", ""), self.trusted)
        return self.wsgi_app(environ, start_response)
