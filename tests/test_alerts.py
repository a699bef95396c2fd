"""The alerts pass on a real Redis, at chosen times: the failure rate's 10-minute window, boxes
coming and going, one problem message per window per condition, and Redis outages told once."""

from __future__ import annotations

import redis

from core import boxes, keys
from core.models import Outcome
from core.settings import Settings
from jobs import alerts
from tests.services import wait_until

T0 = 1_800_000_000.0
SETTINGS = Settings(admin_chat_ids=(7,), alert_failure_rate=0.5, alert_failure_min=10, alert_window_s=900)


def ended(client: redis.Redis, delivered: int, failed: int) -> None:
    """Videos ending, as the workers count them in the all-time totals."""
    client.hincrby(keys.TOTALS, Outcome.DELIVERED, delivered)
    client.hincrby(keys.TOTALS, Outcome.FAILED, failed)


def test_failure_rate_counts_only_the_last_ten_minutes(redis_client):
    """8 of 10 failing trips the alert; ten minutes later, with nothing new, it has cleared; fewer
    than ALERT_FAILURE_MIN videos never trip it."""
    ended(redis_client, 50, 0)  # long before: not in any window
    assert not alerts.failure_finding(redis_client, SETTINGS, T0).bad
    ended(redis_client, 1, 8)
    assert not alerts.failure_finding(redis_client, SETTINGS, T0 + 30).bad, "9 videos: under the minimum"
    ended(redis_client, 1, 0)
    finding = alerts.failure_finding(redis_client, SETTINGS, T0 + 60)
    assert finding.bad and "8 of 10 videos failed in the last 10 min (80%" in finding.problem
    assert alerts.failure_finding(redis_client, SETTINGS, T0 + 300).bad
    assert not alerts.failure_finding(redis_client, SETTINGS, T0 + 700).bad, "the failures left the window"
    assert redis_client.ttl(keys.ALERT_OUTCOMES) > 0


def test_a_box_whose_workers_all_stop_is_gone_until_one_reports(redis_client):
    """Box b disappears when its last worker stops, and is back when one publishes again."""
    for name, box in (("w1", "a"), ("w2", "b"), ("w3", "b")):
        boxes.publish(redis_client, boxes.WorkerStatus(name, box, True, 1000, 500))
    assert not any(f.bad for f in alerts.box_findings(redis_client, T0))
    boxes.forget(redis_client, "w2")
    assert not any(f.bad for f in alerts.box_findings(redis_client, T0 + 5)), "b still has w3"
    boxes.forget(redis_client, "w3")
    [gone] = [f for f in alerts.box_findings(redis_client, T0 + 10) if f.bad]
    assert gone.condition == "box:b" and "worker box b disappeared" in gone.problem
    boxes.publish(redis_client, boxes.WorkerStatus("w4", "b", True, 1000, 500))
    assert not any(f.bad for f in alerts.box_findings(redis_client, T0 + 15))
    boxes.forget(redis_client, "w4")
    assert not any(f.bad for f in alerts.box_findings(redis_client, T0 + 15 + alerts.BOX_MEMORY_S + 1)), (
        "a box gone for a day is forgotten"
    )


def test_one_problem_message_per_window_and_a_recovery_only_for_a_told_problem(redis_client):
    """bad, bad, clear, bad, clear within one window: one problem and one recovered message; once
    the window has passed a problem is told again."""
    bad = alerts.Finding("queue_wait", True, problem="slow", recovered="fine")
    ok = alerts.Finding("queue_wait", False, problem="slow", recovered="fine")
    said = [alerts.settle(redis_client, f, 2, T0 + i) for i, f in enumerate((bad, bad, ok, bad, ok))]
    assert said == ["Problem: slow", None, "Recovered: fine", None, None]
    assert 0 < redis_client.ttl(keys.alert_sent("queue_wait")) <= 2 and redis_client.ttl(keys.ALERT_STATE) < 0
    wait_until(lambda: not redis_client.exists(keys.alert_sent("queue_wait")), 5, what="the window to pass")
    assert alerts.settle(redis_client, bad, 2, T0 + 10) == "Problem: slow"
    assert redis_client.ttl(keys.ALERT_STATE) > 0


def test_a_redis_outage_is_told_once_it_is_back_with_its_length(redis_client):
    """Two outages in one window: the first is told with its duration, the second is not."""
    sent: list[str] = []
    watch = alerts.Alerts(redis_client, SETTINGS, sent.append)
    watch.redis_lost(T0)
    watch.redis_lost(T0 + 5)  # the same outage, seen again
    watch.redis_back(T0 + 42)
    watch.run(T0 + 43)
    watch.redis_lost(T0 + 100)
    watch.redis_back(T0 + 110)
    watch.run(T0 + 111)
    assert [m for m in sent if "Redis" in m] == [
        "Recovered: Redis was unreachable for 42 s (08:00:00 UTC to 08:00:42 UTC)."
    ]
