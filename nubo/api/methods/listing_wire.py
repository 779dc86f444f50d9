"""Pool listings on the wire: the rows the core chose (nubo.core.ops.listing), streamed
as the XML-RPC reply.

Which rows a requester sees (filter flags, id ranges, pages) is the core's rule; this
module only writes them, piece by piece, in the wire's escaped form.
"""
from __future__ import annotations

from sqlalchemy import Table, select
from sqlalchemy.sql import ColumnElement

from nubo.api.wire import EscapedParts
from nubo.core.ops.call import Call
from nubo.store import image_vms, last_poll
from nubo.store.schema import image_pool, vm_pool


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
    if table is image_pool:  # image bodies with their VMs
        q = select(table.c.oid, table.c[column])
    if where is not None:
        q = q.where(where)
    q = q.order_by(table.c.oid.desc() if order_desc else table.c.oid).limit(limit).offset(offset)
    with call.cloud.db.read() as conn:
        if polled:
            return [last_poll.spliced(*row) for row in conn.execute(q)]
        if table is image_pool:
            return image_vms.spliced(conn, [(oid, text) for oid, text in conn.execute(q)])
        return list(conn.execute(q).scalars())


