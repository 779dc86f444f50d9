"""The ping watcher the migration test measures downtime with (tests/kvm/ping_watch.py):
its arithmetic on made-up runs, and its loop against this machine's loopback."""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from ping_watch import PingWatch, echo_request, outage  # noqa: E402


def test_the_longest_gap_and_the_requests_lost_in_a_window():
    sent = {n: n * 0.1 for n in range(20)}
    replies = {n: n * 0.1 + 0.01 for n in range(20) if not 5 <= n < 12}  # 7 lost, then back
    out = outage(sent, replies, 0.0, 1.5)
    assert (out.sent, out.answered, out.lost) == (16, 9, 7)
    assert out.longest_gap == pytest.approx(1.21 - 0.41)


def test_unanswered_requests_after_the_last_reply_are_not_yet_lost():
    sent = {n: float(n) for n in range(5)}
    out = outage(sent, {0: 0.01, 1: 1.01}, 0.0, 4.0)
    assert out.lost == 0 and out.answered == 2
    assert out.longest_gap == pytest.approx(4.0 - 1.01)  # the window's end counts


def test_no_reply_at_all_is_a_gap_of_the_whole_window():
    assert outage({0: 1.0}, {}, 0.0, 3.0).longest_gap == 3.0


def test_an_echo_request_checksums_to_zero():
    from ping_watch import _checksum
    assert _checksum(echo_request(0x1234, 7)) == 0


@pytest.mark.skipif(os.geteuid() != 0, reason="a raw ICMP socket needs root")
def test_loopback_answers_every_request():
    with PingWatch("127.0.0.1", interval=0.01) as watch:
        start = time.monotonic()
        assert watch.reply_after(start, timeout=5) is not None
        time.sleep(0.3)  # a stretch of replies to measure (not a wait for a condition)
        end = watch.last_reply()
    out = watch.outage(start, end)
    assert out.answered >= 10 and out.lost == 0
    assert out.longest_gap < 0.5
