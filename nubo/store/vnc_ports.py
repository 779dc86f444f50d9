"""The VNC ports reserved in each cluster, one row per VM with GRAPHICS (oned's
cluster VNC bitmap): the primary key (cluster, port) makes one port twice impossible.
Rows are written in the transaction that deploys the VM and deleted in the one that
frees what it holds (undeploy, terminate, delete)."""
from __future__ import annotations

from sqlalchemy import Connection, delete, insert, select

from nubo.model.vnc_ports import choose
from nubo.store.schema import vnc_port


def reserve(conn: Connection, cluster_id: int, vm_id: int, start: int,
            wanted: int | None = None) -> int:
    """The VM's port in the cluster (its own already, ``wanted``, or a free one, see
    nubo.model.vnc_ports.choose); VncPortError when none can be given."""
    t = vnc_port
    rows = conn.execute(select(t.c.port, t.c.vm_id).where(t.c.cluster_id == cluster_id)).all()
    mine = [port for port, owner in rows if owner == vm_id]
    if wanted is None and mine:
        return mine[0]
    if wanted is not None and wanted in mine:
        return wanted
    port = choose(vm_id, start, {port for port, owner in rows if owner != vm_id}, wanted)
    release(conn, vm_id)
    conn.execute(insert(t).values(cluster_id=cluster_id, port=port, vm_id=vm_id))
    return port


def release(conn: Connection, vm_id: int) -> None:
    """Whatever port the VM holds, in any cluster."""
    conn.execute(delete(vnc_port).where(vnc_port.c.vm_id == vm_id))


def held(conn: Connection, vm_id: int) -> list[tuple[int, int]]:
    """(cluster, port) the VM holds."""
    t = vnc_port
    return [tuple(r) for r in conn.execute(select(t.c.cluster_id, t.c.port)
                                           .where(t.c.vm_id == vm_id)).all()]
