"""one.host.monitoring, one.hostpool.monitoring, one.vm.monitoring, one.vmpool.monitoring.

The records the monitor keeps (nubo.core.vm_monitor: tables ``host_monitoring`` and
``vm_monitoring``, pruned after ``monitoring_expiration`` seconds), as
``<MONITORING_DATA>`` (OpenNebula's monitoring_data.xsd), oldest first per object.
The pool methods' ``seconds``: the records of the last that many seconds; 0 only
the last record of each object; -1 every record kept.
"""
from __future__ import annotations

from sqlalchemy import Connection, func, select

from nubo.core.ops.listing import listing, usable_ids
from nubo.core.ops.vms import VM
from nubo.api.method_table import Int, api
from nubo.core.ops.clusters import HOST
from nubo.core.ops.common import fetch
from nubo.core.ops.call import Call
from nubo.auth import acl as A
from nubo.auth.acl import ObjectType
from nubo.store.schema import host_monitoring, vm_monitoring, vm_pool


def _data(bodies: list[str]) -> str:
    return "<MONITORING_DATA>" + "".join(bodies) + "</MONITORING_DATA>"


def _records(conn: Connection, table, key, when, *, oid: int | None = None,
             among=None, seconds: int = -1, now: int = 0) -> list[str]:
    query = select(table.c.body)
    if oid is not None:
        query = query.where(key == oid)
    if among is not None:
        query = query.where(key.in_(among))
    if seconds == 0:  # the last record of each object
        last = select(key.label("k"), func.max(when).label("t")).group_by(key)
        if oid is not None:
            last = last.where(key == oid)
        if among is not None:
            last = last.where(key.in_(among))
        last = last.subquery()
        query = query.join(last, (key == last.c.k) & (when == last.c.t))
    elif seconds > 0:
        query = query.where(when >= now - seconds)
    return [r.body for r in conn.execute(query.order_by(key, when))]


@api("one.host.monitoring", Int("id"))
def host_monitoring_info(call: Call, hid: int) -> str:
    """Every monitoring record kept for the host."""
    with call.cloud.db.read() as conn:
        fetch(call, conn, HOST, hid, A.USE)
        t = host_monitoring
        return _data(_records(conn, t, t.c.hid, t.c.last_mon_time, oid=hid))


@api("one.hostpool.monitoring", Int("seconds", -1))
def hostpool_monitoring(call: Call, seconds: int) -> str:
    """The records of the hosts the caller may USE (as one.hostpool.info's)."""
    among = usable_ids(call, HOST)
    with call.cloud.db.read() as conn:
        t = host_monitoring
        return _data(_records(conn, t, t.c.hid, t.c.last_mon_time, among=among,
                              seconds=seconds, now=call.cloud.now()))


@api("one.vm.monitoring", Int("id"))
def vm_monitoring_info(call: Call, vm_id: int) -> str:
    """Every monitoring record kept for the VM."""
    with call.cloud.db.read() as conn:
        fetch(call, conn, VM, vm_id, A.USE)
        t = vm_monitoring
        return _data(_records(conn, t, t.c.vmid, t.c.last_poll, oid=vm_id))


@api("one.vmpool.monitoring", Int("filter", -2), Int("seconds", -1))
def vmpool_monitoring(call: Call, flag: int, seconds: int) -> str:
    """The records of the VMs ``filter`` selects (as one.vmpool.info's)."""
    visible = listing(call, vm_pool, ObjectType.VM, flag, -1, -1).where
    with call.cloud.db.read() as conn:
        t = vm_monitoring
        among = select(vm_pool.c.oid).where(visible).scalar_subquery()
        return _data(_records(conn, t, t.c.vmid, t.c.last_poll, among=among, seconds=seconds,
                              now=call.cloud.now()))
