"""Pool listings: which objects a requester sees, as OpenNebula's filter flags decide.

filter -4 the objects of the requester's primary group they may USE, -3 the
requester's objects, -2 everything the requester may USE, -1 the requester's
objects plus those of their groups they may USE, N >= 0 the objects of user N
the requester may USE.
start/end: (-1, -1) all; (a, -1) ids >= a; (a, b) a <= id <= b; (offset, -n) a
page of n objects starting at row offset.

The answer is a SQL condition and a page, so that a front streams the rows in its own
form (nubo.api.methods.listing_wire writes them as the XML-RPC reply) without a rule of its own.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Table, and_, false, or_, true
from sqlalchemy.sql import ColumnElement

from nubo.auth.acl import USE
from nubo.auth.authorize import authorize as acl_authorize
from nubo.core.ops.common import Kind, object_auth
from nubo.core.ops.call import Call
from nubo.errors import ApiError
from nubo.model import xmlobj

ALL, MINE, MINE_GROUP, PRIMARY_GROUP = -2, -3, -1, -4


@dataclass
class Listing:
    """The rows of a pool listing: a condition, a page, and their order."""

    where: ColumnElement[bool]
    offset: int | None
    limit: int | None
    desc: bool


def order_desc(call: Call) -> bool:
    """api_list_order: listings newest first when DESC."""
    return call.cloud.config.api_list_order.upper() == "DESC"


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
    """The rows of an owned object's pool listing the requester asked for and may see."""
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
    return Listing(where, offset, limit, order_desc(call))


def usable_ids(call: Call, kind: Kind) -> list[int] | None:
    """The objects of an unowned type (hosts, clusters) the requester may USE.

    None means all of them: oneadmin's group or a ``TYPE/*`` rule, with no
    per-row work. Otherwise rules naming single objects or clusters decide,
    checked object by object as one.<type>.info does.
    """
    if call.session.is_admin or call.cloud.acl_index().reverse_search(
            call.session.requester, kind.acl_type, USE).all:
        return None
    pool = kind.pool(call)
    with call.cloud.db.read() as conn:
        objs = [xmlobj.parse(pool.cls, body) for body in pool.bodies(conn, None)]
    rules, req = call.cloud.acl_index(), call.session.requester
    return [o.id for o in objs if acl_authorize(req, USE, object_auth(kind, o), rules)]


def unowned_where(call: Call, kind: Kind) -> ColumnElement[bool] | None:
    """The rows of an unowned type's pool the requester may see (None: all)."""
    ids = usable_ids(call, kind)
    return None if ids is None else kind.pool(call).table.c.oid.in_(ids)


def visible_rows(call: Call, kind: Kind) -> list[tuple[int, str]]:
    """(id, body) of every object of an unowned type the requester may USE, in the
    configured order: USER_POOL and GROUP_POOL, whose rows are read one by one."""
    pool = kind.pool(call)
    with call.cloud.db.read() as conn:
        rows = pool.select_rows(conn, None, columns=[pool.table.c.oid, pool.table.c.body],
                                order_desc=order_desc(call))
    if call.session.is_admin:
        return [(oid, body) for oid, body in rows]
    rules, req = call.cloud.acl_index(), call.session.requester
    return [(oid, body) for oid, body in rows
            if acl_authorize(req, USE, object_auth(kind, xmlobj.parse(pool.cls, body)), rules)]
