"""The users table's query: search by id, username or name; sort by any column; one page at a time."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from redis import Redis

from core import keys, stats
from core.models import parse_user_id
from core.stats import UserStats

USERS_SCANNED = 1000  # the most recently seen users; an exact id finds anyone
PAGE_SIZE = 100
DEFAULT_SORT = "last_seen"

SORT_KEYS: dict[str, Callable[[UserStats], Any]] = {
    "id": lambda u: u.user_id,
    "username": lambda u: u.username.casefold(),
    "name": lambda u: u.name.casefold(),
    "videos": lambda u: u.videos,
    "delivered": lambda u: u.delivered,
    "failed": lambda u: u.failed,
    "refused": lambda u: u.refused,
    "mb_in": lambda u: u.bytes_in,
    "mb_out": lambda u: u.bytes_out,
    "median": lambda u: (u.median_seconds is not None, u.median_seconds or 0.0),
    "last_seen": lambda u: u.last_seen,
}


@dataclass(frozen=True)
class UserQuery:
    """A validated search: text, sort column, direction and page (bad values fall back to defaults)."""

    q: str = ""
    sort: str = DEFAULT_SORT
    order: str = "desc"
    page: int = 1

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> UserQuery:
        """Read ?q=&sort=&order=&page= leniently."""
        sort = args.get("sort", DEFAULT_SORT)
        page = args.get("page", "1")
        return cls(
            q=args.get("q", "").strip()[:100],
            sort=sort if sort in SORT_KEYS else DEFAULT_SORT,
            order="asc" if args.get("order") == "asc" else "desc",
            page=int(page) if page.isdigit() and int(page) > 0 else 1,
        )

    def matches(self, user: UserStats) -> bool:
        """True if the search text is in the user's id, username or name (any case)."""
        needle = self.q.casefold().lstrip("@")
        return not needle or any(
            needle in hay.casefold() for hay in (str(user.user_id), user.username, user.name)
        )


@dataclass(frozen=True)
class UserPage:
    """One page of matching users and how many matched in all."""

    users: list[UserStats]
    total: int
    page: int
    pages: int


def find_users(redis: Redis, query: UserQuery, page_size: int = PAGE_SIZE) -> UserPage:
    """Filter, sort and cut one page out of the recently seen users (plus an exact id match)."""
    found = [u for u in stats.list_users(redis, limit=USERS_SCANNED) if query.matches(u)]
    wanted = parse_user_id(query.q)
    if wanted is not None and all(u.user_id != wanted for u in found) and known(redis, wanted):
        found.append(stats.user_stats(redis, wanted))
    found.sort(key=SORT_KEYS[query.sort], reverse=query.order == "desc")
    pages = max(1, -(-len(found) // page_size))
    page = min(query.page, pages)
    return UserPage(found[(page - 1) * page_size : page * page_size], len(found), page, pages)


def known(redis: Redis, user_id: int) -> bool:
    """True if the bot has seen this user, or an admin banned them or set their limits (those stay
    after the user's own data expired, so an admin can still undo them)."""
    with redis.pipeline(transaction=False) as pipe:
        pipe.zscore(keys.USERS, str(user_id))
        pipe.sismember(keys.BANNED, user_id)
        pipe.exists(keys.quota(user_id))
        seen, banned, quota = pipe.execute()
    return seen is not None or bool(banned) or bool(quota)
