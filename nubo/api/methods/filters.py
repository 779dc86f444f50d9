"""Pool listings: OpenNebula's filter flags, id ranges and pagination as SQL.

filter -4 the objects of the requester's primary group they may USE, -3 the
requester's objects, -2 everything the requester may USE, -1 the requester's
objects plus those of their groups they may USE, N >= 0 the objects of user N
the requester may USE.
start/end: (-1, -1) all; (a, -1) ids >= a; (a, b) a <= id <= b; (offset, -n) a
page of n objects starting at row offset.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Table, and_, false, or_, select, true
from sqlalchemy.sql import ColumnElement

from nubo.core.ops.context import Call
from nubo.api.wire import EscapedParts
from nubo.auth.acl import USE
from nubo.errors import ApiError
from nubo.store import last_poll
from nubo.store.schema import vm_pool

ALL, MINE, MINE_GROUP, PRIMARY_GROUP = -2, -3, -1, -4


@dataclass
class Listing:
    where: ColumnElement[bool]
    offset: int | None
    limit: int | None
    desc: bool


def use_filter(call: Call, table: Table, acl_type: int) -> ColumnElement[bool] | None:
    """The objects the requester may USE by permission bits or ACL; None means all."""
    if call.session.is_admin:
        return None
    req = call.session.requester
    found = call.cloud.acl_index().reverse_search(req, acl_type, USE)
    if found.all:
        return None
    c = table.c
    terms: list[ColumnElement[bool]] = [c.uid == req.uid, c.other_u == 1]
    terms += [and_(c.gid == g, c.group_u == 1) for g in sorted(req.group_ids)]
    if found.oids:
        terms.append(c.oid.in_(sorted(found.oids)))
    if found.gids:
        terms.append(c.gid.in_(sorted(found.gids)))
    return or_(*terms)


def listing(call: Call, table: Table, acl_type: int, filter_flag: int, start: int,
            end: int) -> Listing:
    if filter_flag < PRIMARY_GROUP:
        raise ApiError("Incorrect filter_flag")
    c = table.c
    req = call.session.requester
    allowed = use_filter(call, table, acl_type)
    if filter_flag == MINE:
        where: ColumnElement[bool] = c.uid == req.uid
    elif filter_flag == PRIMARY_GROUP:  # not every object of the group: OpenNebula's #6952
        where = c.gid == req.gid if allowed is None else and_(c.gid == req.gid, allowed)
    elif filter_flag == MINE_GROUP:
        groups = c.gid.in_(sorted(req.group_ids)) if req.group_ids else false()
        where = or_(c.uid == req.uid, groups if allowed is None else and_(groups, allowed))
    elif filter_flag == ALL:
        where = true() if allowed is None else allowed
    else:
        where = c.uid == filter_flag
        if allowed is not None and filter_flag != req.uid:
            where = and_(where, allowed)
    offset = limit = None
    if start != -1 and end >= -1:
        where = and_(where, c.oid >= start)
        if end != -1:
            where = and_(where, c.oid <= end)
    elif end < -1:
        if start < 0:
            raise ApiError("Incorrect pagination: the offset (start) must be >= 0")
        offset, limit = start, -end
    desc = call.cloud.config.api_list_order.upper() == "DESC"
    return Listing(where, offset, limit, desc)


def pool_xml(root: str, bodies: list[str]) -> str:
    return f"<{root}>{''.join(bodies)}</{root}>"


def wire_pool_xml(call: Call, root: str, table: Table, where: ColumnElement[bool] | None, *,
                  column: str = "body", order_desc: bool = False, offset: int | None = None,
                  limit: int | None = None) -> str:
    """A pool document whose bodies come from the listing cache, already in wire form.

    The reply is written piece by piece: the biggest listings (tens of MB) are
    never decoded, escaped or copied into one string.
    """
    if call.listings is None:  # calls made outside the request manager (bootstrap, tests)
        from nubo.api.wire import escape_text
        rows = select_column(call, table, column, where, order_desc, offset, limit)
        return EscapedParts([f"&lt;{root}&gt;".encode(), *map(escape_text, rows),
                             f"&lt;/{root}&gt;".encode()])
    with call.cloud.db.read() as conn:
        parts = call.listings.parts(conn, table, column, where, order_desc=order_desc,
                                    offset=offset, limit=limit)
    return EscapedParts([f"&lt;{root}&gt;".encode(), *parts, f"&lt;/{root}&gt;".encode()])


def select_column(call: Call, table: Table, column: str, where: ColumnElement[bool] | None,
                  order_desc: bool, offset: int | None, limit: int | None) -> list[str]:
    polled = table is vm_pool  # VM bodies are read with their last poll
    q = last_poll.joined(table, table.c[column]) if polled else select(table.c[column])
    if where is not None:
        q = q.where(where)
    q = q.order_by(table.c.oid.desc() if order_desc else table.c.oid).limit(limit).offset(offset)
    with call.cloud.db.read() as conn:
        if polled:
            return [last_poll.spliced(*row) for row in conn.execute(q)]
        return list(conn.execute(q).scalars())
