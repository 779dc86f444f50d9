"""DISKSNAPSHOTCREATE: a snapshot of one disk of a running VM, laid out as the transfer
driver lays out the ones it takes of a stopped VM (nubo/drivers/tm/verbs.py), so that
revert and delete later find them where they look:

* a qcow2 disk keeps an internal snapshot named by the snapshot's id. The file is open
  in QEMU (qemu-img may not write it), so QEMU takes it itself, atomically
  (nubo/drivers/storage/qmp.py);
* a raw disk is copied to ``disk.N.snap/<id>`` with the domain paused for the copy, so
  the copy is of one moment.

The core marks the disk DISK_SNAPSHOT_ACTIVE=YES with its DISK_SNAPSHOT_ID. A snapshot
already there (a repeated action, after a core restart) succeeds as the first did.
"""
from __future__ import annotations

import libvirt
import libvirt_qemu

from nubo.drivers.kvm.call import ActionError, Answer, Call
from nubo.drivers.kvm.hosts import libvirt_message
from nubo.drivers.storage import qmp


def _qmp(dom: libvirt.virDomain, command: str) -> str:
    return libvirt_qemu.qemuMonitorCommand(dom, command, 0)


def create(c: Call) -> Answer:
    disk = c.marked("DISK", "DISK_SNAPSHOT_ACTIVE")
    snap_id, disk_id = disk.get("DISK_SNAPSHOT_ID", ""), disk.get("DISK_ID", "")
    if not (snap_id.isdigit() and disk_id.isdigit()):
        raise ActionError(f"DISK {disk_id or '?'} has no DISK_SNAPSHOT_ID")
    path = f"{c.vm_dir()}/disk.{disk_id}"
    dom = c.running()
    try:
        node = qmp.block_node(_qmp(dom, qmp.QUERY_BLOCK), path)
        if node is None:
            raise ActionError(f"the domain has no disk {path} open")
        if node.fmt == "qcow2":
            if snap_id not in node.snapshots:
                qmp.check(_qmp(dom, qmp.snapshot_command("create", node.node, snap_id)))
            return True, ""
        _copy_paused(c, dom, path, snap_id)
    except libvirt.libvirtError as e:
        raise ActionError(f"disk snapshot {snap_id} of DISK {disk_id}: "
                          f"{libvirt_message(e)}") from None
    except qmp.QmpError as e:
        raise ActionError(f"disk snapshot {snap_id} of DISK {disk_id}: {e}") from None
    return True, ""


def _copy_paused(c: Call, dom: libvirt.virDomain, path: str, snap_id: str) -> None:
    snap = f"{path}.snap/{snap_id}"
    if c.hosts.exists(c.host, snap):
        return
    c.hosts.make_dir(c.host, f"{path}.snap")
    dom.suspend()
    try:
        done = c.hosts.run(c.host, ["cp", "--sparse=always", path, f"{snap}.part"])
        if done.returncode == 0:
            done = c.hosts.run(c.host, ["mv", f"{snap}.part", snap])
    finally:
        dom.resume()
    if done.returncode != 0:
        c.hosts.remove(c.host, f"{snap}.part")
        raise ActionError(f"disk snapshot copy of {path}: {done.stderr.strip()}")
