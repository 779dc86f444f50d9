"""one.vm.schedadd / schedupdate / scheddelete: a VM's scheduled actions.

MANAGE on the VM, as oned's default VM_MANAGE_OPERATIONS; the template holds one
SCHED_ACTION vector (nubo.model.sched_action says what it may contain). The
change is committed in the VM's body and the timer told (nubo.core.sched_timer).
"""
from __future__ import annotations

from nubo.core.ops.common import check_lock, fetch, parse_template
from nubo.api.methods.vms import VM
from nubo.api.registry import Int, Str, api
from nubo.core.ops.context import Call
from nubo.auth import acl as A
from nubo.core import sched_actions, sched_timer
from nubo.errors import ActionError, ApiError, NoExistsError
from nubo.model.sched_action import SchedActionError, parse
from nubo.model.vm import DONE
from nubo.template import VectorAttribute


def _vector(text: str) -> VectorAttribute:
    vector = parse_template(text).get_vector("SCHED_ACTION")
    if vector is None:
        raise ApiError("No SCHED_ACTION vector in the template: SCHED_ACTION = "
                       "[ ACTION = ..., TIME = ... ]")
    return vector


def _editable(call: Call, conn, vm_id: int):
    vm = fetch(call, conn, VM, vm_id, A.MANAGE)
    check_lock(vm, A.MANAGE)
    if vm.state == DONE:
        raise ActionError(f"VM {vm_id} is DONE: its scheduled actions cannot change", vm_id)
    return vm


@api("one.vm.schedadd", Int("id"), Str("template"))
def vm_schedadd(call: Call, vm_id: int, text: str) -> int:
    """Returns the new action's id."""
    vector = _vector(text)
    with call.cloud.db.write() as conn:
        vm = _editable(call, conn, vm_id)
        try:
            action = sched_actions.add(conn, vm, vector)
        except SchedActionError as e:
            raise ApiError(str(e), vm_id) from None
        call.cloud.pools.vms.update(conn, vm)
        sched_timer.changed(call.cloud, vm_id, conn)
    return action.id


def _find(vm, sched_id: int):
    actions = sched_actions.actions_of(vm)
    if not any(a.id == sched_id for a in actions):
        raise NoExistsError(f"VM {vm.id} has no scheduled action {sched_id}", vm.id)
    return actions


@api("one.vm.schedupdate", Int("id"), Int("sched_id"), Str("template"))
def vm_schedupdate(call: Call, vm_id: int, sched_id: int, text: str) -> int:
    """The attributes given replace the action's; DONE and MESSAGE stay."""
    vector = _vector(text)
    with call.cloud.db.write() as conn:
        vm = _editable(call, conn, vm_id)
        actions = _find(vm, sched_id)
        try:
            actions = [parse(vector, sched_id=a.id, vm_id=vm_id, origin=vm.stime, previous=a)
                       if a.id == sched_id else a for a in actions]
        except SchedActionError as e:
            raise ApiError(str(e), vm_id) from None
        sched_actions.store(vm, actions)
        call.cloud.pools.vms.update(conn, vm)
        sched_timer.changed(call.cloud, vm_id, conn)
    return vm_id


@api("one.vm.scheddelete", Int("id"), Int("sched_id"))
def vm_scheddelete(call: Call, vm_id: int, sched_id: int) -> int:
    with call.cloud.db.write() as conn:
        vm = _editable(call, conn, vm_id)
        actions = _find(vm, sched_id)
        sched_actions.store(vm, [a for a in actions if a.id != sched_id])
        call.cloud.pools.vms.update(conn, vm)
        sched_timer.changed(call.cloud, vm_id, conn)
    return vm_id
