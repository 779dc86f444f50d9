"""The shared timer thread: order, cancellation, bounded memory, failing callbacks."""
from __future__ import annotations

import threading
import time

from nubo.drivers.scheduler import Scheduler


def test_runs_in_deadline_order_and_skips_cancelled():
    sched = Scheduler()
    try:
        fired: list[int] = []
        done = threading.Event()
        now = time.monotonic()
        handles = [sched.call_at(now + 0.01 * (5 - i), lambda i=i: fired.append(i))
                   for i in range(5)]
        handles[2].cancel()
        handles[2].cancel()  # idempotent
        sched.call_at(now + 0.08, done.set)
        assert done.wait(5)
        assert fired == [4, 3, 1, 0]
    finally:
        sched.close()


def test_cancelled_entries_do_not_pile_up():
    sched = Scheduler()
    try:
        far = time.monotonic() + 3600
        for _ in range(20_000):
            sched.call_at(far, lambda: None).cancel()
        assert len(sched._heap) < 1000
    finally:
        sched.close()


def test_a_failing_callback_does_not_stop_the_thread():
    sched = Scheduler()
    try:
        done = threading.Event()
        sched.call_later(0, lambda: 1 / 0)
        sched.call_later(0.01, done.set)
        assert done.wait(5)
    finally:
        sched.close()


def test_callbacks_may_schedule_more():
    sched = Scheduler()
    try:
        done = threading.Event()
        sched.call_later(0, lambda: sched.call_later(0, done.set))
        assert done.wait(5)
    finally:
        sched.close()
