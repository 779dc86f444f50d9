"""Each VM's last poll (LAST_POLL, MONITORING), stored beside the VM and joined in on reads.

A monitoring round writes one row here per VM it polled (an upsert, batched per host)
and leaves the VM rows alone: their bodies are not rewritten and their versions do
not move, so cached pool listings stay valid. Every read of a VM body (one.vm.info,
the pool listings, the life-cycle's own loads) joins this table and splices the poll
into the body (nubo.model.vm_poll); a VM never polled shows its body's own values.
"""
from __future__ import annotations

from collections import namedtuple
from typing import Any, Iterable, Mapping, TypeVar

from sqlalchemy import Connection, Select, Table, bindparam, select
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.sql import ColumnElement

from nubo.errors import NoExistsError
from nubo.model import xmlobj
from nubo.model.vm_poll import with_poll
from nubo.model.xmlobj import RawXml
from nubo.store.hot import HotStatement
from nubo.store.pools import Pool
from nubo.store.schema import vm_last_poll

T = TypeVar("T")

CHUNK = 500  # ids per IN (...)


def joined(table: Table, *columns: Any) -> Select:
    """``select(columns)`` of the VM table with each row's last poll (None: never polled)
    as its two last columns."""
    t = vm_last_poll
    return (select(*columns, t.c.last_poll, t.c.monitoring)
            .select_from(table.outerjoin(t, t.c.vmid == table.c.oid)))


def spliced(body: str, last_poll: int | None, monitoring: str | None) -> str:
    """A stored VM body as read: with its last poll, if it has one."""
    if last_poll is None or monitoring is None:
        return body
    return with_poll(body, last_poll, monitoring)


def polls(conn: Connection, vm_ids: Iterable[int]) -> dict[int, tuple[int, str]]:
    """(LAST_POLL, MONITORING) of those of ``vm_ids`` polled at least once."""
    t = vm_last_poll
    ids = list(vm_ids)
    out: dict[int, tuple[int, str]] = {}
    for start in range(0, len(ids), CHUNK):
        for vmid, last_poll, monitoring in conn.execute(
                select(t.c.vmid, t.c.last_poll, t.c.monitoring)
                .where(t.c.vmid.in_(ids[start:start + CHUNK]))):
            out[vmid] = (last_poll, monitoring)
    return out


def record(conn: Connection, polled: Mapping[int, tuple[int, str]]) -> None:
    """Store each VM's new last poll (``{vm id: (time, <MONITORING> XML)}``) in one
    statement, whether or not it had one."""
    if not polled:
        return
    rows = [{"vmid": vmid, "last_poll": when, "monitoring": body}
            for vmid, (when, body) in sorted(polled.items())]
    conn.execute(_upsert(conn), rows)


def _upsert(conn: Connection) -> Any:
    """INSERT ... ON CONFLICT / ON DUPLICATE KEY UPDATE in the connection's dialect."""
    t = vm_last_poll
    name = conn.dialect.name
    if name == "postgresql":
        stmt = postgresql.insert(t)
        return stmt.on_conflict_do_update(index_elements=[t.c.vmid], set_={
            "last_poll": stmt.excluded.last_poll, "monitoring": stmt.excluded.monitoring})
    if name in ("mysql", "mariadb"):
        stmt = mysql.insert(t)
        return stmt.on_duplicate_key_update(last_poll=stmt.inserted.last_poll,
                                            monitoring=stmt.inserted.monitoring)
    stmt = sqlite.insert(t)
    return stmt.on_conflict_do_update(index_elements=[t.c.vmid], set_={
        "last_poll": stmt.excluded.last_poll, "monitoring": stmt.excluded.monitoring})


class PolledPool(Pool[T]):
    """The VM pool: every body and object it reads carries the VM's last poll."""

    def __post_init__(self) -> None:
        super().__post_init__()
        t = self.table
        self._q_polled = HotStatement(joined(t, t.c.body).where(t.c.oid == bindparam("oid")))
        self._q_polled_versioned = HotStatement(joined(t, t.c.version, t.c.body)
                                                .where(t.c.oid == bindparam("oid")))

    def body(self, conn: Connection, oid: int) -> str:
        row = self._q_polled.one(conn, {"oid": oid})
        if row is None:
            raise NoExistsError(f"Error getting {self.noun} [{oid}].", oid)
        return spliced(*row)

    def find(self, conn: Connection, oid: int) -> T | None:
        row = self._q_polled.one(conn, {"oid": oid})
        return None if row is None else xmlobj.parse(self.cls, spliced(*row))

    def take(self, conn: Connection, oid: int) -> T | None:
        """``Pool.take``, the object (cached or parsed) brought up to its last poll."""
        if self.write_cache is None:
            return self.find(conn, oid)
        row = self._q_polled_versioned.one(conn, {"oid": oid})
        if row is None:
            return None
        version, body, last_poll, monitoring = row
        obj = self.write_cache.take(conn, oid, version, lambda: xmlobj.parse(self.cls, body))
        if last_poll is not None:
            obj.last_poll = last_poll  # type: ignore[attr-defined]
            obj.monitoring = RawXml(monitoring)  # type: ignore[attr-defined]
        return obj

    def select_rows(self, conn: Connection, where: ColumnElement[bool] | None, *,
                    columns: Iterable[Any] | None = None, order_desc: bool = False,
                    offset: int | None = None, limit: int | None = None) -> list[Any]:
        """``Pool.select_rows``; the bodies among ``columns`` with their last poll."""
        t = self.table
        cols = list(columns) if columns is not None else [t.c.body]
        polled = [i for i, col in enumerate(cols) if col is t.c.body or col is t.c.short_body]
        if not polled:
            return super().select_rows(conn, where, columns=cols, order_desc=order_desc,
                                       offset=offset, limit=limit)
        q = joined(t, *cols)
        if where is not None:
            q = q.where(where)
        q = q.order_by(t.c.oid.desc() if order_desc else t.c.oid).limit(limit).offset(offset)
        row_type = namedtuple("Row", [col.key for col in cols])  # type: ignore[misc]
        out = []
        for row in conn.execute(q):
            values = list(row[:len(cols)])
            for i in polled:
                values[i] = spliced(values[i], row[-2], row[-1])
            out.append(row_type(*values))
        return out
