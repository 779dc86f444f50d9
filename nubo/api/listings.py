"""Pool listings served from memory: the wire form of each row, refreshed by version.

A listing of 20,000 VMs is tens of MB. Reading, decoding and escaping all of it
for every call would make one.vmpool.info cost hundreds of milliseconds. The
cache keeps each row's escaped UTF-8 body with the row's version; a listing
reads only (oid, version) for the rows it selects and fetches again just the
bodies whose version moved (every update bumps it). Under churn a call costs
the ids of its rows plus the changed bodies; nothing stale is ever served,
since versions come from the same database the call reads.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Callable

from sqlalchemy import Connection, Table, select
from sqlalchemy.sql import ColumnElement

FETCH_CHUNK = 500  # ids per IN (...) when fetching changed bodies


class ListingCache:
    def __init__(self, escape: Callable[[str], bytes], max_bytes: int = 512 * 1024 * 1024) -> None:
        self._escape = escape
        self._max_bytes = max_bytes
        self._bytes = 0
        self._entries: OrderedDict[tuple[str, str, int], tuple[int, bytes]] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def parts(self, conn: Connection, table: Table, column: str,
              where: ColumnElement[bool] | None, *, order_desc: bool = False,
              offset: int | None = None, limit: int | None = None) -> list[bytes]:
        """The escaped bodies (``column``) of the selected rows, in listing order."""
        c = table.c
        q = select(c.oid, c.version)
        if where is not None:
            q = q.where(where)
        q = q.order_by(c.oid.desc() if order_desc else c.oid)
        if limit is not None:
            q = q.limit(limit)
        if offset:
            q = q.offset(offset)
        result = conn.execute(q)
        rows = result.cursor.fetchall()  # plain tuples: no Row objects for 20,000 ids
        result.close()
        out: list[bytes | None] = [None] * len(rows)
        stale: dict[int, int] = {}
        name = table.name
        with self._lock:
            entries = self._entries
            for i, (oid, version) in enumerate(rows):
                entry = entries.get((name, column, oid))
                if entry is not None and entry[0] == version:
                    out[i] = entry[1]
                else:
                    stale[oid] = i
            self.hits += len(rows) - len(stale)
            self.misses += len(stale)
        if stale:
            self._fetch(conn, table, column, stale, out)
        return out  # type: ignore[return-value]

    def _fetch(self, conn: Connection, table: Table, column: str, stale: dict[int, int],
               out: list[bytes | None]) -> None:
        c = table.c
        ids = list(stale)
        fresh: list[tuple[int, int, bytes]] = []
        for start in range(0, len(ids), FETCH_CHUNK):
            chunk = ids[start:start + FETCH_CHUNK]
            for oid, version, text in conn.execute(
                    select(c.oid, c.version, c[column]).where(c.oid.in_(chunk))):
                wire = self._escape(text)
                out[stale[oid]] = wire
                fresh.append((oid, version, wire))
        for oid, i in stale.items():
            if out[i] is None:  # deleted since the first query (READ COMMITTED)
                out[i] = b""
        with self._lock:
            for oid, version, wire in fresh:
                key = (table.name, column, oid)
                old = self._entries.pop(key, None)
                if old is not None:
                    self._bytes -= len(old[1])
                self._entries[key] = (version, wire)
                self._bytes += len(wire)
            while self._bytes > self._max_bytes and self._entries:
                _, (_, dropped) = self._entries.popitem(last=False)
                self._bytes -= len(dropped)

    @property
    def size_bytes(self) -> int:
        return self._bytes
