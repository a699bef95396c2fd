"""Delivery markers that make at-least-once look exactly-once (fakeredis: pure Redis semantics)."""

from __future__ import annotations

import fakeredis
import pytest

from core import markers


@pytest.fixture
def r() -> fakeredis.FakeRedis:
    return fakeredis.FakeRedis()


def test_only_one_attempt_may_send(r):
    """The first claim wins; a second sees 'sending' until confirmed, then 'sent'."""
    assert markers.claim_send(r, "gif_1_2") is None
    assert markers.claim_send(r, "gif_1_2") == "sending"
    markers.confirm_sent(r, "gif_1_2")
    assert markers.claim_send(r, "gif_1_2") == "sent"
    assert markers.already_sent(r, "gif_1_2")


def test_a_claim_asked_again_by_its_own_attempt_is_still_its_own(r):
    """An attempt that asks again (its first answer was lost) keeps its claim; any other attempt,
    or one of an older version (no owner), sees 'sending'; once confirmed every one sees 'sent'."""
    assert markers.claim_send(r, "j", "a1") is None
    assert markers.claim_send(r, "j", "a1") is None
    assert markers.claim_send(r, "j", "b2") == "sending"
    assert markers.claim_send(r, "j") == "sending"
    assert markers.send_state(r, "j") == "sending"
    markers.confirm_sent(r, "j")
    assert markers.claim_send(r, "j", "a1") == "sent"
    assert markers.send_state(r, "j") == "sent"


def test_an_older_versions_claim_is_nobody_elses(r):
    """A claim written without an owner (a worker of the version before) holds against every owner."""
    assert markers.claim_send(r, "j") is None
    assert markers.claim_send(r, "j", "a1") == "sending"


def test_released_claim_lets_a_retry_send(r):
    """A send that surely failed frees the claim for the next attempt."""
    markers.claim_send(r, "j")
    markers.release_send(r, "j")
    assert markers.claim_send(r, "j") is None


def test_failure_notice_is_claimed_once(r):
    """Only one caller is allowed to tell the user a job failed."""
    assert markers.claim_failure_notice(r, "j") is True
    assert markers.claim_failure_notice(r, "j") is False
