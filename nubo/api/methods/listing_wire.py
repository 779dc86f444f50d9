"""Pool listings on the wire: the rows the core chose (nubo.core.ops.listing), streamed
as the XML-RPC reply.

Which rows a requester sees (filter flags, id ranges, pages) is the core's rule; this
module only writes them, piece by piece, in the wire's escaped form.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.sql import ColumnElement

from nubo.api.listings import Render
from nubo.api.wire import EscapedParts, escape_text
from nubo.core.ops.call import Call
from nubo.errors import NoExistsError
from nubo.store import last_poll, members
from nubo.store.pools import Pool
from nubo.store.schema import vm_pool


def pool_xml(root: str, bodies: list[str]) -> str:
    return f"<{root}>{''.join(bodies)}</{root}>"


def wire_pool_xml(call: Call, root: str, table: Table, where: ColumnElement[bool] | None, *,
                  column: str = "body", order_desc: bool = False, offset: int | None = None,
                  limit: int | None = None, render: Render | None = None) -> str:
    """A pool document whose bodies come from the listing cache, already in wire form.

    The reply is written piece by piece: the biggest listings (tens of MB) are
    never decoded, escaped or copied into one string. With ``render`` the entries are
    what it makes of the stored texts (see ``nubo.api.listings``).
    """
    if call.listings is None:  # calls made outside the request manager (bootstrap, tests)
        rows = select_column(call, table, column, where, order_desc, offset, limit, render)
        return EscapedParts([f"&lt;{root}&gt;".encode(), *map(escape_text, rows),
                             f"&lt;/{root}&gt;".encode()])
    with call.cloud.db.read() as conn:
        parts = call.listings.parts(conn, table, column, where, order_desc=order_desc,
                                    offset=offset, limit=limit, render=render)
    return EscapedParts([f"&lt;{root}&gt;".encode(), *parts, f"&lt;/{root}&gt;".encode()])


def wire_object_xml(call: Call, pool: Pool[Any], oid: int, render: Render) -> str:
    """One object's document rendered from its stored body, served from the listing
    cache while its row's version stands (the caller has authorised the read)."""
    table = pool.table
    if call.listings is None:
        text = select_column(call, table, "body", table.c.oid == oid, False, None, None, render)
        parts = [escape_text(t) for t in text]
    else:
        with call.cloud.db.read() as conn:
            parts = call.listings.parts(conn, table, "body", table.c.oid == oid, render=render)
    if not parts or not parts[0]:  # deleted since it was authorised
        raise NoExistsError(f"Error getting {pool.noun} [{oid}].", oid)
    return EscapedParts(parts)


def select_column(call: Call, table: Table, column: str, where: ColumnElement[bool] | None,
                  order_desc: bool, offset: int | None, limit: int | None,
                  render: Render | None = None) -> list[str]:
    polled = table is vm_pool  # VM bodies are read with their last poll
    q = last_poll.joined(table, table.c[column]) if polled else select(table.c[column])
    splice = members.splicer(table)
    if render is not None or splice is not None:
        q = q.add_columns(table.c.oid)
    if where is not None:
        q = q.where(where)
    q = q.order_by(table.c.oid.desc() if order_desc else table.c.oid).limit(limit).offset(offset)
    with call.cloud.db.read() as conn:
        if polled:
            return [last_poll.spliced(*row) for row in conn.execute(q)]
        if splice is not None:  # image and security group bodies with their VMs
            return splice(conn, [(oid, text) for text, oid in conn.execute(q)])
        if render is not None:
            rows = {oid: text for text, oid in conn.execute(q)}  # dicts keep listing order
            entries = render(conn, rows)
            return [entries[oid] for oid in rows]
        return list(conn.execute(q).scalars())


