"""``nubo serve`` logs what its scheduler child writes on stderr in its own log (nubo.log)."""
from __future__ import annotations

import io
import logging

from nubo.sched.supervisor import forward


def test_the_childs_records_keep_their_level_and_name_and_tracebacks_follow(caplog) -> None:
    caplog.set_level(logging.DEBUG)
    stream = io.BytesIO(
        b"2026-12-07 14:46:49,123 WARNING nubo.sched: VM 7: skipped by the scheduler: x\n"
        b"2026-12-07 14:46:49,124 ERROR   nubo.sched: scheduling cycle failed\n"
        b"Traceback (most recent call last):\n"
        b"ValueError: \xff bad\n"
        b"2026-12-07 14:46:50,001 INFO    nubo.sched: cycle: 1 pending\n")
    forward(stream)
    assert [(r.name, r.levelname, r.getMessage()) for r in caplog.records] == [
        ("nubo.sched", "WARNING", "VM 7: skipped by the scheduler: x"),
        ("nubo.sched", "ERROR", "scheduling cycle failed"),
        ("nubo.sched", "ERROR", "Traceback (most recent call last):"),
        ("nubo.sched", "ERROR", "ValueError: \ufffd bad"),
        ("nubo.sched", "INFO", "cycle: 1 pending")]
    assert stream.closed
    caplog.clear()
    forward(io.BytesIO(b"Fatal Python error: something\n"))
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        ("WARNING", "Fatal Python error: something")]
