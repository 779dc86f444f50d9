"""one.group.allocate/delete/addadmin/deladmin: groups and their administrators
(nubo.core.ops.groups)."""
from __future__ import annotations

from nubo.api.method_table import Int, Str, api
from nubo.core.ops import groups as ops
from nubo.core.ops.call import Call


@api("one.group.allocate", Str("name"))
def group_allocate(call: Call, name: str) -> int:
    return ops.allocate_group(call, name)


@api("one.group.delete", Int("id"))
def group_delete(call: Call, gid: int) -> int:
    return ops.delete_group(call, gid)


@api("one.group.addadmin", Int("id"), Int("uid"))
def group_addadmin(call: Call, gid: int, uid: int) -> int:
    return ops.set_admin(call, gid, uid, True)


@api("one.group.deladmin", Int("id"), Int("uid"))
def group_deladmin(call: Call, gid: int, uid: int) -> int:
    return ops.set_admin(call, gid, uid, False)
