"""A VM's scheduled actions in its body: TEMPLATE/SCHED_ACTION vectors and SCHED_ACTIONS ids.

The body is the only record (so a restart loses nothing); ids come from the
``sched_action`` counter of pool_control and are never reused. The rules are
nubo.model.sched_action's; the timer that runs them is nubo.core.sched_timer.
"""
from __future__ import annotations

from sqlalchemy import Connection

from nubo.model.sched_action import SchedAction, SchedActionError, parse, restore
from nubo.model.vm import VirtualMachine, order_system_template
from nubo.model.vm_template import VmTemplateError
from nubo.store.pools import next_id
from nubo.template import Template, VectorAttribute

COUNTER = "sched_action"


def actions_of(vm: VirtualMachine) -> list[SchedAction]:
    return [restore(v) for v in vm.template.get_vectors("SCHED_ACTION")]


def store(vm: VirtualMachine, actions: list[SchedAction]) -> None:
    """Write the actions into the body (TEMPLATE's last elements, as vm.xsd orders them)."""
    kept = [a for a in vm.template if a.name != "SCHED_ACTION"]
    ordered = sorted(actions, key=lambda a: a.id)
    vm.template = order_system_template(Template([*kept, *(a.to_vector() for a in ordered)]))
    vm.sched_actions = [a.id for a in ordered]


def add(conn: Connection, vm: VirtualMachine, vector: VectorAttribute) -> SchedAction:
    """One new action (one.vm.schedadd); TIME "+N" counts from the VM's STIME."""
    action = parse(vector, sched_id=next_id(conn, COUNTER), vm_id=vm.id, origin=vm.stime)
    store(vm, [*actions_of(vm), action])
    return action


def take_from_template(conn: Connection, vm: VirtualMachine) -> bool:
    """A new VM's SCHED_ACTION vectors (left in USER_TEMPLATE by the split) become its
    scheduled actions; whether there were any. A bad one is a VmTemplateError naming it."""
    given = vm.user_template.get_all("SCHED_ACTION")
    if not given:
        return False
    vm.user_template.remove("SCHED_ACTION")
    for n, vector in enumerate(given, start=1):
        try:
            if not isinstance(vector, VectorAttribute):
                raise SchedActionError("it must be a vector: SCHED_ACTION = "
                                       "[ ACTION = ..., TIME = ... ]")
            add(conn, vm, vector)
        except SchedActionError as e:
            raise VmTemplateError(f"SCHED_ACTION #{n}: {e}") from None
    return True
