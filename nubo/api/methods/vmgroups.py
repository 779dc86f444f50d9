"""one.vmgroup.* and one.vmgrouppool.info: VM groups, their roles, and VMs joining them.

The rules (role names, policies, affinity consistency) are nubo.model.vmgroup's;
here they are authorised (MANAGE on the group for its changes, as oned's basic
authorisation) and stored. A VM joins a role at allocate/instantiate with
``VMGROUP = [ VMGROUP_ID = 3 (or VMGROUP_NAME = "db", VMGROUP_UID/VMGROUP_UNAME),
ROLE = "web" ]`` (USE on the group); it leaves when it is DONE
(nubo.core.vmgroups). A group with VMs cannot be deleted nor its template updated.
"""
from __future__ import annotations

from nubo.api.methods.clusters import drop_acl_rules
from nubo.core.ops.common import (authorize_create, check_lock, check_name, fetch,
                                  new_permissions, parse_template)
from nubo.api.methods.generic import (register_chmod, register_chown, register_info,
                                      register_lock, register_pool, register_rename,
                                      register_update)
from nubo.api.registry import Int, Str, api
from nubo.core.ops.context import Call
from nubo.core.ops.vm_refs import VMGROUP, join_vm_group
from nubo.auth import acl as A
from nubo.auth.acl import ObjectType
from nubo.errors import ActionError, InternalError
from nubo.model import vmgroup as rules
from nubo.model.vmgroup import VmGroup, VmGroupError
from nubo.template import Template, VectorAttribute


@api("one.vmgroup.allocate", Str("template"))
def vmgroup_allocate(call: Call, text: str) -> int:
    try:
        name, roles, body = rules.build(parse_template(text))
    except VmGroupError as e:
        raise InternalError(str(e)) from None
    check_name(name)
    pool = call.cloud.pools.vmgroups
    session = call.session
    with call.cloud.db.write() as conn:
        authorize_create(call, VMGROUP)
        taken = pool.oid_by_name(conn, name, session.uid)
        if taken is not None:
            raise InternalError(f"NAME is already taken by VMGroup {taken}.", taken)
        group = VmGroup(pool.next_oid(conn), session.uid, session.gid, session.uname,
                        session.gname, name, new_permissions(call, session.uid, session.gid),
                        None, roles, body)
        pool.insert(conn, group)
    return group.id


@api("one.vmgroup.delete", Int("id"))
def vmgroup_delete(call: Call, oid: int) -> int:
    with call.cloud.db.write() as conn:
        group = fetch(call, conn, VMGROUP, oid, A.MANAGE)
        check_lock(group, A.MANAGE)
        if group.vm_count:
            members = "; ".join(f"{r.name}: {r.vms}" for r in group.roles if r.vms)
            raise ActionError(f"Cannot delete VM group {oid}: it has {group.vm_count} VM(s) "
                              f"({members})", oid)
        call.cloud.pools.vmgroups.delete(conn, oid)
        drop_acl_rules(call, conn, ObjectType.VMGROUP, oid)
    return oid


def _validate_update(call: Call, group: VmGroup, new: Template) -> None:
    """one.vmgroup.update: not while VMs are in it; ROLEs change through role* only."""
    if group.vm_count:
        raise InternalError(f"VM Group has {group.vm_count} VMs", group.id)
    new.remove("ROLE")
    try:
        rules.check_rules(group.roles, new)
    except VmGroupError as e:
        raise InternalError(str(e), group.id) from None


def _role_vector(text: str) -> VectorAttribute:
    vector = parse_template(text).get_vector("ROLE")
    if vector is None:
        raise ActionError("No ROLE attribute in template")
    return vector


def _change_roles(call: Call, oid: int, change) -> int:
    """Run ``change(group)`` on a MANAGE-able, unlocked group and store it (ACTION errors)."""
    with call.cloud.db.write() as conn:
        group = fetch(call, conn, VMGROUP, oid, A.MANAGE)
        check_lock(group, A.MANAGE)
        try:
            change(group)
        except VmGroupError as e:
            raise ActionError(str(e), oid) from None
        call.cloud.pools.vmgroups.update(conn, group)
    return oid


@api("one.vmgroup.roleadd", Int("id"), Str("template"))
def vmgroup_roleadd(call: Call, oid: int, text: str) -> int:
    vector = _role_vector(text)
    return _change_roles(call, oid, lambda g: rules.add_role(g, vector))


@api("one.vmgroup.roledelete", Int("id"), Int("role_id"))
def vmgroup_roledelete(call: Call, oid: int, role_id: int) -> int:
    return _change_roles(call, oid, lambda g: rules.delete_role(g, role_id))


@api("one.vmgroup.roleupdate", Int("id"), Int("role_id"), Str("template"))
def vmgroup_roleupdate(call: Call, oid: int, role_id: int, text: str) -> int:
    vector = _role_vector(text)
    return _change_roles(call, oid, lambda g: rules.update_role(g, role_id, vector))


register_info("vmgroup", VMGROUP)
register_update("vmgroup", VMGROUP, validate=_validate_update)
register_rename("vmgroup", VMGROUP)
register_chown("vmgroup", VMGROUP)
register_chmod("vmgroup", VMGROUP)
register_lock("vmgroup", VMGROUP)
register_pool("vmgrouppool", VMGROUP, "VM_GROUP_POOL", filtered=True)

__all__ = ["VMGROUP", "join_vm_group"]
