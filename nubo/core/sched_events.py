""""Placement may have changed": a stamp the scheduler long-polls (``nubo.sched.wait``).

The core calls ``note(conn)`` in a transaction that makes a VM PENDING, frees
capacity on a host, or adds / enables / monitors a host; once that transaction
commits, the stamp moves on and every waiter wakes. A rolled-back transaction
moves nothing. One stamp per process: a process serves one cloud.
"""
from __future__ import annotations

import threading
import time
from typing import Any

from sqlalchemy import Connection

from nubo.store.db import on_commit

_KEY = "nubo.sched_events"
_cond = threading.Condition()
_stamp = 0


def stamp() -> int:
    return _stamp


def bump() -> None:
    global _stamp
    with _cond:
        _stamp += 1
        _cond.notify_all()


def note(conn: Connection, when: bool = True) -> None:
    """Wake the scheduler once this transaction commits (if ``when``).

    Through the transaction's after-commit list (nubo.store.db), once per transaction:
    an engine commit listener would do the same but slow down every statement."""
    if when and not on_commit(conn, bump, key=_KEY):
        bump()  # not in a Database.write transaction: nothing to wait for


def note_decision(conn: Connection, decision: Any) -> None:
    """A life-cycle decision being committed: wake when it makes the VM PENDING or
    frees capacity on a host."""
    from nubo.lifecycle import Release, VmState
    note(conn, decision.state == VmState.PENDING
         or any(isinstance(c, Release) for c in decision.capacity))


def wait(last: int, timeout: float) -> int:
    """The stamp, as soon as it differs from ``last`` or ``timeout`` seconds passed."""
    deadline = time.monotonic() + max(0.0, timeout)
    with _cond:
        while _stamp == last:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            _cond.wait(left)
        return _stamp
