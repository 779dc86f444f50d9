"""Groups: creating and deleting them, and their administrators.

A new group gets the rules OpenNebula's default VDC grants its members (create VMs,
images, templates, networks...; manage hosts; use networks and datastores).
"""
from __future__ import annotations

from sqlalchemy import Connection

from nubo.auth import acl as A
from nubo.auth.acl import ObjectType
from nubo.core.ops.acls import add_rule, delete_rules_of
from nubo.core.ops.common import authorize_create, check_name
from nubo.core.ops.call import Call
from nubo.core.ops.users import GROUP, get_group, get_user
from nubo.errors import ActionError, AllocateError
from nubo.model.user import Group

# What members of a new group may create, and where they may deploy, as the
# default VDC grants it in OpenNebula.
_MEMBER_RESOURCES = (ObjectType.VM | ObjectType.NET | ObjectType.IMAGE | ObjectType.TEMPLATE | ObjectType.DOCUMENT | ObjectType.SECGROUP
                     | ObjectType.VROUTER | ObjectType.VMGROUP)


def create_group(call: Call, conn: Connection, name: str, *, with_rules: bool = True) -> Group:
    """Insert a group (and its members' rules) in the caller's transaction; the bootstrap
    creates the system groups with it, without rules."""
    pools = call.cloud.pools
    check_name(name)
    taken = pools.groups.oid_by_name(conn, name)
    if taken is not None:
        raise AllocateError(f"Error allocating a new group. NAME is already taken by GROUP {taken}.",
                            taken)
    group = Group(id=pools.groups.next_oid(conn), name=name)
    pools.groups.insert(conn, group)
    if with_rules:
        here = A.INDIVIDUAL_ID | 0
        add_rule(conn, A.GROUP_ID | group.id, A.ALL_ID | _MEMBER_RESOURCES, A.CREATE, here)
        add_rule(conn, A.GROUP_ID | group.id, A.ALL_ID | ObjectType.HOST, A.MANAGE, here)
        add_rule(conn, A.GROUP_ID | group.id, A.ALL_ID | ObjectType.NET, A.USE, here)
        add_rule(conn, A.GROUP_ID | group.id, A.ALL_ID | ObjectType.DATASTORE, A.USE, here)
    return group


def allocate_group(call: Call, name: str) -> int:
    with call.cloud.db.write() as conn:
        authorize_create(call, GROUP)
        return create_group(call, conn, name).id


def delete_group(call: Call, gid: int) -> int:
    """Drop an empty group that is not a system one, and the rules granted to it."""
    with call.cloud.db.write() as conn:
        group = get_group(call, conn, gid, A.ADMIN)
        if gid in (0, 1):
            raise ActionError(f"System group {group.name} cannot be deleted.", gid)
        if group.users:
            raise ActionError(f"Group {gid} is not empty.", gid)
        call.cloud.pools.groups.delete(conn, gid)
        delete_rules_of(conn, A.GROUP_ID | gid)
    return gid


def set_admin(call: Call, gid: int, uid: int, add: bool) -> int:
    """Make a member an administrator of the group (add), or no longer one."""
    with call.cloud.db.write() as conn:
        group = get_group(call, conn, gid, A.MANAGE)
        get_user(call, conn, uid, A.MANAGE)
        if add:
            if uid not in group.users:
                raise ActionError(f"User {uid} is not part of group {gid}", gid)
            if uid in group.admins:
                raise ActionError(f"User {uid} is already an administrator of group {gid}", gid)
            group.admins = sorted({*group.admins, uid})
        else:
            if uid not in group.admins:
                raise ActionError(f"User {uid} is not an administrator of group {gid}", gid)
            group.admins = [u for u in group.admins if u != uid]
        call.cloud.pools.groups.update(conn, group)
    return gid
