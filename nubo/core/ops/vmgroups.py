"""VM group operations: VM groups, their roles, and VMs joining them.

The rules (role names, policies, affinity consistency) are nubo.model.vmgroup's;
here they are authorised (MANAGE on the group for its changes, as oned's basic
authorisation) and stored. A VM joins a role at allocate/instantiate with
``VMGROUP = [ VMGROUP_ID = 3 (or VMGROUP_NAME = "db", VMGROUP_UID/VMGROUP_UNAME),
ROLE = "web" ]`` (USE on the group); it leaves when it is DONE
(nubo.core.vmgroup_membership). A group with VMs cannot be deleted nor its template updated.
"""
from __future__ import annotations

from typing import Callable

from sqlalchemy import Connection

from nubo.auth import acl as A
from nubo.auth.acl import ObjectType
from nubo.core.ops.clusters import drop_acl_rules
from nubo.core.ops.common import (Kind, authorize, authorize_create, check_lock, check_name,
                                  fetch, new_permissions, object_auth)
from nubo.core.ops.call import Call
from nubo.errors import ActionError, InternalError
from nubo.model import vmgroup as rules
from nubo.model.vm import VirtualMachine
from nubo.model.vm_template import VmTemplateError
from nubo.model.vmgroup import VmGroup, VmGroupError
from nubo.template import Template, TemplateValueError, VectorAttribute

VMGROUP = Kind(lambda c: c.cloud.pools.vmgroups, ObjectType.VMGROUP, "VMGROUP")


def allocate_vmgroup(call: Call, template: Template) -> int:
    """A new VM group of the caller's, with the roles its template describes."""
    try:
        name, roles, body = rules.build(template)
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


def delete_vmgroup(call: Call, oid: int) -> None:
    """Only a group without VMs goes; the ACL rules naming it go with it."""
    with call.cloud.db.write() as conn:
        group = fetch(call, conn, VMGROUP, oid, A.MANAGE)
        check_lock(group, A.MANAGE)
        if group.vm_count:
            members = "; ".join(f"{r.name}: {r.vms}" for r in group.roles if r.vms)
            raise ActionError(f"Cannot delete VM group {oid}: it has {group.vm_count} VM(s) "
                              f"({members})", oid)
        call.cloud.pools.vmgroups.delete(conn, oid)
        drop_acl_rules(call, conn, ObjectType.VMGROUP, oid)


def check_vmgroup_update(call: Call, group: VmGroup, new: Template) -> None:
    """one.vmgroup.update: not while VMs are in it; ROLEs change through role* only."""
    if group.vm_count:
        raise InternalError(f"VM Group has {group.vm_count} VMs", group.id)
    new.remove("ROLE")
    try:
        rules.check_rules(group.roles, new)
    except VmGroupError as e:
        raise InternalError(str(e), group.id) from None


def _role_vector(template: Template) -> VectorAttribute:
    vector = template.get_vector("ROLE")
    if vector is None:
        raise ActionError("No ROLE attribute in template")
    return vector


def _change_roles(call: Call, oid: int, change: Callable[[VmGroup], object]) -> None:
    """Run ``change(group)`` on a MANAGE-able, unlocked group and store it (ACTION errors)."""
    with call.cloud.db.write() as conn:
        group = fetch(call, conn, VMGROUP, oid, A.MANAGE)
        check_lock(group, A.MANAGE)
        try:
            change(group)
        except VmGroupError as e:
            raise ActionError(str(e), oid) from None
        call.cloud.pools.vmgroups.update(conn, group)


def add_role(call: Call, oid: int, template: Template) -> None:
    """A new role from the template's ROLE vector."""
    vector = _role_vector(template)
    _change_roles(call, oid, lambda g: rules.add_role(g, vector))


def delete_role(call: Call, oid: int, role_id: int) -> None:
    _change_roles(call, oid, lambda g: rules.delete_role(g, role_id))


def update_role(call: Call, oid: int, role_id: int, template: Template) -> None:
    """Role role_id changed by the template's ROLE vector."""
    vector = _role_vector(template)
    _change_roles(call, oid, lambda g: rules.update_role(g, role_id, vector))


# -- a VM joining its group (one.vm.allocate, one.template.instantiate) ------------------------

def _find_group(call: Call, conn: Connection, vector: VectorAttribute) -> VmGroup | None:
    """VMGROUP_NAME (of VMGROUP_UID, VMGROUP_UNAME or the caller) or VMGROUP_ID."""
    pool = call.cloud.pools.vmgroups
    try:
        name = (vector.get("VMGROUP_NAME") or "").strip()
        if name:
            uid = vector.get_int("VMGROUP_UID")
            uname = (vector.get("VMGROUP_UNAME") or "").strip()
            if uid is None and uname:
                uid = call.cloud.pools.users.oid_by_name(conn, uname)
                if uid is None:
                    return None
            oid = pool.oid_by_name(conn, name, call.uid if uid is None else uid)
        else:
            oid = vector.get_int("VMGROUP_ID")
    except TemplateValueError as e:
        raise VmTemplateError(f"Wrong VMGROUP attribute: {e}") from None
    return None if oid is None else pool.find(conn, oid)


def join_vm_group(call: Call, conn: Connection, vm: VirtualMachine) -> None:
    """Put a new VM in the role its VMGROUP names (USE on the group), in its transaction."""
    vector = vm.template.get_vector("VMGROUP")
    if vector is None:
        return
    role = (vector.get("ROLE") or "").strip()
    if not role:
        raise VmTemplateError("Missing role name in VM Group definition")
    group = _find_group(call, conn, vector)
    if group is None:
        raise VmTemplateError("Cannot find VM Group to associate the VM")
    authorize(call, A.USE, object_auth(VMGROUP, group), VMGROUP.acl_name)
    try:
        rules.add_vm(group, role, vm.id)
    except VmGroupError as e:
        raise VmTemplateError(str(e)) from None
    vector.set("VMGROUP_ID", str(group.id))
    vector.set("ROLE", role)
    call.cloud.pools.vmgroups.update(conn, group)
