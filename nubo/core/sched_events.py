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

from sqlalchemy import Connection, Engine, event

_KEY = "nubo.sched_events"
_cond = threading.Condition()
_stamp = 0
_watched: set[int] = set()
_watch_lock = threading.Lock()


def stamp() -> int:
    return _stamp


def bump() -> None:
    global _stamp
    with _cond:
        _stamp += 1
        _cond.notify_all()


def _on_commit(conn: Connection) -> None:
    if conn.info.pop(_KEY, False):
        bump()


def _on_rollback(conn: Connection) -> None:
    conn.info.pop(_KEY, None)


def _watch(engine: Engine) -> bool:
    """Listen to the engine's commits; False if it was not watched before."""
    with _watch_lock:
        if id(engine) in _watched:
            return True
        _watched.add(id(engine))
        event.listen(engine, "commit", _on_commit)
        event.listen(engine, "rollback", _on_rollback)
        return False


def note(conn: Connection, when: bool = True) -> None:
    """Wake the scheduler once this transaction commits (if ``when``)."""
    if not when:
        return
    conn.info[_KEY] = True
    if not _watch(conn.engine):
        bump()  # the listener came too late for this transaction: wake now


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
