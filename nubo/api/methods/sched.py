"""nubo.sched.wait: the scheduler's long poll (not an OpenNebula method).

The scheduler falls back to its periodic cycle against an endpoint without this
method; the waiting is nubo.core.ops.sched_wait's.
"""
from __future__ import annotations

from nubo.api.method_table import Int, api
from nubo.core.ops.call import Call
from nubo.core.ops.sched_wait import MAX_WAIT, wait_for_placement


@api("nubo.sched.wait", Int("last_stamp"), Int("timeout", MAX_WAIT))
def sched_wait(call: Call, last_stamp: int, timeout: int) -> int:
    return wait_for_placement(call, last_stamp, timeout)
