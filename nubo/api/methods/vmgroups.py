"""one.vmgroup.* and one.vmgrouppool.info: VM groups and their roles.

The rules are the VM group operations' (nubo.core.ops.vmgroups); each method binds
its arguments, calls one and answers the group's id.
"""
from __future__ import annotations

from nubo.api.methods.generic import (register_chmod, register_chown, register_info,
                                      register_lock, register_pool, register_rename,
                                      register_update)
from nubo.api.method_table import Int, Str, api
from nubo.core.ops import vmgroups as ops
from nubo.core.ops.common import parse_template
from nubo.core.ops.call import Call
from nubo.core.ops.vmgroups import VMGROUP


@api("one.vmgroup.allocate", Str("template"))
def vmgroup_allocate(call: Call, text: str) -> int:
    return ops.allocate_vmgroup(call, parse_template(text))


@api("one.vmgroup.delete", Int("id"))
def vmgroup_delete(call: Call, oid: int) -> int:
    ops.delete_vmgroup(call, oid)
    return oid


@api("one.vmgroup.roleadd", Int("id"), Str("template"))
def vmgroup_roleadd(call: Call, oid: int, text: str) -> int:
    ops.add_role(call, oid, parse_template(text))
    return oid


@api("one.vmgroup.roledelete", Int("id"), Int("role_id"))
def vmgroup_roledelete(call: Call, oid: int, role_id: int) -> int:
    ops.delete_role(call, oid, role_id)
    return oid


@api("one.vmgroup.roleupdate", Int("id"), Int("role_id"), Str("template"))
def vmgroup_roleupdate(call: Call, oid: int, role_id: int, text: str) -> int:
    ops.update_role(call, oid, role_id, parse_template(text))
    return oid


register_info("vmgroup", VMGROUP)
register_update("vmgroup", VMGROUP, validate=ops.check_vmgroup_update)
register_rename("vmgroup", VMGROUP)
register_chown("vmgroup", VMGROUP)
register_chmod("vmgroup", VMGROUP)
register_lock("vmgroup", VMGROUP)
register_pool("vmgrouppool", VMGROUP, "VM_GROUP_POOL", filtered=True)
