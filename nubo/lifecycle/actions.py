"""User actions on a VM's life: ``one.vm.action``, ``one.vm.deploy``, ``one.vm.migrate``.

OpenNebula checks these in its DispatchManager (src/dm/DispatchManagerActions.cc)
and carries them out in its LifeCycleManager (src/lcm/LifeCycleActions.cc); here
both halves are one table per action: a state with no rule refuses the action.
"""
from __future__ import annotations

from nubo.lifecycle.decision import (
    ESTIME, ETIME, PSTIME, RETIME, RSTIME, STIME, CopyRecord, NewRecord, SetAction, Stamp,
    VmView,
)
from nubo.lifecycle.outcomes import DONE
from nubo.lifecycle.rules import (
    NOTHING, A, Free, Hold, Params, T, Table, each, tm, vmm,
)
from nubo.lifecycle.states import FAILURE_LCM_STATES
from nubo.lifecycle.states import LcmState as L
from nubo.lifecycle.states import VmState as S
from nubo.lifecycle.tasks import Task

RUNNING_OR_UNKNOWN = (L.RUNNING, L.UNKNOWN)
# States a VM never left a host in: terminate just frees what they hold.
NOT_DEPLOYED = (S.INIT, S.PENDING, S.HOLD, S.CLONING, S.CLONING_FAILURE)


def _shutdown(lcm: L, action: str, driver_action: str) -> T:
    """Stop the guest (SHUTDOWN, or CANCEL to destroy it) on its host."""
    return T(lcm=lcm, effects=(SetAction("current", action),), ops=(vmm(driver_action),),
             resched=False)


def _shutdown_again(lcm: L, action: str) -> T:
    """The hard variant while the soft one hangs: kill the pending driver action first."""
    return T(lcm=lcm, effects=(SetAction("current", action),),
             ops=(vmm("DRIVER_CANCEL", awaited=False), vmm("CANCEL")), resched=False)


def _epilog(action: str, tm_action: str) -> T:
    """Collect the VM's files from a host or the front-end (the VM is not running)."""
    return T(S.ACTIVE, L.EPILOG if action == "terminate" else L.EPILOG_UNDEPLOY, effects=(
        SetAction("current", action), Stamp("current", ESTIME)), ops=(tm(tm_action),))


def _terminate(hard: bool) -> Table:
    name = "terminate-hard" if hard else "terminate"
    table: dict = {
        # "Hard has no effect, VM is not RUNNING" (OpenNebula): both record terminate
        **each((S.SUSPENDED, S.POWEROFF), _epilog("terminate", "EPILOG")),
        **each((S.STOPPED, S.UNDEPLOYED), _epilog("terminate", "EPILOG_LOCAL")),
        **each(NOT_DEPLOYED, DONE),
        S.DONE: NOTHING,
        **each(RUNNING_OR_UNKNOWN, _shutdown(L.SHUTDOWN, name, "CANCEL" if hard else "SHUTDOWN")),
        **each(sorted(FAILURE_LCM_STATES), T(then="delete")),
    }
    if hard:
        table[A(L.SHUTDOWN)] = _shutdown_again(L.SHUTDOWN, name)
    return table


def _poweroff(hard: bool) -> Table:
    name = "poweroff-hard" if hard else "poweroff"
    table: dict = each(RUNNING_OR_UNKNOWN, _shutdown(L.SHUTDOWN_POWEROFF, name,
                                                     "CANCEL" if hard else "SHUTDOWN"))
    if hard:
        table[A(L.SHUTDOWN_POWEROFF)] = _shutdown_again(L.SHUTDOWN_POWEROFF, name)
    return table


def _undeploy(hard: bool) -> Table:
    name = "undeploy-hard" if hard else "undeploy"
    table: dict = {
        **each(RUNNING_OR_UNKNOWN, _shutdown(L.SHUTDOWN_UNDEPLOY, name,
                                             "CANCEL" if hard else "SHUTDOWN")),
        # powered off: nothing to stop, move the files (OpenNebula records "undeploy")
        S.POWEROFF: _epilog("undeploy", "EPILOG_STOP"),
    }
    if hard:
        table[A(L.SHUTDOWN_UNDEPLOY)] = _shutdown_again(L.SHUTDOWN_UNDEPLOY, name)
    return table


def _boot_again(lcm: L, driver_action: str) -> T:
    """Resume a POWEROFF/SUSPENDED VM on its host, in a new history record."""
    return T(S.ACTIVE, lcm, effects=(
        Stamp("current", ETIME), CopyRecord("current"), Stamp("current", STIME),
        Stamp("current", RSTIME), SetAction("current", "resume")), ops=(vmm(driver_action),))


ONE_VM_ACTION: dict[str, Table] = {
    "terminate": _terminate(False),
    "terminate-hard": _terminate(True),
    "undeploy": _undeploy(False),
    "undeploy-hard": _undeploy(True),
    "poweroff": _poweroff(False),
    "poweroff-hard": _poweroff(True),
    "hold": {S.PENDING: T(S.HOLD)},
    "release": {S.HOLD: T(S.PENDING)},
    "stop": {
        A(L.RUNNING): T(lcm=L.SAVE_STOP, effects=(SetAction("current", "stop"),),
                        ops=(vmm("SAVE"),), resched=False),
        # already saved on its host: just move the files
        S.SUSPENDED: T(S.ACTIVE, L.EPILOG_STOP, effects=(
            SetAction("current", "stop"), Stamp("current", ESTIME)), ops=(tm("EPILOG_STOP"),)),
    },
    "suspend": {A(L.RUNNING): T(lcm=L.SAVE_SUSPEND, effects=(SetAction("current", "suspend"),),
                                ops=(vmm("SAVE"),), resched=False)},
    "resume": {
        # back to the scheduler, which deploys it again (with PROLOG_RESUME/UNDEPLOY)
        **each((S.STOPPED, S.UNDEPLOYED), T(S.PENDING)),
        S.SUSPENDED: _boot_again(L.BOOT_SUSPENDED, "RESTORE"),
        S.POWEROFF: _boot_again(L.BOOT_POWEROFF, "DEPLOY"),
        A(L.UNKNOWN): T(lcm=L.BOOT_UNKNOWN, ops=(vmm("DEPLOY"),)),
    },
    # rebooting cancels re-scheduling; the driver's answer is only logged
    "reboot": {A(L.RUNNING): T(ops=(vmm("REBOOT", awaited=False),), resched=False)},
    "reboot-hard": {A(L.RUNNING): T(ops=(vmm("RESET", awaited=False),), resched=False)},
    "resched": each((S.POWEROFF, *RUNNING_OR_UNKNOWN), T(resched=True)),
    "unresched": each((S.POWEROFF, *RUNNING_OR_UNKNOWN), T(resched=False)),
}

# ------------------------------------------------------------------- deploy, migrate

_PROLOG_START = (NewRecord(), Stamp("current", STIME), Stamp("current", PSTIME),
                 Hold("current"))


def _deploy(view: VmView, params: Params) -> T:
    """Place the VM on ``host``: a new history record, the host's usage, the prolog.

    A VM that was stopped or undeployed gets its saved files back (PROLOG_RESUME /
    PROLOG_UNDEPLOY) instead of fresh ones; the record it left says which.
    """
    last = view.current.action if view.current is not None else "none"
    if last == "stop":
        return T(S.ACTIVE, L.PROLOG_RESUME, effects=_PROLOG_START, ops=(tm("PROLOG_RESUME"),))
    if last in ("undeploy", "undeploy-hard"):
        return T(S.ACTIVE, L.PROLOG_UNDEPLOY, effects=_PROLOG_START, ops=(tm("PROLOG_RESUME"),))
    return T(S.ACTIVE, L.PROLOG, effects=_PROLOG_START, ops=(tm("PROLOG"),))


DEPLOY: Table = each((S.PENDING, S.HOLD, S.STOPPED, S.UNDEPLOYED), _deploy)

# one.vm.migrate's poweroff argument: 0 save/restore, 1 shutdown, 2 cancel on the source.
_COLD = {"migrate": ("migrate", "SAVE"), "poweroff-migrate": ("poweroff-migrate", "SHUTDOWN"),
         "poweroff-hard-migrate": ("poweroff-hard-migrate", "CANCEL")}


def _migrate(kind: str) -> Table:
    history_action, source_op = _COLD.get(kind, _COLD["migrate"])
    running = T(lcm=L.SAVE_MIGRATE, resched=False, effects=(
        NewRecord(), Stamp("current", STIME), Hold("current"),
        SetAction("current", history_action), SetAction("previous", history_action)),
        ops=(vmm(source_op, on="previous"),))
    if kind == "migrate-live":
        running = T(lcm=L.MIGRATE, resched=False, effects=(
            NewRecord(), Stamp("current", STIME), Hold("current"),
            SetAction("previous", "live-migrate")),
            ops=(vmm("MIGRATE", on="previous"),))

    def not_running(lcm: L, unknown: bool = False) -> T:
        # nothing runs on the source: close its record, move the files at once
        return T(S.ACTIVE, lcm, resched=False, effects=(
            NewRecord(), *((SetAction("previous", "migrate"),) if unknown else ()),
            Stamp("previous", RETIME), Stamp("previous", ETIME), SetAction("current", "migrate"),
            Hold("current"), Free("previous", keep_if_shared=True), Stamp("current", STIME),
            Stamp("current", PSTIME)),
            ops=(tm("PROLOG_MIGRATE"),), tasks=(Task.DROP_SNAPSHOTS, Task.RELEASE_PREVIOUS_VNC_PORT))

    # live migration of a VM that is not RUNNING falls back to a cold one (OpenNebula)
    return {A(L.RUNNING): running,
            S.POWEROFF: not_running(L.PROLOG_MIGRATE_POWEROFF),
            S.SUSPENDED: not_running(L.PROLOG_MIGRATE_SUSPEND),
            A(L.UNKNOWN): not_running(L.PROLOG_MIGRATE_UNKNOWN, unknown=True)}


MIGRATE: dict[str, Table] = {kind: _migrate(kind) for kind in (*_COLD, "migrate-live")}
