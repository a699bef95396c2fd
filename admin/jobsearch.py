"""Find any job: every user's recent jobs (core.jobindex), filtered by user, job id, status and time
window, newest first, one page at a time.

Without a filter a page is cut straight from the index. With one, the newest SCAN_CAP jobs of the
window are read (two fields each, pipelined) and filtered; the page says when the window held more.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from redis import Redis
from rq.job import Job

from core import jobindex, keys, stats
from core.models import Outcome, parse_user_id
from core.stats import JobRecord

PAGE_SIZE = 50
SCAN_CAP = 10_000  # jobs read per filtered search, newest first
USERS_SCANNED = 1000  # the most recently seen users a name is looked for among (like the users page)
CHUNK = 1000  # commands per pipeline round trip
WINDOWS = {"1h": 3600, "24h": 24 * 3600, "7d": 7 * 24 * 3600, "30d": jobindex.KEEP_S}
DEFAULT_WINDOW = "7d"
STATUSES = ("queued", *(o.value for o in Outcome))  # "queued": received, not ended yet
TIME_FORMAT = "%Y-%m-%dT%H:%M"  # what <input type="datetime-local"> sends; read as UTC


@dataclass(frozen=True)
class JobQuery:
    """A validated search (bad values fall back to defaults): who, which job, status, when, page."""

    user: str = ""
    job: str = ""
    status: str = ""
    window: str = DEFAULT_WINDOW
    start: str = ""  # custom window, TIME_FORMAT in UTC; overrides `window`
    end: str = ""
    page: int = 1

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> JobQuery:
        """Read ?user=&job=&status=&window=&from=&to=&page= leniently."""
        status, window, page = (
            args.get("status", ""),
            args.get("window", DEFAULT_WINDOW),
            args.get("page", "1"),
        )
        return cls(
            user=args.get("user", "").strip()[:100],
            job=args.get("job", "").strip()[:100],
            status=status if status in STATUSES else "",
            window=window if window in WINDOWS else DEFAULT_WINDOW,
            start=args.get("from", "") if _parse(args.get("from", "")) else "",
            end=args.get("to", "") if _parse(args.get("to", "")) else "",
            page=int(page) if page.isdigit() and 0 < int(page) < 100_000 else 1,
        )

    def bounds(self, now: float) -> tuple[float, float]:
        """The window as unix seconds [since, until]."""
        since = _parse(self.start) or now - WINDOWS[self.window]
        until = _parse(self.end) or now
        return since, until

    def filtered(self) -> bool:
        """True if anything but the window narrows the search."""
        return bool(self.user or self.job or self.status)

    def args(self, **changes: object) -> dict[str, object]:
        """The query as URL arguments (empty ones left out), with `changes`: for links."""
        values = {
            "user": self.user,
            "job": self.job,
            "status": self.status,
            "window": self.window,
            "from": self.start,
            "to": self.end,
            "page": self.page,
        }
        values.update(changes)
        return {k: v for k, v in values.items() if v and not (k == "page" and v == 1)}


@dataclass(frozen=True)
class JobRow:
    """One found job, with who sent it and whether RQ still holds the job (for the dashboard link)."""

    record: JobRecord
    username: str
    name: str
    in_rq: bool


@dataclass(frozen=True)
class JobPage:
    """One page of found jobs; `capped` when the window held more jobs than one search reads."""

    rows: list[JobRow]
    total: int
    page: int
    pages: int
    capped: bool = False


def find_jobs(redis: Redis, query: JobQuery, now: float, page_size: int = PAGE_SIZE) -> JobPage:
    """Search the index as `query` says and return the asked-for page (clamped to the last)."""
    since, until = query.bounds(now)
    capped = False
    if query.job and redis.exists(keys.job_record(query.job)):
        ids = _filter(redis, [query.job], query)  # an exact job id is found in any window
    elif not query.filtered():
        total = jobindex.count(redis, since, until)
        page = min(query.page, _pages(total, page_size))
        ids = jobindex.newest(redis, since, until, (page - 1) * page_size, page_size)
        return JobPage(_rows(redis, ids), total, page, _pages(total, page_size))
    else:
        ids = jobindex.newest(redis, since, until, 0, SCAN_CAP)
        capped = len(ids) == SCAN_CAP and jobindex.count(redis, since, until) > SCAN_CAP
        ids = _filter(redis, ids, query)
    pages = _pages(len(ids), page_size)
    page = min(query.page, pages)
    return JobPage(
        _rows(redis, ids[(page - 1) * page_size : page * page_size]), len(ids), page, pages, capped
    )


def matching_users(redis: Redis, text: str) -> set[int]:
    """User ids a search text names: the id itself if it is a number, and every recently seen user
    whose username or name contains it (any case, @ optional)."""
    needle = text.strip().lstrip("@").casefold()
    wanted = parse_user_id(needle)
    found = {wanted} if wanted is not None else set()
    ids = [int(raw) for raw in redis.zrevrange(keys.USERS, 0, USERS_SCANNED - 1)]
    for user_id, profile in zip(ids, _profiles(redis, ids), strict=True):
        if any(needle in part.casefold() for part in profile):
            found.add(user_id)
    return found


def _filter(redis: Redis, ids: list[str], query: JobQuery) -> list[str]:
    needle = query.job.casefold()
    ids = [i for i in ids if needle in i.casefold()]
    if not (query.user or query.status):
        return ids
    users = matching_users(redis, query.user) if query.user else None
    kept = []
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        with redis.pipeline(transaction=False) as pipe:
            for job_id in chunk:
                pipe.hmget(keys.job_record(job_id), "user_id", "status")
            found = pipe.execute()
        for job_id, (user_id, status) in zip(chunk, found, strict=True):
            if user_id is None:
                continue  # the record expired
            if users is not None and int(user_id) not in users:
                continue
            if query.status and (status or b"queued").decode() != query.status:
                continue
            kept.append(job_id)
    return kept


def _rows(redis: Redis, ids: list[str]) -> list[JobRow]:
    records = stats.job_records(redis, ids)
    user_ids = sorted({r.user_id for r in records})
    profiles = dict(zip(user_ids, _profiles(redis, user_ids), strict=True))
    with redis.pipeline(transaction=False) as pipe:
        for record in records:
            pipe.exists(Job.key_for(record.job_id))
        in_rq = pipe.execute()
    return [
        JobRow(r, profiles[r.user_id][0], " ".join(p for p in profiles[r.user_id][1:] if p), bool(live))
        for r, live in zip(records, in_rq, strict=True)
    ]


def _profiles(redis: Redis, user_ids: list[int]) -> list[tuple[str, str, str]]:
    """(username, first name, last name) of each user ("" where unknown)."""
    with redis.pipeline(transaction=False) as pipe:
        for user_id in user_ids:
            pipe.hmget(keys.user(user_id), "username", "first_name", "last_name")
        found = pipe.execute()
    return [tuple((v or b"").decode() for v in values) for values in found]  # type: ignore[misc]


def _pages(total: int, page_size: int) -> int:
    return max(1, -(-total // page_size))


def _parse(value: str) -> float | None:
    """A TIME_FORMAT string (UTC) as unix seconds; None if it is not one."""
    try:
        return datetime.strptime(value, TIME_FORMAT).replace(tzinfo=UTC).timestamp()
    except ValueError:
        return None
