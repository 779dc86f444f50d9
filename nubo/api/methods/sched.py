"""nubo.sched.wait: the scheduler's long poll (not an OpenNebula method).

It answers as soon as placement may have changed since ``last_stamp`` -- a VM
became PENDING, a host freed capacity, a host was added, enabled or became
MONITORED (nubo.core.sched_events) -- or after ``timeout`` seconds (at most 30,
so a waiting scheduler never holds an API worker for long). The scheduler falls
back to its periodic cycle against an endpoint without this method.
"""
from __future__ import annotations

from nubo.api.registry import Int, api
from nubo.core.ops.context import Call
from nubo.core import sched_events
from nubo.errors import AuthorizationError

MAX_WAIT = 30


@api("nubo.sched.wait", Int("last_stamp"), Int("timeout", MAX_WAIT))
def sched_wait(call: Call, last_stamp: int, timeout: int) -> int:
    """The new stamp (equal to ``last_stamp`` when the timeout passed). oneadmin group only."""
    if not call.session.is_admin:
        raise AuthorizationError(f"User [{call.uid}] : Not authorized to perform ADMIN SYSTEM.")
    stamp = sched_events.wait(last_stamp, min(max(timeout, 0), MAX_WAIT),
                               call.cloud.db)
    if stamp != last_stamp:
        # The stamp moves as the change commits: taking the write lock once makes sure
        # the committing transaction has finished, so the scheduler reads its result.
        with call.cloud.db.write():
            pass
    return stamp
