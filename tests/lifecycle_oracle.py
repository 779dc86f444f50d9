"""OpenNebula's checks of which VM action is allowed in which state, restated from
DispatchManagerActions.cc, the request manager and VirtualMachine::updateconf
independently of nubo's machine tables: the oracle of the pure table test
(tests/unit/lifecycle) and of the action matrix through the API (tests/api)."""
from __future__ import annotations

from nubo.lifecycle.states import LcmState, VmState

S, L = VmState, LcmState
TERMINATE_FAILURES = {
    L.BOOT_FAILURE, L.BOOT_MIGRATE_FAILURE, L.PROLOG_MIGRATE_FAILURE, L.PROLOG_FAILURE,
    L.EPILOG_FAILURE, L.EPILOG_STOP_FAILURE, L.EPILOG_UNDEPLOY_FAILURE,
    L.PROLOG_MIGRATE_POWEROFF_FAILURE, L.PROLOG_MIGRATE_SUSPEND_FAILURE,
    L.BOOT_UNDEPLOY_FAILURE, L.BOOT_STOPPED_FAILURE, L.PROLOG_RESUME_FAILURE,
    L.PROLOG_UNDEPLOY_FAILURE, L.PROLOG_MIGRATE_UNKNOWN_FAILURE}
UPDATECONF_ACTIVE = {
    L.LCM_INIT, L.PROLOG, L.RUNNING, L.EPILOG, L.SHUTDOWN, L.CLEANUP_RESUBMIT,
    L.SHUTDOWN_POWEROFF, L.CLEANUP_DELETE, L.HOTPLUG_SAVEAS_POWEROFF, L.SHUTDOWN_UNDEPLOY,
    L.EPILOG_UNDEPLOY, L.PROLOG_UNDEPLOY, L.HOTPLUG_PROLOG_POWEROFF, L.HOTPLUG_EPILOG_POWEROFF,
    L.BOOT_FAILURE, L.PROLOG_FAILURE, L.EPILOG_FAILURE, L.EPILOG_UNDEPLOY_FAILURE,
    L.PROLOG_MIGRATE_POWEROFF, L.PROLOG_MIGRATE_POWEROFF_FAILURE, L.BOOT_UNDEPLOY_FAILURE,
    L.PROLOG_UNDEPLOY_FAILURE, L.DISK_SNAPSHOT_POWEROFF, L.DISK_SNAPSHOT_REVERT_POWEROFF,
    L.DISK_SNAPSHOT_DELETE_POWEROFF}
NOT_DEPLOYED = {S.INIT, S.PENDING, S.HOLD, S.CLONING, S.CLONING_FAILURE}


def oracle(action: str, s: VmState, lcm: LcmState) -> bool:
    active = s is S.ACTIVE
    run, unk = active and lcm is L.RUNNING, active and lcm is L.UNKNOWN
    hard = action.endswith("-hard")
    if action.startswith("terminate"):
        if not active:
            return True
        return run or unk or lcm in TERMINATE_FAILURES or (hard and lcm is L.SHUTDOWN)
    if action.startswith("undeploy"):
        return s is S.POWEROFF or run or unk or (hard and lcm is L.SHUTDOWN_UNDEPLOY)
    if action.startswith("poweroff") and not action.endswith("migrate"):
        return run or unk or (hard and active and lcm is L.SHUTDOWN_POWEROFF)
    table = {
        "hold": s is S.PENDING, "release": s is S.HOLD,
        "stop": s is S.SUSPENDED or run, "suspend": run,
        "resume": s in (S.STOPPED, S.UNDEPLOYED, S.SUSPENDED, S.POWEROFF) or unk,
        "reboot": run, "reboot-hard": run,
        "resched": s is S.POWEROFF or run or unk, "unresched": s is S.POWEROFF or run or unk,
        "deploy": s in (S.PENDING, S.HOLD, S.STOPPED, S.UNDEPLOYED),
        "disk-attach": run or s is S.POWEROFF, "disk-detach": run or s is S.POWEROFF,
        "nic-attach": run or s is S.POWEROFF, "nic-detach": run or s is S.POWEROFF,
        "snapshot-create": run, "snapshot-revert": run, "snapshot-delete": run,
        "disk-snapshot-create": run or s in (S.POWEROFF, S.SUSPENDED),
        "disk-snapshot-revert": s is S.POWEROFF,
        "disk-snapshot-delete": run or s in (S.POWEROFF, S.SUSPENDED),
        "disk-resize": run or s in (S.POWEROFF, S.UNDEPLOYED),
        "resize": run or s in (S.POWEROFF, S.UNDEPLOYED) or s in NOT_DEPLOYED,
        "updateconf": (s in (S.PENDING, S.HOLD, S.POWEROFF, S.UNDEPLOYED, S.CLONING,
                             S.CLONING_FAILURE) or (active and lcm in UPDATECONF_ACTIVE)),
        "recover-success": active or s is S.CLONING_FAILURE,
        "recover-failure": active or s is S.CLONING_FAILURE,
        "retry": active, "delete": True, "delete-recreate": s is not S.DONE,
    }
    if action in table:
        return table[action]
    assert "migrate" in action, action
    return run or unk or s in (S.POWEROFF, S.SUSPENDED)
