"""``one.vm.recover``: success, failure, retry, delete, delete-recreate.

An operator uses these when a driver failed or never answered. ``success`` and
``failure`` pretend the pending driver operation answered that way; ``retry``
sends it again; ``delete`` cleans up wherever the VM is and finishes it (DONE);
``delete-recreate`` cleans up and sends it back to PENDING. OpenNebula's
LifeCycleManager::recover/retry/clean_up_vm and DispatchManager::delete_vm /
delete_recreate are the reference.
"""
from __future__ import annotations

from nubo.lifecycle.decision import (
    EETIME, ETIME, PETIME, RETIME, SetAction, Stamp, VmView,
)
from nubo.lifecycle.hotplug import CONTEXT_REF
from nubo.lifecycle.outcomes import DONE, OUTCOME_TRIGGERS
from nubo.lifecycle.rules import (
    NOTHING, A, FreeAll, Op, Params, T, Table, each, register, tm, vmm,
)
from nubo.lifecycle.states import LcmState as L
from nubo.lifecycle.states import VmState as S
from nubo.lifecycle.tasks import Task

_VMM = (vmm("DRIVER_CANCEL", awaited=False), vmm("CLEANUP"))
_TM = (tm("DRIVER_CANCEL", awaited=False), tm("EPILOG_DELETE"))
_RUN_END = (Stamp("current", RETIME),)

# clean_up_vm: what stops a VM wherever it is, by LCM state: (time to stamp, ops, tasks).
# The last awaited op is the one a delete-recreate waits for before PENDING.
CLEANUP: dict[L, tuple[tuple[Stamp, ...], tuple[Op, ...], tuple[str, ...]]] = {
    **{lcm: ((Stamp("current", PETIME),), _TM, ())
       for lcm in (L.PROLOG, L.PROLOG_RESUME, L.PROLOG_RESUME_FAILURE, L.PROLOG_UNDEPLOY,
                   L.PROLOG_UNDEPLOY_FAILURE, L.PROLOG_FAILURE)},
    **{lcm: (_RUN_END, _VMM, ())
       for lcm in (L.BOOT, L.BOOT_UNKNOWN, L.BOOT_POWEROFF, L.BOOT_SUSPENDED, L.BOOT_STOPPED,
                   L.BOOT_UNDEPLOY, L.BOOT_MIGRATE, L.BOOT_FAILURE, L.BOOT_MIGRATE_FAILURE,
                   L.BOOT_UNDEPLOY_FAILURE, L.BOOT_STOPPED_FAILURE, L.RUNNING, L.UNKNOWN,
                   L.SHUTDOWN, L.SHUTDOWN_POWEROFF, L.SHUTDOWN_UNDEPLOY, L.HOTPLUG_SNAPSHOT,
                   L.SAVE_STOP, L.SAVE_SUSPEND)},
    L.BACKUP: (_RUN_END, (vmm("BACKUPCANCEL", awaited=False), vmm("CLEANUP")), ()),
    L.HOTPLUG: (_RUN_END, _VMM, (Task.CLEAR_ATTACH_DISK,)),
    L.HOTPLUG_NIC: (_RUN_END, _VMM, (Task.CLEAR_ATTACH_NIC,)),
    L.HOTPLUG_NIC_POWEROFF: (_RUN_END, _VMM, (Task.CLEAR_ATTACH_NIC,)),
    L.HOTPLUG_SAVEAS: (_RUN_END, _VMM, (Task.CLEAR_SAVEAS_DISK,)),
    L.HOTPLUG_SAVEAS_POWEROFF: (_RUN_END, _TM, (Task.CLEAR_SAVEAS_DISK,)),
    L.HOTPLUG_SAVEAS_SUSPENDED: (_RUN_END, _TM, (Task.CLEAR_SAVEAS_DISK,)),
    L.HOTPLUG_SAVEAS_UNDEPLOYED: ((), (), (Task.CLEAR_SAVEAS_DISK,)),
    L.HOTPLUG_SAVEAS_STOPPED: ((), (), (Task.CLEAR_SAVEAS_DISK,)),
    L.HOTPLUG_PROLOG_POWEROFF: ((), _TM, (Task.CLEAR_ATTACH_DISK,)),
    L.HOTPLUG_EPILOG_POWEROFF: ((), _TM, (Task.CLEAR_ATTACH_DISK,)),
    L.HOTPLUG_RESIZE: (_RUN_END, _VMM, (Task.RESET_RESIZE,)),
    **{lcm: ((), _TM, (Task.CLEAR_SNAPSHOT_DISK,))
       for lcm in (L.DISK_SNAPSHOT_POWEROFF, L.DISK_SNAPSHOT_REVERT_POWEROFF,
                   L.DISK_SNAPSHOT_DELETE_POWEROFF, L.DISK_SNAPSHOT_SUSPENDED,
                   L.DISK_SNAPSHOT_DELETE_SUSPENDED, L.DISK_SNAPSHOT_DELETE)},
    L.BACKUP_POWEROFF: ((), (vmm("DRIVER_CANCEL", awaited=False), tm("EPILOG_DELETE")), ()),
    L.DISK_SNAPSHOT: (_RUN_END, _VMM, (Task.CLEAR_SNAPSHOT_DISK,)),
    L.DISK_RESIZE: (_RUN_END, _VMM, (Task.CLEAR_RESIZE_DISK,)),
    L.DISK_RESIZE_POWEROFF: ((), _TM, (Task.CLEAR_RESIZE_DISK,)),
    L.DISK_RESIZE_UNDEPLOYED: ((), _TM, (Task.CLEAR_RESIZE_DISK,)),
    L.RESTORE: ((), _TM, ()),
    # mid-migration: both hosts are cleaned, both records closed
    L.MIGRATE: ((*_RUN_END, Stamp("previous", ETIME), Stamp("previous", RETIME)),
                (vmm("DRIVER_CANCEL", awaited=False), vmm("CLEANUP"),
                 vmm("CLEANUP", on="previous", awaited=False)), ()),
    L.SAVE_MIGRATE: ((*_RUN_END, Stamp("previous", ETIME), Stamp("previous", RETIME)),
                     (vmm("DRIVER_CANCEL", awaited=False), vmm("CLEANUP", on="previous")), ()),
    **{lcm: ((Stamp("current", PETIME),),
             (tm("DRIVER_CANCEL", awaited=False), tm("EPILOG_DELETE_BOTH")), ())
       for lcm in (L.PROLOG_MIGRATE, L.PROLOG_MIGRATE_FAILURE, L.PROLOG_MIGRATE_POWEROFF,
                   L.PROLOG_MIGRATE_POWEROFF_FAILURE, L.PROLOG_MIGRATE_SUSPEND,
                   L.PROLOG_MIGRATE_SUSPEND_FAILURE, L.PROLOG_MIGRATE_UNKNOWN,
                   L.PROLOG_MIGRATE_UNKNOWN_FAILURE)},
    **{lcm: ((Stamp("current", EETIME),), _TM, ())
       for lcm in (L.EPILOG_STOP, L.EPILOG_UNDEPLOY, L.EPILOG, L.EPILOG_FAILURE,
                   L.EPILOG_STOP_FAILURE, L.EPILOG_UNDEPLOY_FAILURE)},
    L.LCM_INIT: ((), (), ()),
}
# a POWEROFF or SUSPENDED VM only needs its host cleaned
_PARKED = ((Stamp("current", RETIME),), (vmm("CLEANUP"),), ())


def clean_up(view: VmView, dispose: bool) -> T:
    """Stop the VM wherever it is and free its hosts (OpenNebula's clean_up_vm).

    ``dispose``: for delete, the VM goes on to DONE and nothing waits for the
    clean-up; for delete-recreate it waits in CLEANUP_RESUBMIT for the main
    clean-up operation, or goes straight to PENDING if there is none.
    """
    stamps, ops, tasks = (_PARKED if view.state in (S.POWEROFF, S.SUSPENDED)
                          else CLEANUP[view.lcm_state])
    if dispose:
        ops = tuple(Op(o.driver, o.action, o.on, False) for o in ops)
    action = "delete" if dispose else "delete-recreate"
    effects = (SetAction("current", action), *stamps, Stamp("current", ETIME, "close"),
               FreeAll())
    lcm = L.CLEANUP_DELETE if dispose else L.CLEANUP_RESUBMIT
    then = "done" if dispose else (None if any(o.awaited for o in ops) else "resubmit")
    return T(S.ACTIVE, lcm, effects=effects, ops=ops, resched=False,
             tasks=(*tasks, Task.DROP_SNAPSHOTS, Task.RELEASE_VNC_PORT), then=then)


# LifeCycleManager::trigger_delete: an ACTIVE VM is cleaned up and finished.
register("delete", {
    A(L.CLEANUP_RESUBMIT): T(lcm=L.CLEANUP_DELETE, then="done"),
    A(L.CLEANUP_DELETE): T(then="done"),
    S.ACTIVE: lambda view, params: clean_up(view, True),
})
# LifeCycleManager::trigger_delete_recreate (also for POWEROFF and SUSPENDED VMs).
register("delete_recreate", {
    A(L.CLEANUP_DELETE): NOTHING,  # already going away (OpenNebula logs it, succeeds)
    A(L.CLEANUP_RESUBMIT): T(then="resubmit"),
    **each((S.ACTIVE, S.POWEROFF, S.SUSPENDED), lambda view, params: clean_up(view, False)),
})

# recover --delete (DispatchManager::delete_vm): finish the VM from any state.
RECOVER_DELETE: Table = {
    **each((S.SUSPENDED, S.POWEROFF), T(
        effects=(FreeAll(),), ops=(tm("EPILOG_DELETE", awaited=False),), then="dm_done")),
    **each((S.STOPPED, S.UNDEPLOYED), T(
        ops=(tm("EPILOG_DELETE_LOCAL", awaited=False),), then="dm_done")),
    **each((S.INIT, S.PENDING, S.HOLD, S.CLONING, S.CLONING_FAILURE), DONE),
    S.ACTIVE: T(then="delete"),
    S.DONE: NOTHING,
}
register("dm_done", each((S.SUSPENDED, S.POWEROFF, S.STOPPED, S.UNDEPLOYED), DONE))

# recover --delete-recreate (DispatchManager::delete_recreate): back to PENDING, same id.
_TO_PENDING = T(S.PENDING, effects=(SetAction("current", "delete-recreate"),))
RECOVER_RECREATE: Table = {
    **each((S.INIT, S.PENDING, S.CLONING, S.CLONING_FAILURE), NOTHING),
    **each((S.HOLD, S.STOPPED, S.UNDEPLOYED), _TO_PENDING),
    **each((S.POWEROFF, S.SUSPENDED, S.ACTIVE), T(then="delete_recreate")),
}

# recover --success/--failure in a state that awaits nothing: the answer the failed
# operation should have had (LifeCycleManager::recover).
_RECOVER_BY_STATE: dict[L, tuple[str, str]] = {
    **{lcm: ("prolog_success", "prolog_failure")
       for lcm in L if lcm.name.startswith("PROLOG")},
    **{lcm: ("epilog_success", "epilog_failure") for lcm in L if lcm.name.startswith("EPILOG")},
    **{lcm: ("deploy_success", "deploy_failure")
       for lcm in L if lcm.name.startswith("BOOT") or lcm is L.MIGRATE},
    **{lcm: ("shutdown_success", "shutdown_failure")
       for lcm in L if lcm.name.startswith("SHUTDOWN")},
    **{lcm: ("save_success", "save_failure") for lcm in L if lcm.name.startswith("SAVE")},
    L.HOTPLUG: ("attach_success", "attach_failure"),
    L.HOTPLUG_PROLOG_POWEROFF: ("attach_success", "attach_failure"),
    L.HOTPLUG_EPILOG_POWEROFF: ("detach_success", "detach_failure"),
    L.HOTPLUG_NIC: ("attach_nic_success", "attach_nic_failure"),
    L.HOTPLUG_NIC_POWEROFF: ("attach_nic_success", "attach_nic_failure"),
    L.HOTPLUG_RESIZE: ("resize_success", "resize_failure"),
}


def _recover(success: bool):
    def rule(view: VmView, params: Params) -> T:
        # answer exactly what is pending; a CD-ROM rebuilt before a hotplug action is
        # that action's first step, answered as the action
        if view.awaiting is not None and view.awaiting != CONTEXT_REF:
            pair = OUTCOME_TRIGGERS.get((view.awaiting.driver, view.awaiting.action))
        else:
            pair = _RECOVER_BY_STATE.get(view.lcm_state)
        if pair is None:
            return NOTHING
        deploy_id = None
        if (success and pair[0] == "deploy_success" and not view.deploy_id):
            deploy_id = f"one-{view.id}"  # as OpenNebula: works for KVM, Xen, vCenter
        return T(then=pair[0] if success else pair[1], deploy_id=deploy_id)

    return {
        # back to CLONING, and the images say where it goes (the core's recheck_images
        # feeds images-ready/images-failed); --failure leaves it in CLONING_FAILURE
        S.CLONING_FAILURE: T(S.CLONING, tasks=(Task.RECHECK_IMAGES,)) if success else NOTHING,
        **each((L.LCM_INIT, L.RUNNING), NOTHING),
        A(L.CLEANUP_DELETE): T(then="done"),
        A(L.CLEANUP_RESUBMIT): T(then="resubmit"),
        A(L.UNKNOWN): T(lcm=L.RUNNING),
        S.ACTIVE: rule,
    }


RECOVER: dict[str, Table] = {"recover-success": _recover(True),
                             "recover-failure": _recover(False)}

# recover --retry (LifeCycleManager::retry): send the failed operation again.
_RETRY_FAILED = {
    L.BOOT_FAILURE: (L.BOOT, vmm("DEPLOY")),
    L.BOOT_MIGRATE_FAILURE: (L.BOOT_MIGRATE, vmm("RESTORE")),
    L.BOOT_UNDEPLOY_FAILURE: (L.BOOT_UNDEPLOY, vmm("DEPLOY")),
    L.BOOT_STOPPED_FAILURE: (L.BOOT_STOPPED, vmm("RESTORE")),
    L.PROLOG_MIGRATE_FAILURE: (L.PROLOG_MIGRATE, tm("PROLOG_MIGRATE")),
    L.PROLOG_MIGRATE_POWEROFF_FAILURE: (L.PROLOG_MIGRATE_POWEROFF, tm("PROLOG_MIGRATE")),
    L.PROLOG_MIGRATE_SUSPEND_FAILURE: (L.PROLOG_MIGRATE_SUSPEND, tm("PROLOG_MIGRATE")),
    L.PROLOG_MIGRATE_UNKNOWN_FAILURE: (L.PROLOG_MIGRATE_UNKNOWN, tm("PROLOG_MIGRATE")),
    L.PROLOG_RESUME_FAILURE: (L.PROLOG_RESUME, tm("PROLOG_RESUME")),
    L.PROLOG_UNDEPLOY_FAILURE: (L.PROLOG_UNDEPLOY, tm("PROLOG_RESUME")),
    L.PROLOG_FAILURE: (L.PROLOG, tm("PROLOG")),
    L.EPILOG_FAILURE: (L.EPILOG, tm("EPILOG")),
    L.EPILOG_STOP_FAILURE: (L.EPILOG_STOP, tm("EPILOG_STOP")),
    L.EPILOG_UNDEPLOY_FAILURE: (L.EPILOG_UNDEPLOY, tm("EPILOG_STOP")),
}
_RETRY_PENDING = {
    **{lcm: vmm("RESTORE") for lcm in (L.BOOT_MIGRATE, L.BOOT_SUSPENDED, L.BOOT_STOPPED)},
    L.BOOT_UNDEPLOY: vmm("RESTORE"),  # as OpenNebula's retry (its first try was DEPLOY)
    **{lcm: vmm("DEPLOY") for lcm in (L.BOOT, L.BOOT_POWEROFF, L.BOOT_UNKNOWN)},
    **{lcm: vmm("SAVE") for lcm in (L.SAVE_STOP, L.SAVE_SUSPEND)},
    L.SAVE_MIGRATE: vmm("SAVE", on="previous"),
    L.MIGRATE: vmm("MIGRATE", on="previous"),
    L.PROLOG: tm("PROLOG"),
    **{lcm: tm("PROLOG_MIGRATE") for lcm in (L.PROLOG_MIGRATE, L.PROLOG_MIGRATE_POWEROFF,
                                             L.PROLOG_MIGRATE_SUSPEND, L.PROLOG_MIGRATE_UNKNOWN)},
    **{lcm: tm("PROLOG_RESUME") for lcm in (L.PROLOG_RESUME, L.PROLOG_UNDEPLOY)},
    L.EPILOG: tm("EPILOG"),
    **{lcm: tm("EPILOG_STOP") for lcm in (L.EPILOG_STOP, L.EPILOG_UNDEPLOY)},
}


def _retry_shutdown(view: VmView, params: Params) -> T:
    """OpenNebula retries a terminate with SHUTDOWN and anything else with CANCEL."""
    soft = view.current is not None and view.current.action == "terminate"
    return T(ops=(vmm("SHUTDOWN" if soft else "CANCEL"),))


RETRY: Table = {
    **{A(lcm): T(lcm=dst, ops=(op,)) for lcm, (dst, op) in _RETRY_FAILED.items()},
    **{A(lcm): T(ops=(op,)) for lcm, op in _RETRY_PENDING.items()},
    **each((L.SHUTDOWN, L.SHUTDOWN_POWEROFF, L.SHUTDOWN_UNDEPLOY), _retry_shutdown),
    S.ACTIVE: NOTHING,  # hotplug, snapshot, clean-up states: nothing to retry
}
