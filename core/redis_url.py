"""REDIS_URL's Sentinel form, parsed once: redis+sentinel://[:PASSWORD@]HOST:PORT[,…]/SERVICE[/DB];
and the passwords any REDIS_URL carries, so logs can hide them."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qs, quote, unquote

SENTINEL_SCHEME = "redis+sentinel"
DEFAULT_SENTINEL_PORT = 26379


@dataclass(frozen=True)
class SentinelURL:
    """A parsed redis+sentinel:// URL."""

    hosts: tuple[tuple[str, int], ...]
    service: str
    db: int = 0
    username: str | None = None
    password: str | None = None
    sentinel_password: str | None = None


def parse_sentinel_url(url: str) -> SentinelURL:
    """Parse a redis+sentinel:// URL; ValueError says what is wrong (never echoing a password)."""
    rest = url.removeprefix(f"{SENTINEL_SCHEME}://")
    rest, _, query = rest.partition("?")
    netloc, _, path = rest.partition("/")
    userinfo, _, hostlist = netloc.rpartition("@")
    username, _, password = userinfo.partition(":") if userinfo else ("", "", "")
    hosts = tuple(_host_port(part) for part in hostlist.split(",") if part)
    parts = [p for p in path.split("/") if p]
    if not hosts:
        raise ValueError("names no Sentinel host (redis+sentinel://HOST:PORT[,HOST:PORT]/SERVICE)")
    if not parts or len(parts) > 2 or (len(parts) == 2 and not parts[1].isdigit()):
        raise ValueError("must end in /SERVICE_NAME or /SERVICE_NAME/DB")
    options = parse_qs(query)
    sentinel_password = options.get("sentinel_password", [None])[0]
    return SentinelURL(
        hosts=hosts,
        service=unquote(parts[0]),
        db=int(parts[1]) if len(parts) == 2 else 0,
        username=unquote(username) or None,
        password=unquote(password) or None,
        sentinel_password=sentinel_password or None,
    )


def _host_port(part: str) -> tuple[str, int]:
    if ":" not in part or part.endswith("]"):  # "host" or "[ipv6]": the default port
        part = f"{part}:{DEFAULT_SENTINEL_PORT}"
    host, _, port = part.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError("has a Sentinel address that is not HOST:PORT")
    return host.strip("[]"), int(port)


def passwords_in(url: str) -> tuple[str, ...]:
    """Every password in a REDIS_URL (user info, ?password=, ?sentinel_password=), each as written
    and decoded, longest first, so a log line can have them all replaced."""
    rest = url.partition("://")[2]
    rest, _, query = rest.partition("?")
    userinfo = rest.partition("/")[0].rpartition("@")[0]
    written = [userinfo.partition(":")[2]] if ":" in userinfo else []
    options = parse_qs(query)
    found = {unquote(w) for w in written} | set(written)
    for value in options.get("password", []) + options.get("sentinel_password", []):
        found |= {value, quote(value, safe="")}
    return tuple(sorted((p for p in found if p), key=len, reverse=True))
