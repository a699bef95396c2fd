"""Alerts in the admins' Telegram chats (ADMIN_CHAT_IDS), checked by the scheduler on each pass.

Four conditions: a worker box disappeared (none of its workers publishes a status, core.boxes);
the failure rate over FAILURE_WINDOW_S reached ALERT_FAILURE_RATE (with at least ALERT_FAILURE_MIN
videos ended); the oldest queued job has waited ALERT_QUEUE_WAIT_S; Redis was unreachable (told
once it is back, with how long). A problem is told at most once per ALERT_WINDOW_S per condition,
and when a told problem clears, a "Recovered" message follows. The state lives in Redis with TTLs,
so a standby scheduler that takes over carries on. Texts are for operators, in English, like the
admin panel's; every alert is logged too.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from redis import Redis
from rq import Worker
from rq.exceptions import NoSuchJobError
from rq.job import Job
from rq.serializers import JSONSerializer

from core import boxes, keys
from core.admission import gif_queue
from core.models import Outcome
from core.settings import Settings

log = logging.getLogger(__name__)
FAILURE_WINDOW_S = 600  # the failure rate is taken over this long
SAMPLES_KEPT_S = FAILURE_WINDOW_S + 300  # outcome samples older than the window's start are dropped
BOX_MEMORY_S = 24 * 3600  # a box gone this long is forgotten (taken out of service): no more messages
STATE_TTL_S = 7 * 24 * 3600
QUIET_AFTER_OUTAGE_S = 45.0  # workers republish their status within this once Redis is back
PROBLEM, RECOVERED = "Problem: ", "Recovered: "
REDIS = "redis"


@dataclass(frozen=True)
class Finding:
    """One condition as this pass sees it, with what to say if it turns bad or clears."""

    condition: str
    bad: bool
    problem: str = ""
    recovered: str = ""


def clock(ts: float) -> str:
    """A unix time as HH:MM:SS UTC."""
    return datetime.fromtimestamp(ts, UTC).strftime("%H:%M:%S UTC")


def box_findings(redis: Redis, now: float) -> list[Finding]:
    """One finding per worker box seen in the last BOX_MEMORY_S: bad while none of its workers reports."""
    live = boxes.by_box(boxes.read_all(redis))
    known = {k.decode(): float(v) for k, v in redis.hgetall(keys.ALERT_BOXES).items()}
    findings = []
    with redis.pipeline() as pipe:
        for box, workers in live.items():
            pipe.hset(keys.ALERT_BOXES, box, now)
            back = f"worker box {box} is back: {len(workers)} worker(s) reporting."
            findings.append(Finding(f"box:{box}", False, recovered=back))
        for box, seen in known.items():
            if box in live:
                continue
            if now - seen > BOX_MEMORY_S:
                pipe.hdel(keys.ALERT_BOXES, box)
                pipe.hdel(keys.ALERT_STATE, f"box:{box}")
                continue
            gone = f"worker box {box} disappeared: none of its workers has reported since {clock(seen)}."
            findings.append(Finding(f"box:{box}", True, problem=gone))
        pipe.expire(keys.ALERT_BOXES, STATE_TTL_S)
        pipe.execute()
    return findings


def failure_finding(redis: Redis, settings: Settings, now: float) -> Finding:
    """Failed / ended videos since FAILURE_WINDOW_S ago, from samples of the all-time totals."""
    delivered, failed = (int(v or 0) for v in redis.hmget(keys.TOTALS, Outcome.DELIVERED, Outcome.FAILED))
    with redis.pipeline() as pipe:
        pipe.zadd(keys.ALERT_OUTCOMES, {f"{now:.3f}:{delivered}:{failed}": now})
        pipe.zremrangebyscore(keys.ALERT_OUTCOMES, "-inf", now - SAMPLES_KEPT_S)
        pipe.expire(keys.ALERT_OUTCOMES, SAMPLES_KEPT_S)
        pipe.zrevrangebyscore(keys.ALERT_OUTCOMES, now - FAILURE_WINDOW_S, "-inf", start=0, num=1)
        pipe.zrange(keys.ALERT_OUTCOMES, 0, 0)
        *_, before_window, oldest = pipe.execute()
    _, was_delivered, was_failed = (before_window or oldest)[0].decode().split(":")
    failures = failed - int(was_failed)
    ended = failures + delivered - int(was_delivered)
    rate = failures / ended if ended else 0.0
    threshold, minutes = settings.alert_failure_rate, FAILURE_WINDOW_S // 60
    return Finding(
        "failure_rate",
        ended >= settings.alert_failure_min and rate >= threshold,
        problem=f"{failures} of {ended} videos failed in the last {minutes} min "
        f"({rate:.0%}; the alert is at {threshold:.0%}).",
        recovered=f"failure rate back under {threshold:.0%}: {failures} of {ended} videos failed "
        f"in the last {minutes} min.",
    )


def queue_finding(redis: Redis, settings: Settings, now: float) -> Finding:
    """How long the oldest job in the queue has waited for a worker."""
    queue, waited = gif_queue(redis, settings), 0.0
    for job_id in queue.get_job_ids(0, 5):  # the head; past ids of jobs deleted meanwhile
        try:
            job = Job.fetch(job_id, connection=redis, serializer=JSONSerializer)
        except NoSuchJobError:
            continue
        waited = now - job.enqueued_at.timestamp() if job.enqueued_at else 0.0
        break
    limit, queued, workers = settings.alert_queue_wait_s, queue.count, Worker.count(queue=queue)
    return Finding(
        "queue_wait",
        waited >= limit,
        problem=f"the oldest queued video has waited {waited:.0f} s (the alert is at {limit} s); "
        f"{queued} queued, {workers} worker(s).",
        recovered=f"queue wait back under {limit} s: {queued} queued, {workers} worker(s).",
    )


def settle(redis: Redis, finding: Finding, window_s: int, now: float) -> str | None:
    """Record the condition's state; return the message to send now, if any."""
    raw = redis.hget(keys.ALERT_STATE, finding.condition)
    state = json.loads(raw) if raw else None
    if not finding.bad:
        if state is None:
            return None
        redis.hdel(keys.ALERT_STATE, finding.condition)
        return RECOVERED + finding.recovered if state["told"] else None
    state = state or {"since": now, "told": False}
    message = None
    if not state["told"] and redis.set(keys.alert_sent(finding.condition), now, nx=True, ex=window_s):
        state["told"], message = True, PROBLEM + finding.problem
    with redis.pipeline() as pipe:
        pipe.hset(keys.ALERT_STATE, finding.condition, json.dumps(state))
        pipe.expire(keys.ALERT_STATE, STATE_TTL_S)
        pipe.execute()
    return message


class Alerts:
    """The scheduler's alerts pass, and its memory of Redis outages (which Redis cannot hold)."""

    def __init__(self, redis: Redis, settings: Settings, send: Callable[[str], None]) -> None:
        self.redis = redis
        self.settings = settings
        self.send = send
        self.down_since: float | None = None
        self.outage: tuple[float, float] | None = None  # (from, to) of the last outage, untold
        self.quiet_until = 0.0  # no box is called gone before workers could republish

    def redis_lost(self, now: float | None = None) -> None:
        """A Redis call failed: the outage starts (if it had not)."""
        if self.down_since is None:
            self.down_since = time.time() if now is None else now

    def redis_back(self, now: float | None = None) -> None:
        """Redis answers again: remember the outage for the next pass to tell."""
        if self.down_since is not None:
            now = time.time() if now is None else now
            self.outage, self.down_since = (self.down_since, now), None
            self.quiet_until = time.monotonic() + QUIET_AFTER_OUTAGE_S

    def run(self, now: float | None = None) -> int:
        """Check every condition; send what is due; return how many messages were sent."""
        now = time.time() if now is None else now
        findings = [failure_finding(self.redis, self.settings, now)]
        findings.append(queue_finding(self.redis, self.settings, now))
        if time.monotonic() >= self.quiet_until:
            findings += box_findings(self.redis, now)
        window = self.settings.alert_window_s
        messages = [settle(self.redis, finding, window, now) for finding in findings]
        messages.append(self.outage_message(now))
        for message in filter(None, messages):
            self.send(message)
        return sum(1 for message in messages if message)

    def outage_message(self, now: float) -> str | None:
        """The last Redis outage, once, if no outage was told within the window."""
        if self.outage is None:
            return None
        (start, end), self.outage = self.outage, None
        window = self.settings.alert_window_s
        if now - end > window or not self.redis.set(keys.alert_sent(REDIS), now, nx=True, ex=window):
            log.info("a Redis outage of %.0f s is not told: one was told within %s s", end - start, window)
            return None
        return f"{RECOVERED}Redis was unreachable for {end - start:.0f} s ({clock(start)} to {clock(end)})."
