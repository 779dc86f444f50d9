"""one.vm.resize, updateconf, attach/detach (disks), attachnic/detachnic and
snapshotcreate/revert/delete: the changes to a deployed VM, bound to the core's
operations (nubo.core.ops.vm_hotplug)."""
from __future__ import annotations

from nubo.api.method_table import Bool, Int, Str, api
from nubo.core.ops import vm_disksaveas, vm_hotplug
from nubo.core.ops.call import Call


@api("one.vm.resize", Int("id"), Str("template"), Bool("enforce", False))
def vm_resize(call: Call, vm_id: int, template: str, enforce: bool) -> int:
    return vm_hotplug.resize_vm(call, vm_id, template, enforce)


@api("one.vm.updateconf", Int("id"), Str("template"), Int("type", 0))
def vm_updateconf(call: Call, vm_id: int, template: str, update_type: int) -> int:
    return vm_hotplug.update_vm_conf(call, vm_id, template, update_type)


@api("one.vm.attach", Int("id"), Str("template"))
def vm_attach(call: Call, vm_id: int, template: str) -> int:
    return vm_hotplug.attach_disk(call, vm_id, template)


@api("one.vm.detach", Int("id"), Int("disk_id"))
def vm_detach(call: Call, vm_id: int, disk_id: int) -> int:
    return vm_hotplug.detach_disk(call, vm_id, disk_id)


@api("one.vm.attachnic", Int("id"), Str("template"))
def vm_attachnic(call: Call, vm_id: int, template: str) -> int:
    return vm_hotplug.attach_nic(call, vm_id, template)


@api("one.vm.detachnic", Int("id"), Int("nic_id"))
def vm_detachnic(call: Call, vm_id: int, nic_id: int) -> int:
    return vm_hotplug.detach_nic(call, vm_id, nic_id)


@api("one.vm.snapshotcreate", Int("id"), Str("name", ""))
def vm_snapshotcreate(call: Call, vm_id: int, name: str) -> int:
    """Returns the new snapshot's SNAPSHOT_ID."""
    return vm_hotplug.create_snapshot(call, vm_id, name)


@api("one.vm.snapshotrevert", Int("id"), Int("snap_id"))
def vm_snapshotrevert(call: Call, vm_id: int, snap_id: int) -> int:
    return vm_hotplug.revert_snapshot(call, vm_id, snap_id)


@api("one.vm.snapshotdelete", Int("id"), Int("snap_id"))
def vm_snapshotdelete(call: Call, vm_id: int, snap_id: int) -> int:
    return vm_hotplug.delete_snapshot(call, vm_id, snap_id)


@api("one.vm.disksaveas", Int("id"), Int("disk_id"), Str("name"), Str("image_type", ""),
     Int("snap_id", -1))
def vm_disk_saveas(call: Call, vm_id: int, disk_id: int, name: str, image_type: str,
                   snap_id: int) -> int:
    return vm_disksaveas.disk_saveas(call, vm_id, disk_id, name, image_type, snap_id)
