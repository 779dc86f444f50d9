"""one.vm.schedadd / schedupdate / scheddelete: a VM's scheduled actions, bound to the
core's operations (nubo.core.ops.vm_sched)."""
from __future__ import annotations

from nubo.api.method_table import Int, Str, api
from nubo.core.ops import vm_sched
from nubo.core.ops.call import Call


@api("one.vm.schedadd", Int("id"), Str("template"))
def vm_schedadd(call: Call, vm_id: int, text: str) -> int:
    """Returns the new action's id."""
    return vm_sched.add_sched_action(call, vm_id, text)


@api("one.vm.schedupdate", Int("id"), Int("sched_id"), Str("template"))
def vm_schedupdate(call: Call, vm_id: int, sched_id: int, text: str) -> int:
    return vm_sched.update_sched_action(call, vm_id, sched_id, text)


@api("one.vm.scheddelete", Int("id"), Int("sched_id"))
def vm_scheddelete(call: Call, vm_id: int, sched_id: int) -> int:
    return vm_sched.delete_sched_action(call, vm_id, sched_id)
