"""one.vm.* (allocate and the object methods) and one.vmpool.*: virtual machines.

The operations are the core's (nubo.core.ops.vms); here they are bound to the wire.
one.vmpool.info lists the short bodies stored beside the full ones, so a listing is
one query and a join of stored text.
"""
from __future__ import annotations

from sqlalchemy import Connection, and_, or_
from sqlalchemy.sql import ColumnElement

from nubo.api.methods.listing_wire import pool_xml, wire_pool_xml
from nubo.core.ops.listing import ALL, listing
from nubo.api.methods.generic import (register_chmod, register_chown, register_info,
                                      register_lock, register_rename, register_update)
from nubo.api.method_table import Bool, Int, Str, api
from nubo.auth.acl import ObjectType
from nubo.core.ops.call import Call
from nubo.core.ops.expressions import validate_update  # scheduler
from nubo.core.ops.restricted_checks import vm_restricted
from nubo.core.ops.vms import VM, allocate_vm, authorize_resources, create_vm, resolve_reference
from nubo.errors import ApiError
from nubo.lifecycle.states import VmState
from nubo.model.vm import ANY_STATE, NOT_DONE
from nubo.model.vm_search import matches, parse_query
from nubo.model.xmlobj import escape
from nubo.store.pools import Pool

_EMPTY_POOL = "<VM_POOL></VM_POOL>"


@api("one.vm.allocate", Str("template"), Bool("hold", False))
def vm_allocate(call: Call, text: str, hold: bool) -> int:
    return allocate_vm(call, text, hold)


# -- one.vmpool.* --------------------------------------------------------------------------

def _state_where(call: Call, state: int) -> ColumnElement[bool] | None:
    """-2 every state, -1 every state but DONE, N that state."""
    column = call.cloud.pools.vms.table.c.state
    if state == ANY_STATE:
        return None
    if state == NOT_DONE:
        return column != int(VmState.DONE)
    if 0 <= state <= max(VmState):
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

#: What one.template.instantiate still imports from here (the core's, nubo.core.ops.vms).
__all__ = ["VM", "authorize_resources", "create_vm", "resolve_reference"]
