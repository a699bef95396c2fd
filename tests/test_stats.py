"""Usage statistics: what the bot and workers record is what the admin panel reads (fakeredis)."""

from __future__ import annotations

import fakeredis
import pytest

from core import hourly, stats
from core.models import Outcome

NOW = 1_800_000_000.0  # a fixed unix time, so hour buckets are deterministic


@pytest.fixture
def r() -> fakeredis.FakeRedis:
    return fakeredis.FakeRedis()


def alice() -> stats.Profile:
    return stats.Profile(7, "alice", "Alice", "<script>", "en")


def test_user_counters_and_profile_add_up(r):
    """Videos, bytes, outcomes and the profile accumulate per user."""
    stats.record_video(r, alice(), "gif_7_1", 1000, now=NOW)
    stats.record_video(r, alice(), "gif_7_2", 500, now=NOW + 1)
    stats.record_outcome(r, 7, "gif_7_1", Outcome.DELIVERED, seconds=2.0, size_out=300, now=NOW + 5)
    stats.record_outcome(r, 7, "gif_7_2", Outcome.FAILED, reason="error_failed", now=NOW + 6)
    stats.record_refused(r, alice(), "too_big", now=NOW + 7)
    s = stats.user_stats(r, 7)
    assert (s.videos, s.bytes_in, s.delivered, s.failed, s.refused, s.bytes_out) == (3, 1500, 1, 1, 1, 300)
    assert (s.username, s.name, s.median_seconds, s.last_seen) == ("alice", "Alice <script>", 2.0, NOW + 7)


def test_recent_jobs_show_status_times_sizes_and_reason(r):
    """A user's job records are newest first with outcome, seconds, latency, sizes and reason."""
    stats.record_video(r, alice(), "gif_7_1", 1000, now=NOW)
    stats.record_video(r, alice(), "gif_7_2", 2000, now=NOW + 10)
    stats.record_outcome(r, 7, "gif_7_1", Outcome.DELIVERED, seconds=1.5, size_out=700, now=NOW + 4)
    stats.record_outcome(r, 7, "gif_7_2", Outcome.REFUSED, reason="error_broken", now=NOW + 12)
    newest, oldest = stats.recent_jobs(r, 7)
    assert (newest.job_id, newest.status, newest.reason, newest.size_in) == (
        "gif_7_2",
        "refused",
        "error_broken",
        2000,
    )
    assert (oldest.status, oldest.seconds, oldest.latency, oldest.size_out) == ("delivered", 1.5, 4.0, 700)


def test_hourly_counters_and_latency_percentiles(r):
    """Each UTC hour counts videos and outcomes; delivered latencies give p50 and p95."""
    for i in range(20):
        stats.record_video(r, alice(), f"gif_7_{i}", 10, now=NOW)
        stats.record_outcome(r, 7, f"gif_7_{i}", Outcome.DELIVERED, now=NOW + i + 1)
    hours = hourly.hourly(r, hours=24, now=NOW + 30)
    assert len(hours) == 24
    last = hours[-1]
    assert (last.videos, last.delivered, last.failed) == (20, 20, 0)
    assert (last.p50, last.p95) == (10.0, 19.0)


@pytest.mark.parametrize(
    ("values", "pct", "expected"), [([], 50, None), ([3.0], 95, 3.0), ([1.0, 2.0, 3.0, 4.0], 50, 2.0)]
)
def test_percentile_nearest_rank(values, pct, expected):
    """Nearest-rank percentiles, None for no samples."""
    assert hourly.percentile(values, pct) == expected


def test_users_are_listed_newest_first(r):
    """The users list is ordered by last seen."""
    stats.record_video(r, stats.Profile(1, "a"), "gif_1_1", 1, now=NOW)
    stats.record_video(r, stats.Profile(2, "b"), "gif_2_1", 1, now=NOW + 1)
    assert [u.user_id for u in stats.list_users(r)] == [2, 1]
