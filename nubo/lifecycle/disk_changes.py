"""Disk snapshots and disk resize (OpenNebula's DispatchManager::disk_snapshot_* and
disk_resize, LifeCycleManager::disk_snapshot_success/failure, disk_resize_*).

A RUNNING VM's disk changes through the hypervisor (DISK_SNAPSHOT / DISK_RESIZE); a
POWEROFF, SUSPENDED or UNDEPLOYED VM's through the transfer driver (the SNAP_CREATE,
SNAP_REVERT, SNAP_DELETE and RESIZE scripts of nubo.lifecycle.transfer), as oned. The
disk in question is marked in the VM's body until the driver answers; the answer's task
records the change (or drops the marks).
"""
from __future__ import annotations

from nubo.lifecycle.rules import A, T, Table, each, register, tm, vmm
from nubo.lifecycle.states import LcmState as L
from nubo.lifecycle.states import VmState as S
from nubo.lifecycle.tasks import Task

_RUNNING = A(L.RUNNING)

DISK_CHANGES: dict[str, Table] = {
    "disk-snapshot-create": {
        _RUNNING: T(lcm=L.DISK_SNAPSHOT, ops=(vmm("DISKSNAPSHOTCREATE"),), resched=False),
        S.POWEROFF: T(S.ACTIVE, L.DISK_SNAPSHOT_POWEROFF, ops=(tm("SNAP_CREATE"),)),
        S.SUSPENDED: T(S.ACTIVE, L.DISK_SNAPSHOT_SUSPENDED, ops=(tm("SNAP_CREATE"),)),
    },
    "disk-snapshot-revert": {
        S.POWEROFF: T(S.ACTIVE, L.DISK_SNAPSHOT_REVERT_POWEROFF, ops=(tm("SNAP_REVERT"),)),
    },
    "disk-snapshot-delete": {
        _RUNNING: T(lcm=L.DISK_SNAPSHOT_DELETE, ops=(tm("SNAP_DELETE"),), resched=False),
        S.POWEROFF: T(S.ACTIVE, L.DISK_SNAPSHOT_DELETE_POWEROFF, ops=(tm("SNAP_DELETE"),)),
        S.SUSPENDED: T(S.ACTIVE, L.DISK_SNAPSHOT_DELETE_SUSPENDED, ops=(tm("SNAP_DELETE"),)),
    },
    "disk-resize": {
        _RUNNING: T(lcm=L.DISK_RESIZE, ops=(vmm("RESIZEDISK"),), resched=False),
        S.POWEROFF: T(S.ACTIVE, L.DISK_RESIZE_POWEROFF, ops=(tm("RESIZE"),)),
        S.UNDEPLOYED: T(S.ACTIVE, L.DISK_RESIZE_UNDEPLOYED, ops=(tm("RESIZE"),)),
    },
}

WRONG_STATE: dict[str, str] = {
    "disk-snapshot-create": "Could not create a new disk snapshot for VM {id}, wrong state "
                            "{state}.",
    "disk-snapshot-revert": "Could not revert to disk snapshot for VM {id}, wrong state "
                            "{state}.",
    "disk-snapshot-delete": "Could not delete disk snapshot from VM {id}, wrong state {state}.",
    "disk-resize": "Could not resize disk of VM {id}, wrong state {state}.",
}


def _outcome(success: bool) -> Table:
    """Each snapshot state back to where it came from, with the answer's task."""
    def back(state: S | None, lcm: L | None, done: Task) -> T:
        if success:
            return T(state, lcm, tasks=(done,))
        undone = (Task.DISK_SNAPSHOT_CANCELLED if done is Task.DISK_SNAPSHOT_CREATED
                  else Task.CLEAR_SNAPSHOT_DISK)
        return T(state, lcm, tasks=(undone,))
    return {
        **each((L.DISK_SNAPSHOT,), back(None, L.RUNNING, Task.DISK_SNAPSHOT_CREATED)),
        **each((L.DISK_SNAPSHOT_DELETE,), back(None, L.RUNNING, Task.DISK_SNAPSHOT_DELETED)),
        **each((L.DISK_SNAPSHOT_POWEROFF,), back(S.POWEROFF, None, Task.DISK_SNAPSHOT_CREATED)),
        **each((L.DISK_SNAPSHOT_SUSPENDED,),
               back(S.SUSPENDED, None, Task.DISK_SNAPSHOT_CREATED)),
        **each((L.DISK_SNAPSHOT_REVERT_POWEROFF,),
               back(S.POWEROFF, None, Task.DISK_SNAPSHOT_REVERTED)),
        **each((L.DISK_SNAPSHOT_DELETE_POWEROFF,),
               back(S.POWEROFF, None, Task.DISK_SNAPSHOT_DELETED)),
        **each((L.DISK_SNAPSHOT_DELETE_SUSPENDED,),
               back(S.SUSPENDED, None, Task.DISK_SNAPSHOT_DELETED)),
    }


def _resize_outcome(success: bool) -> Table:
    task = Task.DISK_RESIZED if success else Task.CLEAR_RESIZE_DISK
    return {
        **each((L.DISK_RESIZE,), T(lcm=L.RUNNING, tasks=(task,))),
        **each((L.DISK_RESIZE_POWEROFF,), T(S.POWEROFF, tasks=(task,))),
        **each((L.DISK_RESIZE_UNDEPLOYED,), T(S.UNDEPLOYED, tasks=(task,))),
    }


register("disk_snapshot_success", _outcome(True))
register("disk_snapshot_failure", _outcome(False))
register("disk_resize_success", _resize_outcome(True))
register("disk_resize_failure", _resize_outcome(False))

#: (driver, action) -> (success trigger, failure trigger), for outcomes.OUTCOME_TRIGGERS.
DISK_OUTCOMES: dict[tuple[str, str], tuple[str, str]] = {
    **{(driver, action): ("disk_snapshot_success", "disk_snapshot_failure")
       for driver, action in (("vmm", "DISKSNAPSHOTCREATE"), ("tm", "SNAP_CREATE"),
                              ("tm", "SNAP_REVERT"), ("tm", "SNAP_DELETE"))},
    **{(driver, action): ("disk_resize_success", "disk_resize_failure")
       for driver, action in (("vmm", "RESIZEDISK"), ("tm", "RESIZE"))},
}
