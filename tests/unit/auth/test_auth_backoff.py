"""Back-off after repeated authentication failures (nubo.auth.backoff), with an injected clock."""
from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from nubo.auth.backoff import Backoff, BackoffPolicy
from fakeclock import Clock

POLICY = BackoffPolicy(failures=3, window=60.0, delay=1.0, max_delay=8.0)


def test_the_nth_failure_within_the_window_starts_a_back_off_that_ends():
    clock = Clock()
    b = Backoff(POLICY, clock)
    assert b.failed("alice") == 0 and b.failed("alice") == 0
    assert b.refused_for("alice") == 0
    assert b.failed("alice") == 1.0
    clock.now += 0.4
    assert b.refused_for("alice") == pytest.approx(0.6)
    assert b.refused_for("bob") == 0              # keys are apart
    clock.now += 0.6
    assert b.refused_for("alice") == 0


def test_delay_doubles_while_failures_go_on_up_to_the_maximum():
    clock = Clock()
    b = Backoff(POLICY, clock)
    delays = []
    for _ in range(6):
        for _ in range(POLICY.failures):
            delay = b.failed("alice")
        delays.append(delay)
        clock.now += delay                        # fail again as soon as it ends
    assert delays == [1, 2, 4, 8, 8, 8]


def test_a_quiet_window_after_a_back_off_resets_the_delay():
    clock = Clock()
    b = Backoff(POLICY, clock)
    for _ in range(2 * POLICY.failures):
        b.failed("alice")
        clock.now += 0.001
    clock.now += 2 + POLICY.window                # the 2 s back-off, then a quiet window
    assert [b.failed("alice") for _ in range(POLICY.failures)][-1] == 1.0


def test_failures_further_apart_than_the_window_never_back_off():
    clock = Clock()
    b = Backoff(POLICY, clock)
    for _ in range(20):
        assert b.failed("alice") == 0
        clock.now += POLICY.window / 2 + 0.1      # at most 2 in any window


def test_success_forgets_the_failures():
    b = Backoff(POLICY, Clock())
    b.failed("alice"), b.failed("alice")
    b.succeeded("alice")
    assert b.failed("alice") == 0 and b.failed("alice") == 0


def test_bounded_table_forgets_the_least_recently_failed():
    b = Backoff(POLICY, Clock(), max_keys=3)
    for name in ("a", "b", "c", "a", "d"):
        b.failed(name)
    assert len(b) == 3
    b.failed("b"), b.failed("b")                  # b starts over: no back-off yet
    assert b.refused_for("b") == 0
    for _ in range(2):
        b.failed("a")
    assert b.refused_for("a") > 0                 # a kept its first failure


def test_off_and_unknown_source():
    b = Backoff(BackoffPolicy(failures=0), Clock())
    assert all(b.failed("x") == 0 for _ in range(100)) and len(b) == 0
    b = Backoff(POLICY, Clock())
    assert all(b.failed(None) == 0 for _ in range(100)) and b.refused_for(None) == 0


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from("ab"), st.floats(0, 30)), max_size=80))
def test_never_refused_longer_than_the_maximum(events):
    """Whatever the failures, a key is never refused for more than max_delay, and is
    free max_delay after its last failure: nobody is locked out for good."""
    clock = Clock()
    b = Backoff(POLICY, clock)
    for key, gap in events:
        clock.now += gap
        b.failed(key)
        assert 0 <= b.refused_for(key) <= POLICY.max_delay
    clock.now += POLICY.max_delay
    assert b.refused_for("a") == 0 and b.refused_for("b") == 0
