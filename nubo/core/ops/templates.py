"""VM template operations: VM templates, and VMs instantiated from them.

Names are unique per owner. The DISKs of a template may point at images, cloned or
deleted with it on recursive=true (nubo.core.ops.template_image_copies).
"""
from __future__ import annotations


from sqlalchemy import Connection

from nubo.auth import acl as A
from nubo.auth.acl import ObjectType
from nubo.auth.authorize import ONEADMIN_GROUP_ID, ONEADMIN_ID
from nubo.core.ops.clusters import allocation_problem, drop_acl_rules
from nubo.core.ops.common import Kind, authorize_create, check_lock, fetch, new_permissions, refuse
from nubo.core.ops.call import Call
from nubo.core.ops.expressions import check_expressions  # scheduler
from nubo.core.ops import generic, template_image_copies as image_copies, vms
from nubo.core.ops.images import IMAGE
from nubo.core.ops.restricted_checks import refuse_restricted, vm_restricted
from nubo.errors import ActionError, AllocateError, InternalError, NuboError
from nubo.model.limits import VM_NUMBERS, check_numbers
from nubo.model.resources import VmTemplate
from nubo.model.vm_template import build_vm_template, instance_template
from nubo.template import SingleAttribute, Template

TEMPLATE = Kind(lambda c: c.cloud.pools.templates, ObjectType.TEMPLATE, "TEMPLATE")

def _image_ids(call: Call, conn: Connection, tmpl: VmTemplate) -> list[int]:
    """The existing images the template's DISKs name (names resolve for the template owner)."""
    return sorted({oid for _, oid in image_copies.disk_images(call, conn, tmpl.template,
                                                                 tmpl.uid)})


def _insert(call: Call, conn: Connection, body: Template, name: str | None = None) -> int:
    """Store a new template of the caller's; NAME comes from the body unless given."""
    pools = call.cloud.pools
    session = call.session
    tmpl = build_vm_template(pools.templates.next_oid(conn), body, uid=session.uid,
                             gid=session.gid, uname=session.uname, gname=session.gname,
                             now=call.cloud.now(),
                             permissions=new_permissions(call, session.uid, session.gid))
    if name is not None:
        tmpl.name = name
    problem = allocation_problem(tmpl.name)
    if problem:
        raise InternalError(problem)
    taken = pools.templates.oid_by_name(conn, tmpl.name, tmpl.uid)
    if taken is not None:
        raise InternalError(f"NAME is already taken by TEMPLATE {taken}.", taken)
    pools.templates.insert(conn, tmpl)
    return tmpl.id


def template_images(call: Call, tid: int) -> list[int]:
    """The images template tid's DISKs name (one.template.chmod recursive changes them too)."""
    with call.cloud.db.read() as conn:
        return _image_ids(call, conn, call.cloud.pools.templates.get(conn, tid))


def allocate_template(call: Call, body: Template) -> int:
    """A new VM template of the caller's; NAME is the body's."""
    check_expressions(body)  # scheduler: SCHED_REQUIREMENTS/SCHED_RANK must parse
    refuse_restricted(call, body, vm_restricted(call), "VM Template")
    check_numbers(body, VM_NUMBERS)
    with call.cloud.db.write() as conn:
        authorize_create(call, TEMPLATE)
        return _insert(call, conn, body)


def clone(call: Call, conn: Connection, tid: int, name: str,
          extra: Template | None = None) -> tuple[int, list[tuple[int, int]]]:
    """A copy of template tid owned by the caller (the extra template merged in); its id
    and the (DISK index, image id) of the images its DISKs name."""
    source = fetch(call, conn, TEMPLATE, tid, A.USE)
    check_lock(source, A.USE)
    authorize_create(call, TEMPLATE)
    body = source.template.copy()
    if extra is not None:
        body.merge(extra)
    disks = image_copies.disk_images(call, conn, source.template, source.uid)
    return _insert(call, conn, body, name), disks


def clone_template(call: Call, tid: int, name: str, recursive: bool,
                   extra: Template | None = None, persistent: bool = False) -> int:
    """A copy of template tid named name; recursive: its DISKs' images cloned too
    (persistent ones for instantiate persistent), its copy pointing at the clones."""
    with call.cloud.db.write() as conn:
        copy_id, disks = clone(call, conn, tid, name, extra)
    if not recursive or not disks:
        return copy_id
    try:
        clones = image_copies.clone_images(call, disks, name, persistent)
    except NuboError:
        with call.cloud.db.write() as conn:
            call.cloud.pools.templates.delete(conn, copy_id)
        raise
    with call.cloud.db.write() as conn:
        copy = call.cloud.pools.templates.get(conn, copy_id)
        image_copies.point_disks(copy.template, clones)
        call.cloud.pools.templates.update(conn, copy)
    return copy_id


def delete_template(call: Call, tid: int, recursive: bool) -> None:
    """Template tid, and the ACL rules naming it (recursive: its images too, refused)."""
    with call.cloud.db.write() as conn:
        tmpl = fetch(call, conn, TEMPLATE, tid, A.MANAGE)
        check_lock(tmpl, A.MANAGE)
        image_ids = _image_ids(call, conn, tmpl) if recursive else []
        call.cloud.pools.templates.delete(conn, tid)
        drop_acl_rules(call, conn, ObjectType.TEMPLATE, tid)
    failed = image_copies.delete_images(call, image_ids)
    if failed:  # oned: the template is gone, the images that could not go are named
        raise ActionError("Cannot delete "
                          f"image{'s' if len(failed) > 1 else ''}: "
                          f"{','.join(map(str, failed))}", tid)


def instantiate_template(call: Call, tid: int, name: str, hold: bool, extra: Template | None,
                         persistent: bool) -> int:
    """A VM from the template: USE on it, CREATE TEMPLATE too when an extra template is given.

    persistent: the VM is made from a private copy of the template, named name, whose
    images are persistent clones of the template's (the VM waits for their copies).
    """
    target = tid
    if persistent:
        with call.cloud.db.read() as conn:
            source = fetch(call, conn, TEMPLATE, tid, A.USE)
            check_lock(source, A.USE)
            _check_instantiable(call, source, extra)
        target = clone_template(call, tid, name or f"{source.name}-copy", True, extra, True)
        with call.cloud.db.read() as conn:
            clones = _image_ids(call, conn, call.cloud.pools.templates.get(conn, target))
        image_copies.wait_ready(call, clones)
        extra = Template([SingleAttribute("CLONING_TEMPLATE_ID", str(tid))])
    with call.cloud.db.write() as conn:
        source = fetch(call, conn, TEMPLATE, target, A.USE)
        check_lock(source, A.USE)
        if not persistent:
            _check_instantiable(call, source, extra)
            if extra is not None:
                authorize_create(call, TEMPLATE)
        merged = instance_template(source, extra, name)
        check_expressions(merged, tid)  # scheduler: the extra template's expressions too
        vms.authorize_resources(call, conn, merged)
        try:
            return vms.create_vm(call, conn, merged, hold)
        except NuboError as e:
            raise AllocateError("Error allocating a new virtual machine template. "
                                + e.message, e.object_id) from None


def _check_instantiable(call: Call, source: VmTemplate, extra: Template | None) -> None:
    """Virtual router templates are not instantiated; restricted attributes as oned."""
    if (source.template.get("VROUTER") or "").upper() == "YES":
        raise refuse("Virtual router templates cannot be instantiated", source.id)
    _refuse_restricted(call, source, extra)


def _refuse_restricted(call: Call, source: VmTemplate, extra: Template | None) -> None:
    """As oned: a template of a non-admin owner must hold no restricted attribute (an
    admin's may: that is how users get them), and the caller's extra template may only
    restate the template's restricted values."""
    owner_is_admin = source.uid == ONEADMIN_ID or source.gid == ONEADMIN_GROUP_ID
    restricted = vm_restricted(call)
    if not owner_is_admin:
        refuse_restricted(call, source.template, restricted, "VM Template", oid=source.id)
    if extra is not None:
        merged = source.template.copy()
        merged.merge(extra)
        refuse_restricted(call, merged, restricted, "User Template", source.template,
                          append=True, oid=source.id)


def chmod_images(call: Call, tid: int, bits: list[int]) -> None:
    """one.template.chmod recursive: the same change on each image of its DISKs, each
    one authorised on its own; the images refused are named together."""
    failed = []
    for iid in template_images(call, tid):
        try:
            generic.chmod(call, IMAGE, iid, bits)
        except NuboError:
            failed.append(str(iid))
    if failed:
        raise ActionError(f"Cannot chmod image: {','.join(failed)}", tid)
