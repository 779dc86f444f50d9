"""one.vm.deploy, one.vm.action, one.vm.migrate and one.vm.recover: a VM's life-cycle
methods, bound to the core's operations (nubo.core.ops.vm_actions, which says how
an action is added)."""
from __future__ import annotations

from nubo.api.method_table import Bool, Int, Str, api
from nubo.core.ops import vm_actions
from nubo.core.ops.call import Call


@api("one.vm.deploy", Int("id"), Int("host_id"), Bool("enforce", False), Int("ds_id", -1),
     Str("nic_template", ""))
def vm_deploy(call: Call, vm_id: int, host_id: int, enforce: bool, ds_id: int,
              nic_template: str) -> int:
    """``nic_template`` is not applied yet."""
    return vm_actions.deploy_vm(call, vm_id, host_id, enforce, ds_id)


@api("one.vm.action", Str("action"), Int("id"))
def vm_action(call: Call, action: str, vm_id: int) -> int:
    return vm_actions.act_on_vm(call, action, vm_id)


@api("one.vm.migrate", Int("id"), Int("host_id"), Bool("live", False), Bool("enforce", False),
     Int("ds_id", -1), Int("migration_type", 0))
def vm_migrate(call: Call, vm_id: int, host_id: int, live: bool, enforce: bool, ds_id: int,
               migration_type: int) -> int:
    return vm_actions.migrate_vm(call, vm_id, host_id, live, enforce, ds_id, migration_type)


@api("one.vm.recover", Int("id"), Int("operation"))
def vm_recover(call: Call, vm_id: int, operation: int) -> int:
    return vm_actions.recover_vm(call, vm_id, operation)
