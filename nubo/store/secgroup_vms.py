"""The VMs of each security group: one row per (group, VM) with the state of its rules.

Every VM whose NICs use a group is listed in one of the group's four lists (UPDATED_VMS,
OUTDATED_VMS, UPDATING_VMS, ERROR_VMS, as oned's). Kept in the group's body, group 0
(on every network by default) was parsed and rewritten whole for each new VM, which
made filling a cloud quadratic; the rows live here and every body the pool serves has
the lists spliced in. Objects the pool parses hold empty lists: code that needs the
members asks this module, in its own transaction. A change of members also stores the
group (small without its lists), so its row's version moves and listings see it.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from nubo.model.id_lists_xml import put_ids
from nubo.model.secgroup import SecurityGroup
from nubo.store.pools import Pool
from nubo.store.schema import secgroup_vm

#: The states, in the order of the lists in a body (security_group.xsd).
STATES = ("updated", "outdated", "updating", "error")
CHUNK = 500  # ids per IN (...)
Members = dict[str, list[int]]


def put(conn: Connection, group_id: int, vm_id: int, state: str) -> None:
    """List the VM in the group in ``state`` (wherever it was before)."""
    _check(state)
    t = secgroup_vm
    if not conn.execute(update(t).where(t.c.secgroup_id == group_id, t.c.vm_id == vm_id)
                        .values(state=state)).rowcount:
        conn.execute(insert(t).values(secgroup_id=group_id, vm_id=vm_id, state=state))


def put_all(conn: Connection, group_id: int, vm_ids: Iterable[int], state: str) -> None:
    """Move those of ``vm_ids`` that the group lists to ``state``."""
    _check(state)
    t = secgroup_vm
    ids = list(vm_ids)
    for start in range(0, len(ids), CHUNK):
        conn.execute(update(t).where(t.c.secgroup_id == group_id,
                                     t.c.vm_id.in_(ids[start:start + CHUNK]))
                     .values(state=state))


def remove(conn: Connection, group_id: int, vm_id: int) -> bool:
    """Take the VM out of the group; False if it was not in it."""
    t = secgroup_vm
    return bool(conn.execute(delete(t).where(t.c.secgroup_id == group_id,
                                             t.c.vm_id == vm_id)).rowcount)


def state_of(conn: Connection, group_id: int, vm_id: int) -> str | None:
    t = secgroup_vm
    return conn.execute(select(t.c.state).where(t.c.secgroup_id == group_id,
                                                t.c.vm_id == vm_id)).scalar()


def members(conn: Connection, group_id: int) -> Members:
    return of_groups(conn, [group_id]).get(group_id) or {s: [] for s in STATES}


def of_groups(conn: Connection, group_ids: Iterable[int]) -> dict[int, Members]:
    """The members of each of ``group_ids`` that has some, by state, sorted."""
    t = secgroup_vm
    ids = list(group_ids)
    out: dict[int, Members] = {}
    for start in range(0, len(ids), CHUNK):
        for gid, vm_id, state in conn.execute(
                select(t.c.secgroup_id, t.c.vm_id, t.c.state)
                .where(t.c.secgroup_id.in_(ids[start:start + CHUNK]))
                .order_by(t.c.secgroup_id, t.c.vm_id)):
            out.setdefault(gid, {s: [] for s in STATES}).setdefault(state, []).append(vm_id)
    return out


def with_members(body: str, found: Members | None) -> str:
    """A stored body with the four lists saying ``found``."""
    at = 0
    for state in STATES:
        body, at = put_ids(body, f"{state.upper()}_VMS", (found or {}).get(state, ()), at)
    return body


def spliced(conn: Connection, rows: list[tuple[int, str]]) -> list[str]:
    """The bodies of the (oid, stored body) rows of a listing, with their VMs."""
    found = of_groups(conn, [oid for oid, _ in rows])
    return [with_members(body, found.get(oid)) for oid, body in rows]


def _check(state: str) -> None:
    if state not in STATES:
        raise ValueError(f"security group VM state must be one of {STATES}, got {state!r}")


class SecGroupPool(Pool[SecurityGroup]):
    """The security group pool: it stores bodies without VMs and serves them with theirs."""

    def _row(self, obj: SecurityGroup) -> dict[str, Any]:
        return super()._row(replace(obj, updated_vms=[], outdated_vms=[], updating_vms=[],
                                    error_vms=[]))

    def body(self, conn: Connection, oid: int) -> str:
        return with_members(super().body(conn, oid), members(conn, oid))

    def get(self, conn: Connection, oid: int) -> SecurityGroup:
        """The group as stored (its VMs are asked of the table, not of it)."""
        from nubo.model import xmlobj
        return xmlobj.parse(self.cls, super().body(conn, oid))

    def delete(self, conn: Connection, oid: int) -> None:
        super().delete(conn, oid)
        conn.execute(delete(secgroup_vm).where(secgroup_vm.c.secgroup_id == oid))
