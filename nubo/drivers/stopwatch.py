"""Where a driver action's time goes, step by step, for its log line: the kvm driver's
DEPLOY and the transfer driver's scripts say which of their steps took the time
(bench/kvm_overhead.py reads them back from the core's log)."""
from __future__ import annotations

import time


class Stopwatch:
    """Laps named as they end: ``lap("createXML")`` closes the step begun at the last lap."""

    def __init__(self) -> None:
        self.laps: list[tuple[str, float]] = []
        self._mark = time.monotonic()

    def lap(self, name: str) -> float:
        now = time.monotonic()
        took, self._mark = now - self._mark, now
        self.laps.append((name, took))
        return took

    def __str__(self) -> str:
        return ", ".join(f"{name} {took:.3f} s" for name, took in self.laps)
