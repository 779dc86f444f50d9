"""one.vm.disksnapshotcreate/revert/delete/rename and one.vm.diskresize: a VM's disk
snapshotted or grown, as oned's DispatchManager does it.

Each authorises (VM:MANAGE), checks the disk and snapshot, and hands the VM to the
life-cycle manager (nubo.lifecycle.disk_changes), whose ``prepare`` marks the DISK in
the VM's body (DISK_SNAPSHOT_ACTIVE/ID/NAME, or RESIZE with SIZE_PREV) in the same
transaction as the new state. The transfer driver (or, on a RUNNING VM, the hypervisor)
does it; its answer records the change (nubo.model.disk_snapshots). Renaming a snapshot
is bookkeeping only.
"""
from __future__ import annotations

from sqlalchemy import Connection

from nubo.auth import acl as A
from nubo.core.ops.call import Call
from nubo.core.ops.common import check_lock, fetch
from nubo.core.ops.vm_actions import act, life_cycle, usable_vm
from nubo.core.ops.vms import VM
from nubo.core.vm_commit import Loaded
from nubo.errors import ActionError, ApiError
from nubo.lifecycle import Decision
from nubo.model import disk_snapshots as ds
from nubo.model.vm import VirtualMachine
from nubo.template.attributes import VectorAttribute


def _disk(vm: VirtualMachine, disk_id: int) -> VectorAttribute:
    for disk in vm.template.get_vectors("DISK"):
        if disk.get("DISK_ID") == str(disk_id):
            return disk
    raise ActionError(f"VM disk does not exist: DISK_ID {disk_id}", vm.id)


def _size(disk: VectorAttribute) -> int:
    try:
        return int(disk.get("SIZE") or 0)
    except ValueError:
        return 0


def _snapshots_of(vm: VirtualMachine, disk_id: int, snap_id: int) -> ds.DiskSnapshots:
    disks = ds.parse(vm.snapshots)
    found = disks.get(disk_id)
    if found is None or found.find(snap_id) is None:
        raise ActionError(f"Snapshot {snap_id} does not exist for disk {disk_id}", vm.id)
    return found


def create(call: Call, vm_id: int, disk_id: int, name: str) -> int:
    """A new snapshot of a disk (not a volatile one); returns its id."""
    life_cycle(call)
    usable_vm(call, vm_id, A.MANAGE)
    made: list[int] = []

    def prepare(conn: Connection, loaded: Loaded, decision: Decision) -> None:
        vm = loaded.vm
        disk = _disk(vm, disk_id)
        if (disk.get("TYPE") or "").upper() in ("SWAP", "FS"):
            raise ActionError("Cannot make snapshots on volatile disks", vm_id)
        disks = ds.parse(vm.snapshots)
        mine = disks.setdefault(disk_id, ds.DiskSnapshots(disk_id))
        snap_id = mine.next_id
        mine.next_id += 1
        mine.snapshots.append(ds.Snapshot(snap_id, name, call.cloud.now(), _size(disk)))
        vm.snapshots = ds.render(disks)
        disk.set("DISK_SNAPSHOT_ACTIVE", "YES")
        disk.set("DISK_SNAPSHOT_ID", str(snap_id))
        disk.set("DISK_SNAPSHOT_NAME", name)
        made.append(snap_id)

    act(call, vm_id, "disk-snapshot-create", prepare=prepare)
    return made[0]


def _on_snapshot(call: Call, vm_id: int, disk_id: int, snap_id: int, action: str) -> int:
    life_cycle(call)
    usable_vm(call, vm_id, A.MANAGE)

    def prepare(conn: Connection, loaded: Loaded, decision: Decision) -> None:
        vm = loaded.vm
        disk = _disk(vm, disk_id)
        snaps = _snapshots_of(vm, disk_id, snap_id)
        if action == "disk-snapshot-delete" and snaps.current_base == snap_id:
            raise ActionError(f"Cannot delete snapshot {snap_id}: it is the active one of "
                              f"disk {disk_id}", vm_id)
        disk.set("DISK_SNAPSHOT_ACTIVE", "YES")
        disk.set("DISK_SNAPSHOT_ID", str(snap_id))

    act(call, vm_id, action, prepare=prepare, snap_id=snap_id)
    return vm_id


def revert(call: Call, vm_id: int, disk_id: int, snap_id: int) -> int:
    """The disk back at a snapshot (a POWEROFF VM)."""
    return _on_snapshot(call, vm_id, disk_id, snap_id, "disk-snapshot-revert")


def delete(call: Call, vm_id: int, disk_id: int, snap_id: int) -> int:
    """A snapshot gone (not the disk's active one)."""
    return _on_snapshot(call, vm_id, disk_id, snap_id, "disk-snapshot-delete")


def rename(call: Call, vm_id: int, disk_id: int, snap_id: int, name: str) -> int:
    """A snapshot's new NAME, in any state: nothing to do on the disk."""
    if not name.strip():
        raise ApiError("The new snapshot name cannot be empty", vm_id)
    with call.cloud.db.write() as conn:
        vm = fetch(call, conn, VM, vm_id, A.MANAGE)
        check_lock(vm, A.MANAGE)
        _disk(vm, disk_id)
        disks = ds.parse(vm.snapshots)
        if disk_id not in disks or disks[disk_id].find(snap_id) is None:
            raise ActionError(f"Snapshot {snap_id} does not exist for disk {disk_id}", vm_id)
        disks[disk_id].find(snap_id).name = name  # type: ignore[union-attr]
        vm.snapshots = ds.render(disks)
        call.cloud.pools.vms.update(conn, vm)
    return vm_id


def resize(call: Call, vm_id: int, disk_id: int, size: str) -> int:
    """The disk grown to ``size`` MB (never shrunk; not while it has snapshots)."""
    life_cycle(call)
    usable_vm(call, vm_id, A.MANAGE)
    try:
        new = int(size.strip())
    except ValueError:
        raise ApiError(f"Wrong size for disk {disk_id}: '{size}' is not a number of MB",
                       vm_id) from None

    def prepare(conn: Connection, loaded: Loaded, decision: Decision) -> None:
        vm = loaded.vm
        disk = _disk(vm, disk_id)
        if new <= _size(disk):
            raise ActionError(f"New size ({new} MB) has to be bigger than the current one "
                              f"({_size(disk)} MB)", vm_id)
        if disk_id in ds.parse(vm.snapshots):
            raise ActionError("Cannot resize a disk with snapshots", vm_id)
        disk.set("SIZE_PREV", str(_size(disk)))
        disk.set("SIZE", str(new))
        disk.set("RESIZE", "YES")

    act(call, vm_id, "disk-resize", prepare=prepare)
    return vm_id
