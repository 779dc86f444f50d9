"""Back-off after repeated authentication failures, per user name or per client address.

Pure bookkeeping with an injected clock, so that its rules are tested without
waiting: ``failures`` failed checks within ``window`` seconds start a back-off
of ``delay`` seconds, doubled by each back-off that follows (up to
``max_delay``) until a whole window passes quietly after one ends. While a key
is backed off its checks are refused at once, before any KDF runs; the back-off
always ends, so nobody is locked out for good.

The table is bounded: at most ``max_keys`` keys are followed (the least
recently failed is forgotten first), so names made up by a guesser cannot grow
it without limit.
"""
from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class BackoffPolicy:
    failures: int = 5        # failures within the window that start a back-off (0: never)
    window: float = 60.0     # seconds
    delay: float = 1.0       # the first back-off, in seconds
    max_delay: float = 60.0  # the longest


@dataclass
class _Entry:
    start: float = 0.0          # when the current count began
    count: int = 0              # failures since start
    until: float = 0.0          # backed off until then
    level: int = 0              # back-offs in a row (doubles the delay)


class Backoff:
    """Failures and back-offs per key; thread-safety is the caller's (one lock)."""

    def __init__(self, policy: BackoffPolicy, clock: Callable[[], float] = time.monotonic,
                 max_keys: int = 65536) -> None:
        self.policy = policy
        self.clock = clock
        self.max_keys = max_keys
        self._entries: OrderedDict[str, _Entry] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def refused_for(self, key: str | None) -> float:
        """Seconds ``key`` stays backed off (0: its checks may run)."""
        entry = self._entries.get(key) if key is not None else None
        return max(0.0, entry.until - self.clock()) if entry is not None else 0.0

    def failed(self, key: str | None) -> float:
        """Count a failed check; returns the delay of the back-off it starts, else 0."""
        p = self.policy
        if key is None or p.failures <= 0:
            return 0.0
        now = self.clock()
        entry = self._entries.pop(key, None) or _Entry(start=now)
        self._entries[key] = entry          # most recently failed last
        while len(self._entries) > self.max_keys:
            self._entries.popitem(last=False)
        if entry.level and now >= entry.until + p.window:
            entry.level = 0                 # a quiet window after the last back-off
        if now - entry.start > p.window:
            entry.start, entry.count = now, 0
        entry.count += 1
        if entry.count < p.failures:
            return 0.0
        entry.level += 1
        delay = min(p.delay * 2 ** (entry.level - 1), p.max_delay)
        entry.until = now + delay
        entry.start, entry.count = now, 0
        return delay

    def succeeded(self, key: str | None) -> None:
        """A check of ``key`` succeeded: its failures are forgotten."""
        if key is not None:
            self._entries.pop(key, None)
