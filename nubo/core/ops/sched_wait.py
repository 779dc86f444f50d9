"""The scheduler's long poll: wait until placement may have changed.

It answers as soon as placement may have changed since ``last_stamp`` -- a VM
became PENDING, a host freed capacity, a host was added, enabled or became
MONITORED (nubo.core.sched_events) -- or after ``timeout`` seconds (at most
MAX_WAIT, so a waiting scheduler never holds a front's worker for long).
"""
from __future__ import annotations

from nubo.core import sched_events
from nubo.core.ops.call import Call
from nubo.errors import AuthorizationError

MAX_WAIT = 30


def wait_for_placement(call: Call, last_stamp: int, timeout: int) -> int:
    """The new stamp (equal to ``last_stamp`` when the timeout passed). oneadmin group only."""
    if not call.session.is_admin:
        raise AuthorizationError(f"User [{call.uid}] : Not authorized to perform ADMIN SYSTEM.")
    stamp = sched_events.wait(last_stamp, min(max(timeout, 0), MAX_WAIT), call.cloud.db)
    if stamp != last_stamp:
        # The stamp moves as the change commits: taking the write lock once makes sure
        # the committing transaction has finished, so the scheduler reads its result.
        with call.cloud.db.write():
            pass
    return stamp
