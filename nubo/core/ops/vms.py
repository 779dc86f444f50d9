"""Virtual machines: allocation, shared with one.template.instantiate.

A VM is born PENDING (or HOLD) from its template (nubo.model.vm_template) and
stays there until a life-cycle operation (nubo.core.ops.vm_actions) moves it.
Allocation takes what the VM names in the allocating transaction: an image per
DISK and a lease per NIC (nubo.core.vm_resources), the role its VMGROUP names, its
SCHED_ACTIONs; a refusal leaves nothing behind.
"""
from __future__ import annotations

from sqlalchemy import Connection

from nubo.auth import acl as A
from nubo.auth.acl import ObjectType
from nubo.core import sched_actions, sched_events, sched_timer, vm_resources
from nubo.core.ops.common import (Kind, authorize, authorize_create, check_name,
                                  new_permissions, object_auth, parse_template)
from nubo.core.ops.call import Call
from nubo.core.ops.expressions import check_expressions
from nubo.core.ops.restricted_checks import refuse_restricted, vm_restricted
from nubo.core.ops.clusters import VNET
from nubo.core.ops.images import IMAGE
from nubo.core.ops.vmgroups import join_vm_group
from nubo.core.ops.vm_context import contextualize
from nubo.core.ops import vm_os_files
from nubo.errors import ApiError
from nubo.model.vm import PENDING
from nubo.model.vm_template import Ref, VmTemplateError, build_vm, references
from nubo.store.pools import Pool
from nubo.template import Template

VM = Kind(lambda c: c.cloud.pools.vms, ObjectType.VM, "VM", unique_names=False)


def allocate_vm(call: Call, template_text: str, hold: bool) -> int:
    """one.vm.allocate: a new VM from ``template_text`` owned by the caller, PENDING
    (HOLD if ``hold`` or SUBMIT_ON_HOLD); returns its id."""
    template = parse_template(template_text)
    check_expressions(template)  # scheduler: SCHED_REQUIREMENTS/SCHED_RANK must parse
    refuse_restricted(call, template, vm_restricted(call), "VM Template")
    with call.cloud.db.write() as conn:
        authorize_create(call, VM)
        authorize_resources(call, conn, template)
        return create_vm(call, conn, template, hold)


def resolve_reference(call: Call, conn: Connection, pool: Pool, ref: Ref) -> int | None:
    """The id a DISK/NIC reference names: by id, or by name for its owner (default: caller)."""
    return vm_resources.resolve(conn, call.cloud.pools, pool, ref, call.uid)


def authorize_resources(call: Call, conn: Connection, template: Template) -> None:
    """USE on every image a DISK and network a NIC names, as oned adds them to the request.

    References to objects that do not exist are left to the image and network
    code that acquires them (oned reports those when it takes the image or lease).
    """
    if call.session.is_admin:
        return
    for kind, vectors, what in ((IMAGE, ("DISK",), "IMAGE"),
                                (VNET, ("NIC", "NIC_ALIAS"), "NETWORK")):
        pool = kind.pool(call)
        for ref in references(template, vectors, what):
            oid = resolve_reference(call, conn, pool, ref)
            obj = None if oid is None else pool.find(conn, oid)
            if obj is not None:
                authorize(call, A.USE, object_auth(kind, obj), kind.acl_name)


def create_vm(call: Call, conn: Connection, template: Template, hold: bool) -> int:
    """Build, check and store a VM owned by the caller, in ``conn``; returns its id
    (one.template.instantiate calls it in its own transaction)."""
    pools = call.cloud.pools
    session = call.session
    oid = pools.vms.next_oid(conn)
    vm = build_vm(oid, template, uid=session.uid, gid=session.gid, uname=session.uname,
                  gname=session.gname, now=call.cloud.now(), hold=hold,
                  permissions=new_permissions(call, session.uid, session.gid))
    try:
        check_name(vm.name)
    except ApiError as e:  # OpenNebula's name rules, reported as a template error
        raise VmTemplateError(e.message) from None
    vm_resources.acquire(conn, pools, vm, session.uid)
    contextualize(call, conn, vm)  # ctx: CONTEXT variables, ETHn_*, FILES_DS, TARGET
    vm_os_files.resolve(call, conn, vm)  # OS/KERNEL_DS, INITRD_DS: files datastore images
    join_vm_group(call, conn, vm)  # vmgroup: VMGROUP = [ VMGROUP_ID, ROLE ]
    if sched_actions.take_from_template(conn, vm):  # vmgroup branch: SCHED_ACTION vectors
        sched_timer.changed(call.cloud, oid, conn)
    pools.vms.insert(conn, vm)
    sched_events.note(conn, vm.state == PENDING)  # wake the scheduler
    return oid
