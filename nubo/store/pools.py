"""Object pools: each object is a row with its XML body and its indexed columns.

A pool knows how to turn a model object into a row and back, hands out ids
that are never reused, and lists bodies with one query. It does not decide who
may see what: callers pass the filter as a SQLAlchemy clause.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Generic, Iterable, TypeVar

from sqlalchemy import Connection, Table, bindparam, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql import ColumnElement

from nubo.errors import AllocateError, NoExistsError
from nubo.model import xmlobj
from nubo.store.db import TRANSACTION
from nubo.store.hot import HotStatement
from nubo.store.outage import Conflict
from nubo.store.schema import pool_control
from nubo.store.write_cache import WriteCache

T = TypeVar("T")


def owner_columns(obj: Any) -> dict[str, int]:
    """Indexed columns of objects that have an owner, a group and permissions."""
    p = obj.permissions
    return {"uid": obj.uid, "gid": obj.gid, "owner_u": p.owner_u, "group_u": p.group_u,
            "other_u": p.other_u}


_BUMP_ID = HotStatement(update(pool_control).where(pool_control.c.tablename == bindparam("n"))
                        .values(last_oid=pool_control.c.last_oid + 1))
_READ_ID = HotStatement(select(pool_control.c.last_oid)
                        .where(pool_control.c.tablename == bindparam("n")))


def next_id(conn: Connection, name: str) -> int:
    """Reserve the next id of counter ``name`` (a pool's table, or "sched_action"), in the
    caller's transaction; ids are never reused.

    The counter is incremented first and read after: the increment locks its row until
    the transaction ends, so two core processes never read the same last id (a read then
    a write would let both read it)."""
    params = {"n": name}
    if _BUMP_ID.run(conn, params) == 0:
        try:
            with conn.begin_nested():  # the counter's first id: another process may race
                conn.execute(insert(pool_control).values(tablename=name, last_oid=0))
            return 0
        except IntegrityError:
            _BUMP_ID.run(conn, params)  # it did: its row exists now
    row = _READ_ID.one(conn, params)
    assert row is not None
    return int(row[0])


@dataclass
class Pool(Generic[T]):
    table: Table
    cls: type[T]
    noun: str  # as OpenNebula's messages name it: "virtual machine", "host"…
    columns: Callable[[T], dict[str, Any]]
    short: Callable[[T], str] | None = None
    #: Parsed objects kept by the writer (see nubo.store.write_cache); None: parse each time.
    write_cache: WriteCache[T] | None = None

    def __post_init__(self) -> None:
        # The hot single-row statements, built once: building a select() and its
        # cache key costs more than running it.
        t = self.table
        self._q_body = HotStatement(select(t.c.body).where(t.c.oid == bindparam("oid")))
        self._q_versioned = HotStatement(select(t.c.version, t.c.body)
                                         .where(t.c.oid == bindparam("oid")))
        # Reads of a write transaction lock the row until it ends (PostgreSQL, MariaDB;
        # SQLite has one writer and ignores FOR UPDATE): another core process changing
        # the same object waits, so neither update is lost.
        self._q_locked = HotStatement(select(t.c.version, t.c.body)
                                      .where(t.c.oid == bindparam("oid")).with_for_update())
        self._q_update = HotStatement(update(t).where(t.c.oid == bindparam("b_oid"))
                                      .values(version=t.c.version + 1))
        self._q_update_checked = HotStatement(
            update(t).where(t.c.oid == bindparam("b_oid"), t.c.version == bindparam("b_read"))
            .values(version=t.c.version + 1))

    @property
    def tag(self) -> str:
        return self.cls.TAG  # type: ignore[attr-defined]

    # ids ------------------------------------------------------------------
    def next_oid(self, conn: Connection) -> int:
        """Reserve the next id; the counter row lives in the same transaction."""
        return next_id(conn, self.table.name)

    # rows -----------------------------------------------------------------
    def _row(self, obj: T) -> dict[str, Any]:
        row = {"oid": obj.id, "name": obj.name,  # type: ignore[attr-defined]
               "body": xmlobj.render(obj, self.tag), **self.columns(obj)}
        if self.short is not None:
            row["short_body"] = self.short(obj)
        return row

    def insert(self, conn: Connection, obj: T) -> T:
        conn.execute(insert(self.table).values(**self._row(obj)))
        return obj

    def update(self, conn: Connection, obj: T) -> T:
        self.store(conn, obj)
        return obj

    def store(self, conn: Connection, obj: T) -> str:
        """``update``, returning the body it wrote (the driver payload of a VM).

        An object read in this write transaction is written only if its row still has
        the version read: otherwise another writer changed it meanwhile and writing would
        lose that change, so Conflict is raised (nothing of the transaction commits; the
        caller's work is tried again)."""
        row = self._row(obj)
        oid = row.pop("oid")
        row["b_oid"] = oid
        read = conn.info.get(TRANSACTION)
        key = (self.table, oid)
        version = read.get(key) if read is not None else None
        if version is None:
            changed = self._q_update.run(conn, row)
        else:
            row["b_read"] = version
            changed = self._q_update_checked.run(conn, row)
        if changed != 1:
            if version is not None and self.exists(conn, oid):
                raise Conflict(f"{self.noun} {oid} changed since version {version} was read")
            raise NoExistsError(f"Error getting {self.noun} [{oid}].", oid)
        if version is not None:
            read[key] = version + 1  # type: ignore[index]
        if self.write_cache is not None:
            self.write_cache.stored(conn, oid, obj)
        return row["body"]

    def delete(self, conn: Connection, oid: int) -> None:
        conn.execute(delete(self.table).where(self.table.c.oid == oid))
        if self.write_cache is not None:
            self.write_cache.forget(oid)

    # reads ----------------------------------------------------------------
    def _read(self, conn: Connection, oid: int) -> str | None:
        """The body; in a write transaction, its row locked and its version noted
        (``store`` checks it)."""
        read = conn.info.get(TRANSACTION)
        if read is None:
            row = self._q_body.one(conn, {"oid": oid})
            return None if row is None else row[0]
        row = self._q_locked.one(conn, {"oid": oid})
        if row is None:
            return None
        read[(self.table, oid)] = row[0]
        return row[1]

    def body(self, conn: Connection, oid: int) -> str:
        body = self._read(conn, oid)
        if body is None:
            raise NoExistsError(f"Error getting {self.noun} [{oid}].", oid)
        return body

    def get(self, conn: Connection, oid: int) -> T:
        return xmlobj.parse(self.cls, self.body(conn, oid))

    def find(self, conn: Connection, oid: int) -> T | None:
        body = self._read(conn, oid)
        return None if body is None else xmlobj.parse(self.cls, body)

    def take(self, conn: Connection, oid: int) -> T | None:
        """``find`` for a write transaction that may change the object (and then stores
        it with ``update``): served from the write cache when the row is unchanged."""
        read = conn.info.get(TRANSACTION)
        if self.write_cache is None or read is None:
            return self.find(conn, oid)
        row = self._q_locked.one(conn, {"oid": oid})
        if row is None:
            return None
        version, body = row
        read[(self.table, oid)] = version
        return self.write_cache.take(conn, oid, version, lambda: xmlobj.parse(self.cls, body))

    def exists(self, conn: Connection, oid: int) -> bool:
        return conn.execute(select(self.table.c.oid).where(self.table.c.oid == oid)).first() \
            is not None

    def oid_by_name(self, conn: Connection, name: str, uid: int | None = None) -> int | None:
        q = select(self.table.c.oid).where(self.table.c.name == name)
        if uid is not None:
            q = q.where(self.table.c.uid == uid)
        return conn.execute(q.limit(1)).scalar()

    def check_name_free(self, conn: Connection, name: str, uid: int | None = None) -> None:
        """Refuse a name already taken, with OpenNebula's message."""
        oid = self.oid_by_name(conn, name, uid)
        if oid is not None:
            raise AllocateError(f"NAME is already taken by {self.tag} {oid}.", oid)

    def select_rows(self, conn: Connection, where: ColumnElement[bool] | None, *,
                    columns: Iterable[Any] | None = None, order_desc: bool = False,
                    offset: int | None = None, limit: int | None = None) -> list[Any]:
        cols = list(columns) if columns is not None else [self.table.c.body]
        q = select(*cols)
        if where is not None:
            q = q.where(where)
        q = q.order_by(self.table.c.oid.desc() if order_desc else self.table.c.oid)
        if limit is not None:
            q = q.limit(limit)
        if offset:
            q = q.offset(offset)
        return conn.execute(q).all()

    def bodies(self, conn: Connection, where: ColumnElement[bool] | None = None, *,
               short: bool = False, order_desc: bool = False, offset: int | None = None,
               limit: int | None = None) -> list[str]:
        col = self.table.c.short_body if short else self.table.c.body
        return [r[0] for r in self.select_rows(conn, where, columns=[col], order_desc=order_desc,
                                               offset=offset, limit=limit)]

    def count(self, conn: Connection, where: ColumnElement[bool] | None = None) -> int:
        q = select(func.count()).select_from(self.table)
        if where is not None:
            q = q.where(where)
        return int(conn.execute(q).scalar_one())
