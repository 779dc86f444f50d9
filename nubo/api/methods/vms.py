"""one.vm.* (allocate and the object methods) and one.vmpool.*: virtual machines.

A VM is born PENDING (or HOLD) from its template (nubo.model.vm_template) and
stays there until the life-cycle methods (deploy, actions) move it; those
belong in their own module and reuse VM, create_vm and the pool below.
one.vmpool.info lists the short bodies stored beside the full ones, so a
listing is one query and a join of stored text.
"""
from __future__ import annotations

from sqlalchemy import Connection, and_, or_
from sqlalchemy.sql import ColumnElement

from nubo.api.methods.clusters import VNET, allocation_problem
from nubo.core.ops.common import (Kind, authorize, authorize_create, new_permissions,
                                     object_auth, parse_template)
from nubo.api.methods.expressions import check_expressions, validate_update  # scheduler
from nubo.api.methods.filters import ALL, listing, pool_xml, wire_pool_xml
from nubo.api.methods.generic import (register_chmod, register_chown, register_info,
                                      register_lock, register_rename, register_update)
from nubo.api.methods.images import IMAGE
from nubo.api.methods.restricted import refuse_restricted, vm_restricted
from nubo.api.methods.vmgroups import join_vm_group
from nubo.api.registry import Bool, Int, Str, api
from nubo.core.ops.context import Call
from nubo.auth import acl as A
from nubo.auth.acl import ObjectType
from nubo.core import sched_actions, sched_events, sched_timer, vm_resources
from nubo.errors import ApiError
from nubo.model.vm import ANY_STATE, CLONING_FAILURE, DONE, NOT_DONE, PENDING
from nubo.model.vm_search import matches, parse_query
from nubo.model.vm_template import Ref, VmTemplateError, build_vm, references
from nubo.model.xmlobj import escape
from nubo.store.pools import Pool
from nubo.template import Template

VM = Kind(lambda c: c.cloud.pools.vms, ObjectType.VM, "VM", unique_names=False)

_EMPTY_POOL = "<VM_POOL></VM_POOL>"


# -- creation, shared with one.template.instantiate ------------------------------------------

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
    """Build, check and store a VM owned by the caller; returns its id."""
    pools = call.cloud.pools
    session = call.session
    oid = pools.vms.next_oid(conn)
    vm = build_vm(oid, template, uid=session.uid, gid=session.gid, uname=session.uname,
                  gname=session.gname, now=call.cloud.now(), hold=hold,
                  permissions=new_permissions(call, session.uid, session.gid))
    problem = allocation_problem(vm.name)
    if problem:
        raise VmTemplateError(problem)
    vm_resources.acquire(conn, pools, vm, session.uid)
    join_vm_group(call, conn, vm)  # vmgroup: VMGROUP = [ VMGROUP_ID, ROLE ]
    if sched_actions.take_from_template(conn, vm):  # vmgroup branch: SCHED_ACTION vectors
        sched_timer.changed(call.cloud, oid, conn)
    pools.vms.insert(conn, vm)
    sched_events.note(conn, vm.state == PENDING)  # wake the scheduler
    return oid


@api("one.vm.allocate", Str("template"), Bool("hold", False))
def vm_allocate(call: Call, text: str, hold: bool) -> int:
    template = parse_template(text)
    check_expressions(template)  # scheduler: SCHED_REQUIREMENTS/SCHED_RANK must parse
    refuse_restricted(call, template, vm_restricted(call), "VM Template")
    with call.cloud.db.write() as conn:
        authorize_create(call, VM)
        authorize_resources(call, conn, template)
        return create_vm(call, conn, template, hold)


# -- one.vmpool.* --------------------------------------------------------------------------

def _state_where(call: Call, state: int) -> ColumnElement[bool] | None:
    """-2 every state, -1 every state but DONE, N that state."""
    column = call.cloud.pools.vms.table.c.state
    if state == ANY_STATE:
        return None
    if state == NOT_DONE:
        return column != DONE
    if 0 <= state <= CLONING_FAILURE:
        return column == state
    raise ApiError("Incorrect filter_flag, state")


def _matching(conn: Connection, pool: Pool, where: ColumnElement[bool], query: str, *,
              short: bool, order_desc: bool) -> list[str]:
    """Bodies whose VM satisfies the query: SQL narrows by substring, the paths decide."""
    terms = parse_query(query)
    c = pool.table.c
    for term in terms:
        if term.value:
            where = and_(where, or_(c.body.contains(term.value, autoescape=True),
                                    c.body.contains(escape(term.value), autoescape=True)))
    rows = pool.select_rows(conn, where, columns=[c.body, c.short_body], order_desc=order_desc)
    return [r.short_body if short else r.body for r in rows if matches(r.body, terms)]


def _dump(call: Call, flag: int, start: int, end: int, state: int, query: str, *,
          extended: bool) -> str:
    pool = call.cloud.pools.vms
    ls = listing(call, pool.table, ObjectType.VM, flag, start, end)
    in_state = _state_where(call, state)
    where = ls.where if in_state is None else and_(ls.where, in_state)
    if not query:
        return wire_pool_xml(call, "VM_POOL", pool.table, where,
                             column="body" if extended else "short_body", order_desc=ls.desc,
                             offset=ls.offset, limit=ls.limit)
    with call.cloud.db.read() as conn:
        bodies = _matching(conn, pool, where, query, short=not extended, order_desc=ls.desc)
    first = ls.offset or 0
    last = None if ls.limit is None else first + ls.limit
    return pool_xml("VM_POOL", bodies[first:last])


@api("one.vmpool.info", Int("filter", -2), Int("start", -1), Int("end", -1),
     Int("state", -1), Str("query", ""))
def vmpool_info(call: Call, flag: int, start: int, end: int, state: int, query: str) -> str:
    """Short bodies (vm_pool.xsd)."""
    return _dump(call, flag, start, end, state, query, extended=False)


@api("one.vmpool.infoextended", Int("filter", -2), Int("start", -1), Int("end", -1),
     Int("state", -1), Str("query", ""))
def vmpool_infoextended(call: Call, flag: int, start: int, end: int, state: int,
                        query: str) -> str:
    """Full bodies (vm_pool_extended.xsd)."""
    return _dump(call, flag, start, end, state, query, extended=True)


@api("one.vmpool.infoset", Str("ids"), Bool("extended", False))
def vmpool_infoset(call: Call, ids_csv: str, extended: bool) -> str:
    """The listed VMs ("3,5,8") the caller may see; a malformed list gives an empty pool."""
    try:
        ids = sorted({int(part) for part in ids_csv.split(",")})
    except ValueError:
        return _EMPTY_POOL
    pool = call.cloud.pools.vms
    ls = listing(call, pool.table, ObjectType.VM, ALL, -1, -1)
    return wire_pool_xml(call, "VM_POOL", pool.table, and_(ls.where, pool.table.c.oid.in_(ids)),
                         column="body" if extended else "short_body", order_desc=ls.desc)


register_info("vm", VM)
register_update("vm", VM, field="user_template", validate=validate_update,  # scheduler
                restricted=lambda call, _vm: vm_restricted(call))
register_rename("vm", VM)
register_chown("vm", VM)
register_chmod("vm", VM)
register_lock("vm", VM)
