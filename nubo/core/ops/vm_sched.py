"""A VM's scheduled actions: add, update, delete (one.vm.schedadd/schedupdate/scheddelete).

MANAGE on the VM, as oned's default VM_MANAGE_OPERATIONS; the template holds one
SCHED_ACTION vector (nubo.model.sched_action says what it may contain). The
change is committed in the VM's body and the timer told (nubo.core.sched_timer).

When an action is due the timer runs it here (:func:`run_sched_action`) through the
operation the owner would call: OpenNebula runs scheduled actions with its request
manager's own checks (the VM's state, its lock, the owner's rights), so a scheduled
``poweroff`` behaves exactly as ``one.vm.action("poweroff")`` by the owner would.
"""
from __future__ import annotations

from typing import Callable

from sqlalchemy import Connection

from nubo.auth import acl as A
from nubo.auth.authorize import Requester
from nubo.core import sched_actions, sched_timer
from nubo.core.cloud import Cloud, Session
from nubo.core.ops import vm_disk_snapshots
from nubo.core.ops.common import check_lock, fetch, parse_template
from nubo.core.ops.call import Call
from nubo.core.ops.vm_actions import act_on_vm
from nubo.core.ops.vm_hotplug import create_snapshot, delete_snapshot, revert_snapshot
from nubo.core.ops.vms import VM
from nubo.errors import ActionError, ApiError, NoExistsError, NuboError
from nubo.model.sched_action import SchedAction, SchedActionError, parse
from nubo.model.vm import DONE, VirtualMachine
from nubo.template import VectorAttribute


def _vector(text: str) -> VectorAttribute:
    vector = parse_template(text).get_vector("SCHED_ACTION")
    if vector is None:
        raise ApiError("No SCHED_ACTION vector in the template: SCHED_ACTION = "
                       "[ ACTION = ..., TIME = ... ]")
    return vector


def _editable(call: Call, conn: Connection, vm_id: int) -> VirtualMachine:
    vm = fetch(call, conn, VM, vm_id, A.MANAGE)
    check_lock(vm, A.MANAGE)
    if vm.state == DONE:
        raise ActionError(f"VM {vm_id} is DONE: its scheduled actions cannot change", vm_id)
    return vm


def add_sched_action(call: Call, vm_id: int, text: str) -> int:
    """A SCHED_ACTION for the VM (VM:MANAGE); returns the new action's id."""
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


def _find(vm: VirtualMachine, sched_id: int) -> list[SchedAction]:
    actions = sched_actions.actions_of(vm)
    if not any(a.id == sched_id for a in actions):
        raise NoExistsError(f"VM {vm.id} has no scheduled action {sched_id}", vm.id)
    return actions


def update_sched_action(call: Call, vm_id: int, sched_id: int, text: str) -> int:
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


def delete_sched_action(call: Call, vm_id: int, sched_id: int) -> int:
    """The VM's scheduled action ``sched_id`` goes (VM:MANAGE)."""
    with call.cloud.db.write() as conn:
        vm = _editable(call, conn, vm_id)
        actions = _find(vm, sched_id)
        sched_actions.store(vm, [a for a in actions if a.id != sched_id])
        call.cloud.pools.vms.update(conn, vm)
        sched_timer.changed(call.cloud, vm_id, conn)
    return vm_id


# ------------------------------------------------------------ running a due action

#: The operation behind each API method a scheduled action names (SchedAction.api_call).
_OPERATIONS: dict[str, Callable[..., int]] = {
    "one.vm.action": act_on_vm,
    "one.vm.snapshotcreate": create_snapshot,
    "one.vm.snapshotrevert": revert_snapshot,
    "one.vm.snapshotdelete": delete_snapshot,
    "one.vm.disksnapshotcreate": vm_disk_snapshots.create,
    "one.vm.disksnapshotrevert": vm_disk_snapshots.revert,
    "one.vm.disksnapshotdelete": vm_disk_snapshots.delete,
}


def owner_session(cloud: Cloud, vm: VirtualMachine) -> Session | None:
    """The VM owner's session, with the owner's own groups (the VM's group may no
    longer be one of them); None if the owner is gone."""
    with cloud.db.read() as conn:
        user = cloud.pools.users.find(conn, vm.uid)
    if user is None:
        return None
    return Session(Requester(uid=user.id, gid=user.gid, group_ids=frozenset(user.groups)),
                   uname=user.name, gname=user.gname)


def run_sched_action(cloud: Cloud, vm: VirtualMachine, action: SchedAction) -> str | None:
    """Do the due action as the VM's owner; None if it succeeded, else the error as the
    API reports it (the action's MESSAGE)."""
    session = owner_session(cloud, vm)
    if session is None:
        return f"the VM's owner (user {vm.uid}) does not exist"
    name, args = action.api_call()
    try:
        _OPERATIONS[name](Call(cloud, session, name), *args)
    except NuboError as e:
        return f"[{name}] {e.message}"
    return None
