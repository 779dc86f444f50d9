"""What driver outcomes do: OpenNebula's LifeCycleManager states and the dispatch
manager's *_success triggers (src/lcm/LifeCycleStates.cc, src/dm/DispatchManagerStates.cc).

Each trigger is a table from the VM's state to a transition; the machine runs the
trigger an outcome maps to (:data:`OUTCOME_TRIGGERS`). A trigger with no rule for
the VM's state is ignored, as OpenNebula logs "VM in a wrong state" and moves on.
"""
from __future__ import annotations

from nubo.lifecycle.decision import (
    EETIME, ESTIME, ETIME, PETIME, PSTIME, RETIME, RSTIME, STIME, CopyRecord, SetAction,
    Stamp, VmView,
)
from nubo.lifecycle.rules import (
    NOTHING, A, Free, FreeAll, Hold, Params, T, each, register, tm, vmm,
)
from nubo.lifecycle.states import LcmState as L
from nubo.lifecycle.states import VmState as S
from nubo.lifecycle.tasks import Task
from nubo.lifecycle.disk_changes import DISK_OUTCOMES
from nubo.lifecycle.hotplug import CONTEXT_OUTCOMES

# ------------------------------------------------------------ dispatch manager triggers

register("poweroff_success", each(
    (L.SHUTDOWN_POWEROFF, L.HOTPLUG_PROLOG_POWEROFF, L.HOTPLUG_EPILOG_POWEROFF,
     L.PROLOG_MIGRATE_POWEROFF, L.PROLOG_MIGRATE_POWEROFF_FAILURE, L.DISK_SNAPSHOT_POWEROFF,
     L.DISK_SNAPSHOT_REVERT_POWEROFF, L.DISK_SNAPSHOT_DELETE_POWEROFF, L.DISK_RESIZE_POWEROFF,
     L.HOTPLUG_NIC_POWEROFF),
    T(S.POWEROFF, effects=(Stamp("current", RETIME),))))
register("suspend_success", each(
    (L.SAVE_SUSPEND, L.PROLOG_MIGRATE_SUSPEND, L.PROLOG_MIGRATE_SUSPEND_FAILURE,
     L.DISK_SNAPSHOT_SUSPENDED, L.DISK_SNAPSHOT_DELETE_SUSPENDED),
    T(S.SUSPENDED, effects=(Stamp("current", RETIME),))))
# STOPPED and UNDEPLOYED remember why in ACTION, which a later deploy reads to resume.
register("stop_success", each(
    (L.EPILOG_STOP, L.PROLOG_RESUME),
    T(S.STOPPED, effects=(SetAction("current", "stop", only_if_none=True),))))
register("undeploy_success", each(
    (L.EPILOG_UNDEPLOY, L.DISK_RESIZE_UNDEPLOYED, L.PROLOG_UNDEPLOY),
    T(S.UNDEPLOYED, effects=(SetAction("current", "undeploy", only_if_none=True),))))
# free_vm_resources: leases, images, VM group, VNC port, quotas, scheduled actions.
DONE = T(S.DONE, effects=(Stamp("current", RETIME, "close"), Stamp("current", ETIME, "close"),
                          FreeAll()),
         tasks=(Task.RELEASE_RESOURCES,))
register("done", each((L.EPILOG, L.CLEANUP_DELETE), DONE))
register("resubmit", each((L.CLEANUP_RESUBMIT,), T(S.PENDING, deploy_id="",
                                                   tasks=(Task.RESET_DEPLOY_ID,))))

# ----------------------------------------------------------------- life-cycle manager

_BOOTS = (L.BOOT, L.BOOT_POWEROFF, L.BOOT_UNKNOWN, L.BOOT_SUSPENDED, L.BOOT_STOPPED,
          L.BOOT_UNDEPLOY, L.BOOT_MIGRATE, L.BOOT_MIGRATE_FAILURE, L.BOOT_STOPPED_FAILURE,
          L.BOOT_UNDEPLOY_FAILURE, L.BOOT_FAILURE)

register("deploy_success", {
    # live migration done: the source record closes, the source host is freed
    A(L.MIGRATE): T(lcm=L.RUNNING, effects=(
        Stamp("current", RSTIME), Stamp("previous", ETIME), Stamp("previous", RETIME),
        Free("previous", keep_if_shared=True)),
        tasks=(Task.DROP_SNAPSHOTS, Task.RELEASE_PREVIOUS_VNC_PORT)),
    **each(_BOOTS, T(lcm=L.RUNNING, effects=(
        SetAction("current", "none"), Stamp("current", ETIME, "zero"),
        Stamp("current", RETIME, "zero")))),
    A(L.RUNNING): NOTHING,
})

_RETIME = Stamp("current", RETIME)
register("deploy_failure", {
    # live migration failed: the VM keeps running on the source, in a copy of its record
    A(L.MIGRATE): T(lcm=L.RUNNING, effects=(
        Stamp("current", ETIME), Stamp("previous", ETIME), Stamp("previous", RETIME),
        Free("current", keep_if_shared=True), CopyRecord("previous"), Stamp("current", STIME),
        Stamp("current", RSTIME)), tasks=(Task.ROLLBACK_VNC_PORT,)),
    A(L.BOOT): T(lcm=L.BOOT_FAILURE, effects=(_RETIME,)),
    A(L.BOOT_MIGRATE): T(lcm=L.BOOT_MIGRATE_FAILURE, effects=(_RETIME,)),
    A(L.BOOT_UNKNOWN): T(lcm=L.UNKNOWN, effects=(_RETIME,)),
    A(L.BOOT_POWEROFF): T(S.POWEROFF, effects=(_RETIME,)),
    A(L.BOOT_SUSPENDED): T(S.SUSPENDED, effects=(_RETIME,)),
    A(L.BOOT_STOPPED): T(lcm=L.BOOT_STOPPED_FAILURE, effects=(Stamp("current", ETIME), _RETIME)),
    A(L.BOOT_UNDEPLOY): T(lcm=L.BOOT_UNDEPLOY_FAILURE,
                          effects=(Stamp("current", ETIME), _RETIME)),
    **each((L.BOOT_FAILURE, L.BOOT_MIGRATE_FAILURE, L.BOOT_UNDEPLOY_FAILURE,
            L.BOOT_STOPPED_FAILURE), T(effects=(_RETIME,))),
})

# Leaving the source host of a cold migration (the VM is saved or shut down there).
START_PROLOG_MIGRATE = T(lcm=L.PROLOG_MIGRATE, effects=(
    Stamp("previous", ETIME), Stamp("previous", RETIME), Stamp("current", PSTIME),
    Free("previous", keep_if_shared=True)),
    ops=(tm("PROLOG_MIGRATE"),), tasks=(Task.DROP_SNAPSHOTS, Task.RELEASE_PREVIOUS_VNC_PORT))
# The source could not save or stop the VM: it keeps running there, in a copy of its record.
REVERT_MIGRATE = T(lcm=L.RUNNING, effects=(
    Stamp("current", ETIME), Free("current", keep_if_shared=True), Stamp("previous", ETIME),
    Stamp("previous", RETIME), CopyRecord("previous"), Stamp("current", STIME),
    Stamp("current", RSTIME)), tasks=(Task.ROLLBACK_VNC_PORT,))
_BACK_RUNNING = T(lcm=L.RUNNING, effects=(SetAction("current", "none"),))

register("shutdown_success", {
    A(L.SHUTDOWN): T(lcm=L.EPILOG, effects=(Stamp("current", ESTIME), _RETIME),
                     ops=(tm("EPILOG"),), tasks=(Task.DROP_SNAPSHOTS,)),
    A(L.SHUTDOWN_POWEROFF): T(tasks=(Task.DROP_SNAPSHOTS,), then="poweroff_success"),
    A(L.SHUTDOWN_UNDEPLOY): T(lcm=L.EPILOG_UNDEPLOY, effects=(Stamp("current", ESTIME), _RETIME),
                              ops=(tm("EPILOG_STOP"),), tasks=(Task.DROP_SNAPSHOTS,)),
    A(L.SAVE_MIGRATE): START_PROLOG_MIGRATE,  # poweroff-migrate: shut down on the source
})
register("shutdown_failure", {
    **each((L.SHUTDOWN, L.SHUTDOWN_POWEROFF, L.SHUTDOWN_UNDEPLOY), _BACK_RUNNING),
    A(L.SAVE_MIGRATE): REVERT_MIGRATE,
})
register("save_success", {
    A(L.SAVE_MIGRATE): START_PROLOG_MIGRATE,
    A(L.SAVE_SUSPEND): T(tasks=(Task.DROP_SNAPSHOTS,), then="suspend_success"),
    A(L.SAVE_STOP): T(lcm=L.EPILOG_STOP, effects=(Stamp("current", ESTIME), _RETIME),
                      ops=(tm("EPILOG_STOP"),), tasks=(Task.DROP_SNAPSHOTS,)),
})
register("save_failure", {
    A(L.SAVE_MIGRATE): REVERT_MIGRATE,
    **each((L.SAVE_SUSPEND, L.SAVE_STOP), _BACK_RUNNING),
})

_PROLOG_DONE = (Stamp("current", PETIME), Stamp("current", RSTIME))


def _prolog_migrate_done(view: VmView, params: Params) -> T:
    """A cold migration's files are on the target: restore the saved VM there, or
    boot it afresh if it was shut down for the move (poweroff-migrate)."""
    cur = view.current
    if cur is not None and cur.action in ("poweroff-migrate", "poweroff-hard-migrate"):
        return T(lcm=L.BOOT, effects=_PROLOG_DONE, ops=(vmm("DEPLOY"),))
    return T(lcm=L.BOOT_MIGRATE, effects=_PROLOG_DONE, ops=(vmm("RESTORE"),))


register("prolog_success", {
    **each((L.PROLOG_RESUME, L.PROLOG_RESUME_FAILURE),
           T(lcm=L.BOOT_STOPPED, effects=_PROLOG_DONE, ops=(vmm("RESTORE"),))),
    **each((L.PROLOG_UNDEPLOY, L.PROLOG_UNDEPLOY_FAILURE),
           T(lcm=L.BOOT_UNDEPLOY, effects=_PROLOG_DONE, ops=(vmm("DEPLOY"),))),
    **each((L.PROLOG_MIGRATE, L.PROLOG_MIGRATE_FAILURE), _prolog_migrate_done),
    **each((L.PROLOG_MIGRATE_UNKNOWN, L.PROLOG_MIGRATE_UNKNOWN_FAILURE, L.PROLOG,
            L.PROLOG_FAILURE), T(lcm=L.BOOT, effects=_PROLOG_DONE, ops=(vmm("DEPLOY"),))),
    **each((L.PROLOG_MIGRATE_POWEROFF, L.PROLOG_MIGRATE_POWEROFF_FAILURE),
           T(effects=(Stamp("current", PETIME),), tasks=(Task.DROP_SNAPSHOTS,),
             then="poweroff_success")),
    **each((L.PROLOG_MIGRATE_SUSPEND, L.PROLOG_MIGRATE_SUSPEND_FAILURE),
           T(effects=(Stamp("current", PETIME),), tasks=(Task.DROP_SNAPSHOTS,),
             then="suspend_success")),
})

_PROLOG_FAILED = {L.PROLOG: L.PROLOG_FAILURE, L.PROLOG_MIGRATE: L.PROLOG_MIGRATE_FAILURE,
                  L.PROLOG_MIGRATE_POWEROFF: L.PROLOG_MIGRATE_POWEROFF_FAILURE,
                  L.PROLOG_MIGRATE_SUSPEND: L.PROLOG_MIGRATE_SUSPEND_FAILURE,
                  L.PROLOG_MIGRATE_UNKNOWN: L.PROLOG_MIGRATE_UNKNOWN_FAILURE,
                  L.PROLOG_RESUME: L.PROLOG_RESUME_FAILURE,
                  L.PROLOG_UNDEPLOY: L.PROLOG_UNDEPLOY_FAILURE}


def _migrate_back(base: L) -> T:
    """recover --failure of a failed migration prolog: give up the target, go back to
    the source host in a copy of its record, and carry on as if the files had moved."""
    return T(lcm=base, effects=(
        Stamp("current", PETIME), Stamp("current", ETIME), Free("current", keep_if_shared=True),
        CopyRecord("previous"), Stamp("current", STIME), Stamp("current", PSTIME),
        Hold("current")), then="prolog_success")


register("prolog_failure", {
    **{A(src): T(lcm=dst) for src, dst in _PROLOG_FAILED.items()},
    **{A(dst): _migrate_back(src) for src, dst in _PROLOG_FAILED.items()
       if src.name.startswith("PROLOG_MIGRATE")},
    **each((L.PROLOG_RESUME_FAILURE, L.PROLOG_UNDEPLOY_FAILURE, L.PROLOG_FAILURE), NOTHING),
})

_EPILOG_END = (Stamp("current", EETIME), Stamp("current", ETIME), FreeAll())
_EPILOG_NEXT = {L.EPILOG_STOP: ("stop_success", ()),  # the VNC port stays with a stopped VM
                L.EPILOG_UNDEPLOY: ("undeploy_success", (Task.RELEASE_VNC_PORT,)),
                L.EPILOG: ("done", ())}
register("epilog_success", {
    **{A(lcm): T(effects=_EPILOG_END, tasks=tasks, then=then)
       for lcm, (then, tasks) in _EPILOG_NEXT.items()},
    # recover --success of a failed epilog: as if it had worked
    **{A(L[lcm.name + "_FAILURE"]): T(lcm=lcm, effects=_EPILOG_END, tasks=tasks, then=then)
       for lcm, (then, tasks) in _EPILOG_NEXT.items()},
    A(L.CLEANUP_RESUBMIT): T(then="resubmit"),
})
register("epilog_failure", {
    A(L.CLEANUP_RESUBMIT): T(then="resubmit"),
    A(L.EPILOG): T(lcm=L.EPILOG_FAILURE),
    A(L.EPILOG_STOP): T(lcm=L.EPILOG_STOP_FAILURE),
    A(L.EPILOG_UNDEPLOY): T(lcm=L.EPILOG_UNDEPLOY_FAILURE),
    **each((L.EPILOG_FAILURE, L.EPILOG_STOP_FAILURE, L.EPILOG_UNDEPLOY_FAILURE), NOTHING),
})
# The VMM clean-up of a delete-recreate: either way the VM goes back to PENDING.
register("cleanup_callback", {A(L.CLEANUP_RESUBMIT): T(then="resubmit")})


def _hotplug(name: str, task: Task | None, poweroff_lcm: L | None = None) -> None:
    """Hotplug answers: back to RUNNING, or to POWEROFF for the cold variants."""
    tasks = (task,) if task else ()
    table = {A(L.HOTPLUG_NIC if "nic" in name else L.HOTPLUG): T(lcm=L.RUNNING, tasks=tasks)}
    if poweroff_lcm is not None:
        table[A(poweroff_lcm)] = T(tasks=tasks, then="poweroff_success")
    register(name, table)


_hotplug("attach_success", Task.CLEAR_ATTACH_DISK, L.HOTPLUG_PROLOG_POWEROFF)
_hotplug("attach_failure", Task.DELETE_ATTACH_DISK, L.HOTPLUG_PROLOG_POWEROFF)
_hotplug("detach_success", Task.DELETE_ATTACH_DISK, L.HOTPLUG_EPILOG_POWEROFF)
_hotplug("detach_failure", Task.CLEAR_ATTACH_DISK, L.HOTPLUG_EPILOG_POWEROFF)
_hotplug("attach_nic_success", Task.CLEAR_ATTACH_NIC, L.HOTPLUG_NIC_POWEROFF)
_hotplug("attach_nic_failure", Task.DELETE_ATTACH_NIC, L.HOTPLUG_NIC_POWEROFF)
_hotplug("detach_nic_success", Task.DELETE_ATTACH_NIC, L.HOTPLUG_NIC_POWEROFF)
_hotplug("detach_nic_failure", Task.CLEAR_ATTACH_NIC, L.HOTPLUG_NIC_POWEROFF)
_hotplug("update_conf_success", None)
_hotplug("update_conf_failure", None)
for _name, _task in (("snapshot_create_success", Task.CLEAR_ACTIVE_SNAPSHOT),
                     ("snapshot_create_failure", Task.DELETE_ACTIVE_SNAPSHOT),
                     ("snapshot_revert_success", Task.CLEAR_ACTIVE_SNAPSHOT),
                     ("snapshot_revert_failure", Task.CLEAR_ACTIVE_SNAPSHOT),
                     ("snapshot_delete_success", Task.DELETE_ACTIVE_SNAPSHOT),
                     ("snapshot_delete_failure", Task.CLEAR_ACTIVE_SNAPSHOT)):
    register(_name, {A(L.HOTPLUG_SNAPSHOT): T(lcm=L.RUNNING, tasks=(_task,))})
register("resize_success", {A(L.HOTPLUG_RESIZE): T(lcm=L.RUNNING, tasks=(Task.RESET_RESIZE,))})
# revert_resize: back to the old CPU/VCPU/MEMORY, host usage and quotas
register("resize_failure", {A(L.HOTPLUG_RESIZE): T(lcm=L.RUNNING, tasks=(Task.REVERT_RESIZE,))})

# ----------------------------------------------------------------------- monitoring

register("monitor_done", {A(L.RUNNING): T(lcm=L.UNKNOWN, resched=False)})
register("monitor_poweroff", {
    **each((L.RUNNING, L.UNKNOWN), T(
        S.POWEROFF, effects=(SetAction("current", "monitor"), _RETIME), resched=False,
        tasks=(Task.DROP_SNAPSHOTS,))),
    **each((L.SHUTDOWN, L.SHUTDOWN_POWEROFF, L.SHUTDOWN_UNDEPLOY), T(then="shutdown_success")),
})
register("monitor_suspend", each((L.RUNNING, L.UNKNOWN), T(
    S.SUSPENDED, effects=(SetAction("current", "monitor"), _RETIME), resched=False,
    tasks=(Task.DROP_SNAPSHOTS,))))
register("monitor_poweron", {
    **each((S.POWEROFF, S.SUSPENDED), T(lcm=L.RUNNING, effects=(
        Stamp("current", ETIME), CopyRecord("current"), Stamp("current", STIME),
        Stamp("current", RSTIME)))),
    A(L.UNKNOWN): T(lcm=L.RUNNING),
    **each(_BOOTS, T(then="deploy_success")),
})
register("images_ready", each((S.CLONING, S.CLONING_FAILURE), lambda view, params: T(
    S.HOLD if params.get("hold") else S.PENDING)))
register("images_failed", each((S.CLONING,), T(S.CLONING_FAILURE)))

# Which trigger a driver answer runs: (driver, action) -> (on success, on failure).
OUTCOME_TRIGGERS: dict[tuple[str, str], tuple[str, str]] = {
    **{("vmm", a): ("deploy_success", "deploy_failure") for a in ("DEPLOY", "RESTORE", "MIGRATE")},
    **{("vmm", a): ("shutdown_success", "shutdown_failure") for a in ("SHUTDOWN", "CANCEL")},
    ("vmm", "SAVE"): ("save_success", "save_failure"),
    ("vmm", "CLEANUP"): ("cleanup_callback", "cleanup_callback"),
    ("vmm", "ATTACHDISK"): ("attach_success", "attach_failure"),
    ("vmm", "DETACHDISK"): ("detach_success", "detach_failure"),
    ("vmm", "ATTACHNIC"): ("attach_nic_success", "attach_nic_failure"),
    ("vmm", "DETACHNIC"): ("detach_nic_success", "detach_nic_failure"),
    ("vmm", "SNAPSHOTCREATE"): ("snapshot_create_success", "snapshot_create_failure"),
    ("vmm", "SNAPSHOTREVERT"): ("snapshot_revert_success", "snapshot_revert_failure"),
    ("vmm", "SNAPSHOTDELETE"): ("snapshot_delete_success", "snapshot_delete_failure"),
    ("vmm", "RESIZE"): ("resize_success", "resize_failure"),
    ("vmm", "UPDATECONF"): ("update_conf_success", "update_conf_failure"),
    **{("tm", a): ("prolog_success", "prolog_failure")
       for a in ("PROLOG", "PROLOG_MIGRATE", "PROLOG_RESUME")},
    **{("tm", a): ("epilog_success", "epilog_failure")
       for a in ("EPILOG", "EPILOG_LOCAL", "EPILOG_STOP", "EPILOG_DELETE", "EPILOG_DELETE_LOCAL",
                 "EPILOG_DELETE_PREVIOUS", "EPILOG_DELETE_BOTH")},
    ("tm", "PROLOG_ATTACH"): ("attach_prolog_success", "attach_failure"),
    ("tm", "EPILOG_DETACH"): ("detach_success", "detach_failure"),
    **DISK_OUTCOMES,
    **CONTEXT_OUTCOMES,
}

# Monitoring reports (the caller applies OpenNebula's 30 s grace after a VM stopped
# running before reporting "vm-running" for a POWEROFF/SUSPENDED VM).
EVENT_TRIGGERS: dict[str, str] = {
    "vm-missing": "monitor_done",     # the hypervisor lists it failed
    "vm-poweroff": "monitor_poweroff",  # it no longer lists it, or lists it off
    "host-error": "monitor_done",     # its host went to ERROR
    "vm-suspended": "monitor_suspend",
    "vm-running": "monitor_poweron",  # found running again
    "images-ready": "images_ready",   # its cloned images are ready (param hold)
    "images-failed": "images_failed",
}
