"""The journal of awaited operations: what driver operation an object waits for.

Commit before send: an object's new state and the operation it now awaits are
committed in one transaction before the operation goes to a driver, so a crash
between the two leaves an entry saying what to ask again, never an operation that
ran for a state nobody stored. The answer is matched to the entry by ``seq`` (a
number that tells this sending from an earlier one), so a stale answer is dropped.

VMs were its first users (the life-cycle manager, nubo.core.vm_commit); the same
journal serves any object a driver works on for a while -- an image being copied
(DS_MAD), a datastore, a virtual network (VN_MAD) -- keyed by the object's kind and
id (table ``awaited_operation``, at most one entry per object). Every function
works in the caller's transaction; the hot ones run on the DBAPI cursor
(nubo.store.hot), as a VM transition reads and writes its entry each time.
"""
from __future__ import annotations

from typing import Final, NamedTuple

from sqlalchemy import Connection, bindparam, delete, func, insert, select, update

from nubo.store.hot import HotStatement
from nubo.store.schema import awaited_operation

#: Object kinds, as OpenNebula's ACL names them.
VM: Final = "VM"
IMAGE: Final = "IMAGE"
DATASTORE: Final = "DATASTORE"
NET: Final = "NET"
HOST: Final = "HOST"
KINDS: Final = frozenset({VM, IMAGE, DATASTORE, NET, HOST})


class Entry(NamedTuple):
    """One awaited operation: the driver kind (``vmm``, ``tm``, ``ds``...) and action,
    the host it runs on (-1: none) and its ``seq``. (A tuple: read at every VM
    transition, it must cost no more than the row it comes from.)"""

    kind: str
    oid: int
    driver: str
    action: str
    host_id: int
    seq: int


_c = awaited_operation.c
_Q_GET = HotStatement(select(_c.driver, _c.action, _c.host_id, _c.seq)
                      .where(_c.object_kind == bindparam("kind"),
                             _c.object_id == bindparam("oid")))
_Q_DROP = HotStatement(delete(awaited_operation)
                       .where(_c.object_kind == bindparam("b_kind"),
                              _c.object_id == bindparam("b_oid")))
_Q_ADD = HotStatement(insert(awaited_operation))
_Q_RENUMBER = HotStatement(update(awaited_operation)
                           .where(_c.object_kind == bindparam("b_kind"),
                                  _c.object_id == bindparam("b_oid"))
                           .values(seq=bindparam("seq")))


def awaited(conn: Connection, kind: str, oid: int) -> Entry | None:
    """The operation the object awaits, or None."""
    row = _Q_GET.one(conn, {"kind": kind, "oid": oid})
    return None if row is None else Entry(kind, oid, *row)


def forget(conn: Connection, kind: str, oid: int) -> None:
    """The object awaits nothing (its answer came, or it was deleted)."""
    _Q_DROP.run(conn, {"b_kind": kind, "b_oid": oid})


def expect(conn: Connection, kind: str, oid: int, *, driver: str, action: str,
           host_id: int, seq: int) -> None:
    """The object now awaits ``action`` (replacing what it awaited before)."""
    if kind not in KINDS:
        raise ValueError(f"unknown object kind {kind!r} for the journal")
    _Q_DROP.run(conn, {"b_kind": kind, "b_oid": oid})
    _Q_ADD.run(conn, {"object_kind": kind, "object_id": oid, "seq": seq, "driver": driver,
                      "action": action, "host_id": host_id})


def renumber(conn: Connection, kind: str, oid: int, seq: int) -> None:
    """The same operation sent again (reconciliation): only the new answer counts."""
    _Q_RENUMBER.run(conn, {"b_kind": kind, "b_oid": oid, "seq": seq})


def pending(conn: Connection, kind: str) -> list[tuple[int, int]]:
    """(object id, seq) of every object of ``kind`` awaiting an operation, by id:
    what a restarted core asks about again."""
    rows = conn.execute(select(_c.object_id, _c.seq).where(_c.object_kind == kind)
                        .order_by(_c.object_id)).all()
    return [(r.object_id, r.seq) for r in rows]


def count(conn: Connection, kind: str | None = None) -> int:
    """How many objects (of ``kind``, or of every kind) await an operation."""
    query = select(func.count()).select_from(awaited_operation)
    if kind is not None:
        query = query.where(_c.object_kind == kind)
    return conn.execute(query).scalar_one()
