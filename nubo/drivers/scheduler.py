"""One timer thread for every deadline of the driver manager.

Every submitted action has a timeout, so thousands of timers per second are
armed and almost all are cancelled (the action answers first). A
``threading.Timer`` per action would be a thread per action; instead one thread
sleeps on a heap of deadlines. Cancelling only marks the entry (O(1)); the heap
is rebuilt from the live entries when dead ones outnumber them, which keeps the
memory bounded by the number of pending actions, not by the timeout length.
"""
from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable

log = logging.getLogger("nubo.drivers")


class TimerHandle:
    """A scheduled call; ``cancel()`` is idempotent and cheap."""

    __slots__ = ("when", "fn", "_sched")

    def __init__(self, when: float, fn: Callable[[], None], sched: Scheduler) -> None:
        self.when = when
        self.fn: Callable[[], None] | None = fn
        self._sched = sched

    def cancel(self) -> None:
        self._sched._cancel(self)


class Scheduler:
    """Runs callables at monotonic deadlines on one daemon thread.

    Callbacks run without the scheduler's lock held, so they may schedule or
    cancel other calls; they must be quick (they delay every later deadline).
    """

    def __init__(self, name: str = "nubo-driver-timer") -> None:
        self._heap: list[tuple[float, int, TimerHandle]] = []
        self._seq = itertools.count()
        self._live = 0
        self._cond = threading.Condition(threading.Lock())
        self._closed = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def call_at(self, when: float, fn: Callable[[], None]) -> TimerHandle:
        """Run ``fn()`` at ``time.monotonic() >= when``."""
        handle = TimerHandle(when, fn, self)
        with self._cond:
            heap = self._heap
            wake = not heap or when < heap[0][0]
            heapq.heappush(heap, (when, next(self._seq), handle))
            self._live += 1
            if len(heap) > 2 * self._live + 256:
                self._compact()
            if wake:
                self._cond.notify()
        return handle

    def call_later(self, delay: float, fn: Callable[[], None]) -> TimerHandle:
        return self.call_at(time.monotonic() + delay, fn)

    def _cancel(self, handle: TimerHandle) -> None:
        with self._cond:
            if handle.fn is not None:
                handle.fn = None
                self._live -= 1

    def _compact(self) -> None:
        self._heap = [e for e in self._heap if e[2].fn is not None]
        heapq.heapify(self._heap)

    def _run(self) -> None:
        cond = self._cond
        with cond:
            while not self._closed:
                heap = self._heap
                while heap and heap[0][2].fn is None:
                    heapq.heappop(heap)
                if not heap:
                    cond.wait()
                    continue
                delay = heap[0][0] - time.monotonic()
                if delay > 0:
                    cond.wait(delay)
                    continue
                handle = heapq.heappop(heap)[2]
                fn, handle.fn = handle.fn, None
                self._live -= 1
                cond.release()
                try:
                    if fn is not None:
                        fn()
                except Exception:  # a bug in one callback must not stop every timeout
                    log.exception("driver timer callback failed")
                finally:
                    cond.acquire()

    def close(self) -> None:
        """Stop the thread; pending calls are dropped."""
        with self._cond:
            self._closed = True
            self._cond.notify()
        if threading.current_thread() is not self._thread:
            self._thread.join(5)
