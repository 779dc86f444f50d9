"""The objects a VM names, as the VM operations reach them: hosts, system datastores,
images, virtual networks and VM groups.

Their Kinds are written as each family's operations write them, so that
``fetch(call, conn, HOST, ...)`` authorises a deploy exactly as ``one.host.info``
would; and a new VM joins the role its VMGROUP names here, in its allocating
transaction (one.vm.allocate, one.template.instantiate).
"""
from __future__ import annotations

from sqlalchemy import Connection

from nubo.auth import acl as A
from nubo.auth.acl import ObjectType
from nubo.core.ops.common import Kind, authorize, object_auth
from nubo.core.ops.context import Call
from nubo.model import vmgroup as rules
from nubo.model.vm import VirtualMachine
from nubo.model.vm_template import VmTemplateError
from nubo.model.vmgroup import VmGroup, VmGroupError
from nubo.template import TemplateValueError, VectorAttribute

HOST = Kind(lambda c: c.cloud.pools.hosts, ObjectType.HOST, "HOST", owned=False,
            unique_per_owner=False)
DATASTORE = Kind(lambda c: c.cloud.pools.datastores, ObjectType.DATASTORE, "DATASTORE",
                 unique_per_owner=False)
VNET = Kind(lambda c: c.cloud.pools.vnets, ObjectType.NET, "NET")
IMAGE = Kind(lambda c: c.cloud.pools.images, ObjectType.IMAGE, "IMAGE")
VMGROUP = Kind(lambda c: c.cloud.pools.vmgroups, ObjectType.VMGROUP, "VMGROUP")


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
