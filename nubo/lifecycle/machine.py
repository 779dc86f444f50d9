"""The VM life-cycle state machine: the one entry point the managers use.

* :func:`decide` -- may a user action happen to this VM now, and what follows?
  (the dispatch manager; raises OpenNebula's error when the state forbids it)
* :func:`on_outcome` -- a driver answered an operation (the life-cycle manager)
* :func:`on_event` -- monitoring noticed something (the information manager)

All three are pure: they read a :class:`~nubo.lifecycle.decision.VmView` and return
a :class:`~nubo.lifecycle.decision.Decision`; :func:`~nubo.lifecycle.decision.apply`
gives the view the caller will have stored after committing it.
"""
from __future__ import annotations

from typing import Any

from nubo.errors import ActionError, ApiError, InternalError, NuboError
from nubo.lifecycle import disk_changes, hotplug, recovery
from nubo.lifecycle.actions import DEPLOY, MIGRATE, ONE_VM_ACTION
from nubo.lifecycle.decision import Decision, DriverOp, OpRef, Placement, VmView
from nubo.lifecycle.outcomes import EVENT_TRIGGERS, OUTCOME_TRIGGERS
from nubo.lifecycle.rules import Table, ignored, lookup, realize, run_trigger, trigger_table
from nubo.lifecycle.states import (
    PLACED_STATES, LcmState, VmState, history_action_name, state_str,
)

ACTION_TABLES: dict[str, Table] = {
    **ONE_VM_ACTION,
    "deploy": DEPLOY,
    **MIGRATE,
    **hotplug.HOTPLUG,
    **disk_changes.DISK_CHANGES,
    **recovery.RECOVER,
    "retry": recovery.RETRY,
    "delete": recovery.RECOVER_DELETE,
    "delete-recreate": recovery.RECOVER_RECREATE,
}
#: Every action the machine knows, by the name OpenNebula gives it.
ACTIONS: tuple[str, ...] = tuple(ACTION_TABLES)
#: The actions of ``one.vm.action`` (its ACTION argument).
VM_ACTION_NAMES: tuple[str, ...] = tuple(ONE_VM_ACTION)
#: ``one.vm.recover``'s operation codes (5, delete-db, is the API's business).
RECOVER_OPERATIONS: dict[int, str] = {0: "recover-failure", 1: "recover-success", 2: "retry",
                                      3: "delete", 4: "delete-recreate"}
#: ``one.vm.migrate``'s poweroff argument.
MIGRATE_KINDS: dict[int, str] = {0: "migrate", 1: "poweroff-migrate", 2: "poweroff-hard-migrate"}
EVENTS: tuple[str, ...] = tuple(EVENT_TRIGGERS)

_WRONG_STATE = {  # the message OpenNebula gives (without the "[one.vm.x] " prefix)
    "deploy": "Deploy action is not available for state {state}",
    **{kind: "Migrate action is not available for state {state}" for kind in MIGRATE},
    "disk-attach": "Could not attach a new disk to VM {id}, wrong state {state}.",
    "disk-detach": "Could not detach disk from VM {id}, wrong state {state}.",
    "nic-attach": "Could not add a new NIC to VM {id}, wrong state {state}.",
    "nic-detach": "Could not detach NIC from VM {id}, wrong state {state}.",
    "snapshot-create": "Could not create a new snapshot for VM {id}, wrong state {state}.",
    "snapshot-revert": "Could not revert VM {id} to snapshot {snap_id}, wrong state {state}.",
    "snapshot-delete": "Could not delete snapshot {snap_id} for VM {id}, wrong state {state}.",
    "resize": "Cannot resize a VM in state {state}",
    "recover-success": "Could not perform a recover operation on VM {id}, wrong state {state}.",
    "recover-failure": "Could not perform a recover operation on VM {id}, wrong state {state}.",
    "retry": "Could not perform a retry on VM {id}, wrong state {state}.",
    "delete-recreate": "Cannot delete-recreate a VM already in DONE state",
    **disk_changes.WRONG_STATE,
}


def refusal(view: VmView, action: str, params: dict[str, Any] | None = None) -> NuboError:
    """The error OpenNebula returns for ``action`` in the view's state."""
    state = state_str(view.state, view.lcm_state)
    fields = {"id": view.id, "state": state, "snap_id": (params or {}).get("snap_id", -1)}
    if action in ONE_VM_ACTION:
        if action.startswith("terminate"):
            reason = f"Could not terminate VM {view.id}, wrong state {state}."
        else:
            reason = f"This action is not available for state {state}"
        return ActionError(f'Error performing action "{action}": {reason}', view.id)
    if action == "updateconf":  # OpenNebula answers this one with INTERNAL
        return InternalError(f"configuration cannot be updated in state {state}", view.id)
    return ActionError(_WRONG_STATE[action].format(**fields), view.id)


def _precheck(view: VmView, action: str, params: dict[str, Any]) -> None:
    """Refusals that depend on more than the state (OpenNebula's request checks)."""
    if action in ("deploy", *MIGRATE) and params.get("host") is None:
        raise ApiError(f"{action} needs a target host", view.id)
    if action in MIGRATE and view.previous is not None and view.previous.open:
        raise refusal(view, action, params)  # the last move is not finished
    if action == "disk-attach" and view.current is None:
        raise ActionError("VM is not running in any host", view.id)
    if action == "resize" and (view.state, view.lcm_state) == (VmState.ACTIVE, LcmState.RUNNING):
        if params.get("pinned"):
            raise ActionError("Cannot resize a pinned VM", view.id)
        if not params.get("live", True):
            vmm_mad = params.get("vmm_mad", "")
            raise ActionError(f"Hotplug resize not supported by driver {vmm_mad}", view.id)


def decide(view: VmView, action: str, **params: Any) -> Decision:
    """What ``action`` does to the VM, or the error OpenNebula gives if its state
    forbids it (nothing changes then).

    Parameters by action: deploy and the migrations ``host`` (target host id);
    nic-attach/nic-detach ``cold`` (the VMM driver attaches NICs to a powered-off
    VM) and ``alias``; snapshot-revert/-delete ``snap_id`` (for messages); resize
    ``live`` (the driver resizes a running VM), ``pinned``, ``vmm_mad``; updateconf
    ``live`` (the change must reach the running guest, i.e. its context changed).
    """
    table = ACTION_TABLES.get(action)
    if table is None:
        raise ActionError(f'Action "{action}" is not supported', view.id)
    _precheck(view, action, params)
    rule = lookup(table, view)
    if rule is None:
        raise refusal(view, action, params)
    t = rule(view, params) if callable(rule) else rule
    return realize(view, t, params, step=action)


def allowed(view: VmView, action: str, **params: Any) -> bool:
    """Whether :func:`decide` would accept ``action`` (placeholder host if none given)."""
    params.setdefault("host", -1)
    try:
        decide(view, action, **params)
    except NuboError:
        return False
    return True


def allowed_in(state: int, lcm_state: int, action: str) -> bool:
    """Whether ``action`` is allowed in (STATE, LCM_STATE), for a VM that has the
    history and hosts that state implies (what the dispatch manager asks first)."""
    placed = VmState(state) in PLACED_STATES
    view = VmView(-1, VmState(state), LcmState(lcm_state),
                  current=Placement(0, open=placed), previous=Placement(1, open=False),
                  hosts=frozenset({0}) if placed else frozenset())
    return allowed(view, action, host=1)


def allowed_actions(view: VmView) -> list[str]:
    """The actions the VM's state allows (what Sunstone would offer)."""
    return [a for a in ACTIONS if allowed(view, a)]


def on_outcome(view: VmView, op: OpRef | DriverOp, success: bool) -> Decision:
    """A driver answered ``op``. Only the operation the VM awaits moves it; any
    other answer (stale, superseded by a hard action, fire-and-forget) is ignored.

    The caller must match answers to the operation instance it sent (the protocol
    carries the VM id only), so that a retried operation's first answer is dropped.
    """
    ref = op.ref if isinstance(op, DriverOp) else op
    if view.awaiting != ref:
        return ignored(view, f"not awaited: {ref}")
    names = OUTCOME_TRIGGERS.get((ref.driver, ref.action))
    if names is None:
        return ignored(view, f"no trigger for {ref}")
    name = names[0] if success else names[1]
    if lookup(trigger_table(name), view) is None:
        return ignored(view, f"{name} in wrong state")
    return run_trigger(view, name, {}, consumed=True)


def on_event(view: VmView, event: str, **params: Any) -> Decision:
    """Monitoring noticed ``event`` (see outcomes.EVENT_TRIGGERS) for the VM."""
    name = EVENT_TRIGGERS.get(event)
    if name is None:
        raise ValueError(f"unknown life-cycle event {event!r}")
    if lookup(trigger_table(name), view) is None:
        return ignored(view, f"{event} in {state_str(view.state, view.lcm_state)}")
    return run_trigger(view, name, params)


def view_of(vm: Any, *, hosts: frozenset[int] = frozenset(),
            awaiting: OpRef | None = None) -> VmView:
    """A view of a stored :class:`nubo.model.vm.VirtualMachine`.

    ``hosts`` and ``awaiting`` are what the store keeps beside the body (the host
    usage entries of the VM and the operation in flight).
    """
    def placement(record: Any) -> Placement:
        return Placement(record.hid, history_action_name(record.action), record.etime == 0)

    history = list(vm.history)
    return VmView(
        id=vm.id, state=VmState(vm.state), lcm_state=LcmState(vm.lcm_state),
        current=placement(history[-1]) if history else None,
        previous=placement(history[-2]) if len(history) > 1 else None,
        hosts=hosts, awaiting=awaiting, resched=bool(vm.resched), deploy_id=vm.deploy_id)
