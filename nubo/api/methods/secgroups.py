"""one.secgroup.* and one.secgrouppool.info: security groups and their rules.

The rules are the security group operations' (nubo.core.ops.secgroups); each method
binds its arguments, calls one and answers the group's id.
"""
from __future__ import annotations

from nubo.api.methods.generic import (register_chmod, register_chown, register_info,
                                      register_pool, register_rename)
from nubo.api.method_table import Bool, Int, Str, api
from nubo.core.ops import generic
from nubo.core.ops import secgroups as ops
from nubo.core.ops import vm_secgroups
from nubo.core.ops.call import Call
from nubo.core.ops.common import parse_template
from nubo.core.ops.secgroups import SECGROUP


@api("one.secgroup.allocate", Str("template"))
def secgroup_allocate(call: Call, text: str) -> int:
    return ops.allocate_secgroup(call, parse_template(text))


@api("one.secgroup.clone", Int("id"), Str("name"))
def secgroup_clone(call: Call, oid: int, name: str) -> int:
    return ops.clone_secgroup(call, oid, name)


@api("one.secgroup.delete", Int("id"))
def secgroup_delete(call: Call, oid: int) -> int:
    ops.delete_secgroup(call, oid)
    return oid


@api("one.secgroup.update", Int("id"), Str("template"), Int("type", 0))
def secgroup_update(call: Call, oid: int, text: str, update_type: int) -> int:
    generic.update(call, SECGROUP, oid, text, update_type, validate=ops.check_update)
    ops.after_update(call, oid)
    return oid


@api("one.secgroup.commit", Int("id"), Bool("recovery", False))
def secgroup_commit(call: Call, oid: int, recovery: bool) -> int:
    return ops.commit_secgroup(call, oid, recovery)


@api("one.vm.attachsg", Int("id"), Int("nic_id"), Int("sg_id"))
def vm_attachsg(call: Call, vm_id: int, nic_id: int, sg_id: int) -> int:
    return vm_secgroups.attach_sg(call, vm_id, nic_id, sg_id)


@api("one.vm.detachsg", Int("id"), Int("nic_id"), Int("sg_id"))
def vm_detachsg(call: Call, vm_id: int, nic_id: int, sg_id: int) -> int:
    return vm_secgroups.detach_sg(call, vm_id, nic_id, sg_id)


register_info("secgroup", SECGROUP)
register_rename("secgroup", SECGROUP)
register_chown("secgroup", SECGROUP)
register_chmod("secgroup", SECGROUP)
register_pool("secgrouppool", SECGROUP, "SECURITY_GROUP_POOL", filtered=True)
