"""one.vm.disksnapshotcreate/revert/delete/rename and one.vm.diskresize, bound to the
core's operations (nubo.core.ops.vm_disk_snapshots); signatures as OpenNebula 6.10/7."""
from __future__ import annotations

from nubo.api.method_table import Int, Str, api
from nubo.core.ops import vm_disk_snapshots as ops
from nubo.core.ops.call import Call


@api("one.vm.disksnapshotcreate", Int("id"), Int("disk_id"), Str("name", ""))
def vm_disksnapshotcreate(call: Call, vm_id: int, disk_id: int, name: str) -> int:
    """Returns the new snapshot's id."""
    return ops.create(call, vm_id, disk_id, name)


@api("one.vm.disksnapshotrevert", Int("id"), Int("disk_id"), Int("snap_id"))
def vm_disksnapshotrevert(call: Call, vm_id: int, disk_id: int, snap_id: int) -> int:
    return ops.revert(call, vm_id, disk_id, snap_id)


@api("one.vm.disksnapshotdelete", Int("id"), Int("disk_id"), Int("snap_id"))
def vm_disksnapshotdelete(call: Call, vm_id: int, disk_id: int, snap_id: int) -> int:
    return ops.delete(call, vm_id, disk_id, snap_id)


@api("one.vm.disksnapshotrename", Int("id"), Int("disk_id"), Int("snap_id"), Str("name"))
def vm_disksnapshotrename(call: Call, vm_id: int, disk_id: int, snap_id: int,
                          name: str) -> int:
    return ops.rename(call, vm_id, disk_id, snap_id, name)


@api("one.vm.diskresize", Int("id"), Int("disk_id"), Str("size"))
def vm_diskresize(call: Call, vm_id: int, disk_id: int, size: str) -> int:
    return ops.resize(call, vm_id, disk_id, size)
