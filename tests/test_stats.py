"""Delivery markers and per-user counters (fakeredis: pure Redis semantics)."""

from __future__ import annotations

import fakeredis
import pytest

from app import stats
from app.models import Outcome


@pytest.fixture
def r() -> fakeredis.FakeRedis:
    return fakeredis.FakeRedis()


def test_only_one_attempt_may_send(r):
    """The first claim wins; a second sees 'sending' until confirmed, then 'sent'."""
    assert stats.claim_send(r, "gif_1_2") is None
    assert stats.claim_send(r, "gif_1_2") == "sending"
    stats.confirm_sent(r, "gif_1_2")
    assert stats.claim_send(r, "gif_1_2") == "sent"
    assert stats.already_sent(r, "gif_1_2")


def test_released_claim_lets_a_retry_send(r):
    """A send that surely failed frees the claim for the next attempt."""
    stats.claim_send(r, "j")
    stats.release_send(r, "j")
    assert stats.claim_send(r, "j") is None


def test_failure_notice_is_claimed_once(r):
    """Only one caller is allowed to tell the user a job failed."""
    assert stats.claim_failure_notice(r, "j") is True
    assert stats.claim_failure_notice(r, "j") is False


def test_user_counters_add_up(r):
    """Videos, bytes and outcomes accumulate per user."""
    stats.record_video(r, 7, 1000)
    stats.record_video(r, 7, 500)
    stats.record_outcome(r, 7, Outcome.DELIVERED, bytes_out=300)
    stats.record_outcome(r, 7, Outcome.REFUSED)
    s = stats.user_stats(r, 7)
    assert (s.videos, s.bytes_in, s.delivered, s.refused, s.failed, s.bytes_out) == (2, 1500, 1, 1, 0, 300)
    assert s.last_seen > 0
