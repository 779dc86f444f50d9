"""A VM's disk snapshots as oned keeps them: one ``SNAPSHOTS`` element per disk that has
any (ALLOW_ORPHANS, CURRENT_BASE, DISK_ID, NEXT_SNAPSHOT, then each SNAPSHOT: ACTIVE,
DATE, ID, NAME, PARENT, SIZE), kept verbatim in the VM body (``VirtualMachine.snapshots``).

nubo's transfer driver keeps each snapshot whole (a qcow2 internal snapshot or a copy of
a raw file), so snapshots do not depend on each other: orphans are allowed, PARENT is -1.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from lxml import etree

from nubo.model.xmlobj import RawXml, escape


@dataclass
class Snapshot:
    id: int
    name: str
    date: int
    size: int
    active: bool = False


@dataclass
class DiskSnapshots:
    disk_id: int
    next_id: int = 0
    current_base: int = -1
    snapshots: list[Snapshot] = field(default_factory=list)

    def find(self, snap_id: int) -> Snapshot | None:
        return next((s for s in self.snapshots if s.id == snap_id), None)

    def render(self) -> str:
        parts = [f"<SNAPSHOTS><ALLOW_ORPHANS>YES</ALLOW_ORPHANS><CURRENT_BASE>"
                 f"{self.current_base}</CURRENT_BASE><DISK_ID>{self.disk_id}</DISK_ID>"
                 f"<NEXT_SNAPSHOT>{self.next_id}</NEXT_SNAPSHOT>"]
        for s in self.snapshots:
            parts.append("<SNAPSHOT>" + ("<ACTIVE>YES</ACTIVE>" if s.active else "")
                         + f"<DATE>{s.date}</DATE><ID>{s.id}</ID>"
                         f"<NAME>{escape(s.name)}</NAME><PARENT>-1</PARENT>"
                         f"<SIZE>{s.size}</SIZE></SNAPSHOT>")
        return "".join(parts) + "</SNAPSHOTS>"


def _int(text: str | None, default: int = 0) -> int:
    try:
        return int(text or default)
    except ValueError:
        return default


def parse(raw: str) -> dict[int, DiskSnapshots]:
    """Every disk's snapshots in a VM's SNAPSHOTS fragment, by DISK_ID."""
    if not raw.strip():
        return {}
    root = etree.fromstring(f"<R>{raw}</R>".encode())
    out: dict[int, DiskSnapshots] = {}
    for node in root.iterfind("SNAPSHOTS"):
        disk = DiskSnapshots(_int(node.findtext("DISK_ID"), -1),
                             _int(node.findtext("NEXT_SNAPSHOT")),
                             _int(node.findtext("CURRENT_BASE"), -1))
        for snap in node.iterfind("SNAPSHOT"):
            disk.snapshots.append(Snapshot(
                _int(snap.findtext("ID")), snap.findtext("NAME") or "",
                _int(snap.findtext("DATE")), _int(snap.findtext("SIZE")),
                (snap.findtext("ACTIVE") or "").upper() == "YES"))
        out[disk.disk_id] = disk
    return out


def render(disks: dict[int, DiskSnapshots]) -> RawXml:
    """The SNAPSHOTS fragment again, disks in DISK_ID order."""
    return RawXml("".join(d.render() for _, d in sorted(disks.items())))


# -- a driver's answer recorded (nubo.core.vm_tasks runs these on the VM as loaded) -----

#: The marks a disk carries while its snapshot operation is under way (as oned's).
MARKS = ("DISK_SNAPSHOT_ACTIVE", "DISK_SNAPSHOT_ID", "DISK_SNAPSHOT_NAME")


def _answered(vm, change) -> None:
    """Apply ``change(disk_snapshots, snap_id)`` for the marked DISK, then unmark it and
    keep its DISK_SNAPSHOT_TOTAL_SIZE."""
    disks = parse(vm.snapshots)
    for disk in vm.template.get_vectors("DISK"):
        if (disk.get("DISK_SNAPSHOT_ACTIVE") or "").upper() != "YES":
            continue
        disk_id, snap_id = _int(disk.get("DISK_ID"), -1), _int(disk.get("DISK_SNAPSHOT_ID"), -1)
        if disk_id in disks:
            change(disks, disks[disk_id], snap_id)
        for key in MARKS:
            disk.remove(key)
        left = disks.get(disk_id)
        if left is not None and left.snapshots:
            disk.set("DISK_SNAPSHOT_TOTAL_SIZE", str(sum(s.size for s in left.snapshots)))
        else:
            disk.remove("DISK_SNAPSHOT_TOTAL_SIZE")
    vm.snapshots = render(disks)


def _activate(disks: dict[int, DiskSnapshots], disk: DiskSnapshots, snap_id: int) -> None:
    for snap in disk.snapshots:
        snap.active = snap.id == snap_id
    disk.current_base = snap_id


def _drop(disks: dict[int, DiskSnapshots], disk: DiskSnapshots, snap_id: int) -> None:
    disk.snapshots = [s for s in disk.snapshots if s.id != snap_id]
    if disk.current_base == snap_id:
        disk.current_base = -1
    if not disk.snapshots:
        del disks[disk.disk_id]


def snapshot_created(vm) -> None:
    """The new snapshot is the disk's current one."""
    _answered(vm, _activate)


snapshot_reverted = snapshot_created  # the disk is back at that snapshot: current


def snapshot_dropped(vm) -> None:
    """Deleted (or its creation failed): the snapshot goes."""
    _answered(vm, _drop)
