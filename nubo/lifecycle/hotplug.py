"""Changes to a deployed VM: disks, NICs, snapshots, capacity, configuration.

OpenNebula's DispatchManager::attach/detach/attach_nic/detach_nic/snapshot_*/resize
and VirtualMachine::updateconf. A change to a RUNNING VM goes through the
hypervisor (a HOTPLUG* state until its driver answers); the same change to a
POWEROFF VM goes through the transfer driver or is just recorded. Each change
checkpoints the history (a new record) as OpenNebula does, so that accounting
sees the VM's shape change.
"""
from __future__ import annotations

from nubo.lifecycle.decision import RETIME, Checkpoint, Stamp, VmView
from nubo.lifecycle.rules import NOTHING, A, Params, T, Table, each, tm, vmm
from nubo.lifecycle.states import LcmState as L
from nubo.lifecycle.states import VmState as S
from nubo.lifecycle.tasks import Task


def _hot(lcm: L, action: str, op) -> T:
    return T(S.ACTIVE, lcm, effects=(Checkpoint(action),), ops=(op,), resched=False)


def _nic(attach: bool):
    """attachnic/detachnic: hot on RUNNING; on POWEROFF through the driver only if it
    attaches NICs cold (``cold``), else just recorded. ``alias``: a NIC_ALIAS."""
    verb = "attach" if attach else "detach"

    def running(view: VmView, params: Params) -> T:
        action = f"{'alias' if params.get('alias') else 'nic'}-{verb}"
        return _hot(L.HOTPLUG_NIC, action, vmm("ATTACHNIC" if attach else "DETACHNIC"))

    def poweroff(view: VmView, params: Params) -> T:
        action = f"{'alias' if params.get('alias') else 'nic'}-{verb}"
        if params.get("cold"):
            return _hot(L.HOTPLUG_NIC_POWEROFF, action,
                        vmm("ATTACHNIC" if attach else "DETACHNIC"))
        if attach:
            return T(effects=(Checkpoint(action), Stamp("current", RETIME)), resched=False,
                     tasks=(Task.CLEAR_ATTACH_NIC,))
        return T(effects=(Checkpoint(action),), tasks=(Task.DELETE_ATTACH_NIC,))

    return {A(L.RUNNING): running, S.POWEROFF: poweroff}


_SNAPSHOT = {"snapshot-create": "SNAPSHOTCREATE", "snapshot-revert": "SNAPSHOTREVERT",
             "snapshot-delete": "SNAPSHOTDELETE"}


def _resize_running(view: VmView, params: Params) -> T:
    """Hot resize needs a driver that supports it; the host usage changes at once."""
    return T(lcm=L.HOTPLUG_RESIZE, effects=(Checkpoint("resize"),), ops=(vmm("RESIZE"),),
             resched=False, tasks=(Task.RESIZE_HOST_USAGE,))


def _updateconf_running(view: VmView, params: Params) -> T:
    """A running VM gets the new configuration live only if its context changed."""
    if params.get("live", True):
        return T(lcm=L.HOTPLUG, ops=(vmm("UPDATECONF"),), resched=False)
    return NOTHING


# ACTIVE states in which OpenNebula lets the configuration change (the VM is not
# being booted or moved by the hypervisor).
UPDATECONF_LCM_STATES = (
    L.PROLOG, L.EPILOG, L.SHUTDOWN, L.CLEANUP_RESUBMIT, L.SHUTDOWN_POWEROFF,
    L.CLEANUP_DELETE, L.HOTPLUG_SAVEAS_POWEROFF, L.SHUTDOWN_UNDEPLOY, L.EPILOG_UNDEPLOY,
    L.PROLOG_UNDEPLOY, L.HOTPLUG_PROLOG_POWEROFF, L.HOTPLUG_EPILOG_POWEROFF, L.BOOT_FAILURE,
    L.PROLOG_FAILURE, L.EPILOG_FAILURE, L.EPILOG_UNDEPLOY_FAILURE, L.PROLOG_MIGRATE_POWEROFF,
    L.PROLOG_MIGRATE_POWEROFF_FAILURE, L.BOOT_UNDEPLOY_FAILURE, L.PROLOG_UNDEPLOY_FAILURE,
    L.DISK_SNAPSHOT_POWEROFF, L.DISK_SNAPSHOT_REVERT_POWEROFF, L.DISK_SNAPSHOT_DELETE_POWEROFF,
)

HOTPLUG: dict[str, Table] = {
    "disk-attach": {
        A(L.RUNNING): _hot(L.HOTPLUG, "disk-attach", vmm("ATTACHDISK")),
        S.POWEROFF: _hot(L.HOTPLUG_PROLOG_POWEROFF, "disk-attach", tm("PROLOG_ATTACH")),
    },
    "disk-detach": {
        A(L.RUNNING): _hot(L.HOTPLUG, "disk-detach", vmm("DETACHDISK")),
        S.POWEROFF: _hot(L.HOTPLUG_EPILOG_POWEROFF, "disk-detach", tm("EPILOG_DETACH")),
    },
    "nic-attach": _nic(True),
    "nic-detach": _nic(False),
    **{name: {A(L.RUNNING): T(lcm=L.HOTPLUG_SNAPSHOT, ops=(vmm(op),), resched=False)}
       for name, op in _SNAPSHOT.items()},
    "resize": {
        # not on a host: only the template changes; POWEROFF also re-counts host usage
        S.POWEROFF: T(effects=(Checkpoint("resize"),), tasks=(Task.RESIZE_HOST_USAGE,)),
        **each((S.INIT, S.PENDING, S.HOLD, S.UNDEPLOYED, S.CLONING, S.CLONING_FAILURE),
               T(effects=(Checkpoint("resize"),))),
        A(L.RUNNING): _resize_running,
    },
    "updateconf": {
        **each((S.PENDING, S.HOLD, S.POWEROFF, S.UNDEPLOYED, S.CLONING, S.CLONING_FAILURE,
                L.LCM_INIT, *UPDATECONF_LCM_STATES), NOTHING),
        A(L.RUNNING): _updateconf_running,
    },
}
