"""Rate limits and lockouts on guessable secrets (R-70)."""

from __future__ import annotations

import pytest

from idp.ratelimit import Limit, RateLimiter

LIMIT = Limit("password", count=3, window=60)


@pytest.fixture
def limiter(backend):  # type: ignore[no-untyped-def]
    return RateLimiter(backend.store)


def test_hits_within_limit_pass_and_the_next_fails(limiter):
    assert [limiter.hit(LIMIT, "p1") for _ in range(4)] == [True, True, True, False]


def test_test_does_not_count(limiter):
    for _ in range(5):
        assert limiter.test(LIMIT, "p1")
    limiter.hit(LIMIT, "p1")
    limiter.hit(LIMIT, "p1")
    assert limiter.test(LIMIT, "p1")
    limiter.hit(LIMIT, "p1")
    assert not limiter.test(LIMIT, "p1")


def test_subjects_and_limits_are_separate(limiter):
    for _ in range(3):
        limiter.hit(LIMIT, "p1")
    assert not limiter.test(LIMIT, "p1")
    assert limiter.test(LIMIT, "p2")
    assert limiter.test(Limit("sms", 3, 60), "p1")


def test_clear_resets(limiter):
    for _ in range(4):
        limiter.hit(LIMIT, "p1")
    limiter.clear(LIMIT, "p1")
    assert limiter.test(LIMIT, "p1")
    assert limiter.hit(LIMIT, "p1")


def test_resets_in_reports_the_window(limiter):
    assert limiter.resets_in(LIMIT, "p1") == 0
    limiter.hit(LIMIT, "p1")
    assert 50 < limiter.resets_in(LIMIT, "p1") <= 60
