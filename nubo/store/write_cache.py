"""Parsed objects the writer keeps between its transactions, keyed by row version.

Parsing a VM's or a host's XML body costs more than every other read of a life-cycle
transition together, and the same VM is read again by each of its transitions (the
action, then each driver answer). The core is the only writer and its writes are
serialised (Database.write), so it can keep the objects it wrote and skip the parse
when the row still has the version it wrote.

An object is *taken* out of the cache by a write transaction, so nobody else holds it
while it changes, and put back with the row's new version only when that transaction
has committed: a rollback leaves no half-changed object behind, and a row changed by
any other path (Pool.update always bumps the version) no longer matches its entry.
Whoever takes an object must change it only through ``Pool.update`` before the
transaction ends; an object changed and not stored would come back wrong.
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Any, Callable, Generic, TypeVar

from sqlalchemy import Connection

from nubo.store.db import TRANSACTION, on_commit

T = TypeVar("T")


class WriteCache(Generic[T]):
    """A bounded LRU of (version, object) by id, for one pool."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._items: OrderedDict[int, tuple[int, T]] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._items)

    def take(self, conn: Connection, oid: int, version: int, parse: Callable[[], T]) -> T:
        """The object at ``version``: the cached one if it is that version (it leaves
        the cache), else ``parse()``. In a write transaction it comes back to the cache
        when the transaction commits; elsewhere it is simply the caller's."""
        entry = self._items.pop(oid, None)
        if entry is not None and entry[0] == version:
            self.hits += 1
            obj = entry[1]
        else:
            self.misses += 1
            obj = parse()
        scratch: dict[Any, Any] | None = conn.info.get(TRANSACTION)
        if scratch is not None:
            taken = scratch.get(self)
            if taken is None:
                taken = scratch[self] = {}
                on_commit(conn, lambda: self._put_back(taken))
            taken[oid] = [obj, version]
        return obj

    def stored(self, conn: Connection, oid: int, obj: T) -> None:
        """``obj`` was just written: its row's version went up by one."""
        scratch = conn.info.get(TRANSACTION)
        taken = scratch.get(self) if scratch is not None else None
        entry = taken.get(oid) if taken is not None else None
        if entry is None:
            return
        if entry[0] is obj:
            entry[1] += 1
        else:
            del taken[oid]  # another copy was written: the taken one is stale

    def forget(self, oid: int) -> None:
        self._items.pop(oid, None)

    def _put_back(self, taken: dict[int, list[Any]]) -> None:
        for oid, (obj, version) in taken.items():
            self._items[oid] = (version, obj)
            self._items.move_to_end(oid)
        while len(self._items) > self.capacity:
            self._items.popitem(last=False)
