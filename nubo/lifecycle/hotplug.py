"""Changes to a deployed VM: disks, NICs, snapshots, capacity, configuration.

OpenNebula's DispatchManager::attach/detach/attach_nic/detach_nic/snapshot_*/resize
and VirtualMachine::updateconf. A change to a RUNNING VM goes through the
hypervisor (a HOTPLUG* state until its driver answers); the same change to a
POWEROFF VM goes through the transfer driver or is just recorded. Each change
checkpoints the history (a new record) as OpenNebula does, so that accounting
sees the VM's shape change.

A VM with a CONTEXT gets its context CD-ROM rebuilt before the hypervisor hears of
the change, as oned does (the CONTEXT transfer command it sends with ATTACHNIC,
DETACHNIC and UPDATECONF): the change first awaits the transfer driver's ``CONTEXT``
operation, and its success sends the hypervisor action. Two awaited steps, each
committed before it is sent, so a core killed between them asks again for the one
the VM awaits (nubo.core.lcm.reconcile): the CD-ROM is rebuilt again, or the
hypervisor action sent.
"""
from __future__ import annotations

from nubo.lifecycle.decision import RETIME, Checkpoint, OpRef, Stamp, VmView
from nubo.lifecycle.rules import NOTHING, A, Params, T, Table, each, register, tm, vmm
from nubo.lifecycle.states import LcmState as L
from nubo.lifecycle.states import VmState as S
from nubo.lifecycle.tasks import Task

#: The transfer operation that rebuilds the context CD-ROM (its script: one CONTEXT line).
CONTEXT = tm("CONTEXT")
CONTEXT_REF = OpRef("tm", "CONTEXT")


def _hot(lcm: L, action: str, op, params: Params | None = None) -> T:
    """``params`` with ``context``: the VM has a CONTEXT, rebuilt first."""
    first = CONTEXT if params is not None and params.get("context") else op
    return T(S.ACTIVE, lcm, effects=(Checkpoint(action),), ops=(first,), resched=False)


def _nic(attach: bool):
    """attachnic/detachnic: hot on RUNNING; on POWEROFF through the driver only if it
    attaches NICs cold (``cold``: its CD-ROM is not rebuilt then), else recorded once a
    ``context`` is rebuilt (HOTPLUG_NIC_POWEROFF meanwhile) or at once. ``alias``: a
    NIC_ALIAS."""
    verb = "attach" if attach else "detach"

    def running(view: VmView, params: Params) -> T:
        action = f"{'alias' if params.get('alias') else 'nic'}-{verb}"
        return _hot(L.HOTPLUG_NIC, action, vmm("ATTACHNIC" if attach else "DETACHNIC"),
                    params)

    def poweroff(view: VmView, params: Params) -> T:
        action = f"{'alias' if params.get('alias') else 'nic'}-{verb}"
        if params.get("cold"):
            return _hot(L.HOTPLUG_NIC_POWEROFF, action,
                        vmm("ATTACHNIC" if attach else "DETACHNIC"))
        if params.get("context"):  # the CD-ROM rebuilt, then as the driver's answer
            return _hot(L.HOTPLUG_NIC_POWEROFF, action, CONTEXT)
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
        first = CONTEXT if params.get("context") else vmm("UPDATECONF")
        return T(lcm=L.HOTPLUG, ops=(first,), resched=False)
    return NOTHING


def _updateconf_poweroff(view: VmView, params: Params) -> T:
    """A powered-off VM keeps its state; its CD-ROM is rebuilt for its next boot (sent
    after the commit, its answer only logged: see docs/context.md)."""
    if params.get("live", True) and params.get("context"):
        return T(ops=(tm("CONTEXT", awaited=False),))
    return NOTHING


def _nic_step(view: VmView) -> tuple[str, str]:
    """The NIC change a rebuilt CD-ROM was for: (hypervisor action, its outcome trigger
    prefix), from the action the change's checkpoint closed the record with."""
    prev = view.previous
    if prev is not None and prev.action.endswith("-detach"):
        return "DETACHNIC", "detach_nic"
    return "ATTACHNIC", "attach_nic"


def _context_done(success: bool):
    """The CD-ROM rebuilt (or not): the hypervisor action follows; a failure is the
    change's failure (its mark dropped or kept as the driver's failure would)."""
    def nic(view: VmView, params: Params) -> T:
        action, trigger = _nic_step(view)
        if not success:
            return T(then=f"{trigger}_failure")
        return T(ops=(vmm(action),))

    def nic_poweroff(view: VmView, params: Params) -> T:
        return T(then=f"{_nic_step(view)[1]}_{'success' if success else 'failure'}")

    return {
        A(L.HOTPLUG): T(ops=(vmm("UPDATECONF"),)) if success else T(then="update_conf_failure"),
        A(L.HOTPLUG_NIC): nic,
        A(L.HOTPLUG_NIC_POWEROFF): nic_poweroff,
    }


register("context_success", _context_done(True))
# The attached disk made on the host: a running VM's hypervisor attaches it next; a
# powered-off VM is done (it boots with it).
register("attach_prolog_success", {
    A(L.HOTPLUG): T(ops=(vmm("ATTACHDISK"),)),
    A(L.HOTPLUG_PROLOG_POWEROFF): T(then="attach_success"),
})
register("context_failure", _context_done(False))
#: The outcome triggers of the CONTEXT transfer operation (nubo.lifecycle.outcomes).
CONTEXT_OUTCOMES = {("tm", "CONTEXT"): ("context_success", "context_failure")}


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
        # the disk made on the host first (its file must exist when the hypervisor opens
        # it: oned's attach runs the TM's prolog inside the VMM action), then attached
        A(L.RUNNING): _hot(L.HOTPLUG, "disk-attach", tm("PROLOG_ATTACH")),
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
        S.POWEROFF: _updateconf_poweroff,
        **each((S.PENDING, S.HOLD, S.UNDEPLOYED, S.CLONING, S.CLONING_FAILURE,
                L.LCM_INIT, *UPDATECONF_LCM_STATES), NOTHING),
        A(L.RUNNING): _updateconf_running,
    },
}
