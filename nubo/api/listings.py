"""Pool listings served from memory: the wire form of each row, refreshed by version.

A listing of 20,000 VMs is tens of MB. Reading, decoding and escaping all of it
for every call would make one.vmpool.info cost hundreds of milliseconds. The
cache keeps each row's escaped UTF-8 body with the row's version; a listing
reads only (oid, version) for the rows it selects and fetches again just the
bodies whose version moved (every update bumps it). Under churn a call costs
the ids of its rows plus the changed bodies; nothing stale is ever served,
since versions come from the same database the call reads.

VM bodies are read with their last poll (nubo.store.last_poll), which monitoring
writes beside them without moving their versions: a VM's entry is kept with the
LAST_POLL it was spliced with, and a new poll only splices the new MONITORING into
the cached wire form. Image and security group bodies are read with their VMs
(nubo.store.members), which move their row's version whenever they change.

Some entries are more than a stored column: a virtual network's pool entry is its short
body with the ALLOCATED leases of the lease table. Such a listing passes a ``render``
(stored texts -> entries, read in the same transaction); what it renders is cached by
the row's version like a plain body, which holds because every change of a network's
leases also writes its row (``nubo.core.leases.save``). Rows are read before what
``render`` reads, so an entry is never older than the version it is kept under.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Callable

from sqlalchemy import Connection, Table, null, select
from sqlalchemy.sql import ColumnElement

from nubo.model.vm_poll import wire_with_poll
from nubo.store import last_poll, members
from nubo.store.schema import vm_pool

FETCH_CHUNK = 500  # ids per IN (...) when fetching changed bodies
#: Stored texts (oid -> column) to the entries to list, read on the listing's connection.
Render = Callable[[Connection, dict[int, str]], dict[int, str]]


class ListingCache:
    def __init__(self, escape: Callable[[str], bytes], max_bytes: int = 512 * 1024 * 1024) -> None:
        self._escape = escape
        self._max_bytes = max_bytes
        self._bytes = 0
        # (table, column, oid) -> (version, LAST_POLL spliced in or None, wire form)
        self._entries: OrderedDict[tuple[str, str, int],
                                   tuple[int, int | None, bytes]] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def parts(self, conn: Connection, table: Table, column: str,
              where: ColumnElement[bool] | None, *, order_desc: bool = False,
              offset: int | None = None, limit: int | None = None,
              render: Render | None = None) -> list[bytes]:
        """The escaped bodies (``column``, or what ``render`` makes of them) of the
        selected rows, in listing order."""
        c = table.c
        polled = table is vm_pool
        q = last_poll.joined(table, c.oid, c.version) if polled else \
            select(c.oid, c.version, null().label("last_poll"))
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
        repoll: dict[int, tuple[int, int]] = {}  # oid -> (listing index, cached version)
        name, form = table.name, _form(column, render)
        with self._lock:
            entries = self._entries
            for i, row in enumerate(rows):
                oid, version, stamp = row[0], row[1], row[2]
                entry = entries.get((name, form, oid))
                if entry is None or entry[0] != version:
                    stale[oid] = i
                elif entry[1] == stamp:
                    out[i] = entry[2]
                else:
                    repoll[oid] = (i, version)
            self.hits += len(rows) - len(stale) - len(repoll)
            self.misses += len(stale) + len(repoll)
        if repoll:
            self._repoll(conn, column, repoll, out, stale)
        if stale:
            self._fetch(conn, table, column, stale, out, render)
        return out  # type: ignore[return-value]

    def _repoll(self, conn: Connection, column: str, repoll: dict[int, tuple[int, int]],
                out: list[bytes | None], stale: dict[int, int]) -> None:
        """VMs polled since cached: their new MONITORING spliced into the cached body."""
        fresh = last_poll.polls(conn, repoll)
        with self._lock:
            for oid, (i, version) in repoll.items():
                key = (vm_pool.name, column, oid)
                entry = self._entries.get(key)
                poll = fresh.get(oid)
                if entry is None or entry[0] != version or poll is None:
                    stale[oid] = i  # evicted or changed meanwhile: fetched whole
                    continue
                wire = wire_with_poll(entry[2], poll[0], self._escape(poll[1]))
                self._bytes += len(wire) - len(entry[2])
                self._entries[key] = (version, poll[0], wire)
                out[i] = wire

    def _fetch(self, conn: Connection, table: Table, column: str, stale: dict[int, int],
               out: list[bytes | None], render: Render | None = None) -> None:
        c = table.c
        polled = table is vm_pool
        ids = list(stale)
        fresh: list[tuple[int, int, int | None, bytes]] = []
        for start in range(0, len(ids), FETCH_CHUNK):
            chunk = ids[start:start + FETCH_CHUNK]
            q = last_poll.joined(table, c.oid, c.version, c[column]) if polled else \
                select(c.oid, c.version, c[column], null().label("last_poll"),
                       null().label("monitoring"))
            rows = [(oid, version, last_poll.spliced(text, stamp, monitoring), stamp)
                    for oid, version, text, stamp, monitoring
                    in conn.execute(q.where(c.oid.in_(chunk)))]
            splice = members.splicer(table)
            if splice is not None:  # members are read beside the body, at its version
                texts = splice(conn, [(oid, text) for oid, _, text, _ in rows])
                rows = [(oid, version, text, stamp)
                        for (oid, version, _, stamp), text in zip(rows, texts)]
            if render is not None:
                entries = render(conn, {oid: text for oid, _, text, _ in rows})
                rows = [(oid, version, entries[oid], stamp) for oid, version, _, stamp in rows]
            for oid, version, text, stamp in rows:
                wire = self._escape(text)
                out[stale[oid]] = wire
                fresh.append((oid, version, stamp, wire))
        for oid, i in stale.items():
            if out[i] is None:  # deleted since the first query (READ COMMITTED)
                out[i] = b""
        form = _form(column, render)
        with self._lock:
            for oid, version, stamp, wire in fresh:
                key = (table.name, form, oid)
                old = self._entries.pop(key, None)
                if old is not None:
                    self._bytes -= len(old[2])
                self._entries[key] = (version, stamp, wire)
                self._bytes += len(wire)
            while self._bytes > self._max_bytes and self._entries:
                _, (_, _, dropped) = self._entries.popitem(last=False)
                self._bytes -= len(dropped)

    @property
    def size_bytes(self) -> int:
        return self._bytes


def _form(column: str, render: Render | None) -> str:
    """What an entry is, in the cache's key: the column, or the column as rendered."""
    return column if render is None else f"{column}>{render.__module__}.{render.__qualname__}"
