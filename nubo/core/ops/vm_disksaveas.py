"""one.vm.disksaveas: a VM's image disk saved as a new image (oned's VirtualMachineDiskSaveas).

The new image is allocated in the datastore of the disk's image, LOCKED until the
datastore's DS driver has copied the disk's file (CLONE): the VM's own copy in its
system datastore (DATASTORE_LOCATION/SYSTEM_DS/VM_ID/disk.N) when the transfer driver
made one, else the file of the image the disk came from (nothing changed it). The VM
stays in its state meanwhile (oned passes through HOTPLUG_SAVEAS*); it must be RUNNING,
POWEROFF or SUSPENDED, as oned requires.
"""
from __future__ import annotations

import os

from nubo.auth import acl as A
from nubo.core.ops import images
from nubo.core.ops.call import Call
from nubo.core.ops.vm_actions import usable_vm
from nubo.errors import ActionError, InternalError
from nubo.lifecycle import LcmState
from nubo.model.resources import IMAGE_TYPE_NAMES, Image
from nubo.model.vm import VirtualMachine
from nubo.template import Template

_ACTIVE, _SUSPENDED, _POWEROFF = 3, 5, 8
_SAVABLE_TYPES = ("OS", "DATABLOCK", "CDROM")


def _saveable_state(vm: VirtualMachine) -> bool:
    return vm.state in (_POWEROFF, _SUSPENDED) or (
        vm.state == _ACTIVE and vm.lcm_state == int(LcmState.RUNNING))


def disk_file(call: Call, vm: VirtualMachine, disk_id: int) -> str | None:
    """Where the VM's copy of disk ``disk_id`` is, if the transfer driver made a file."""
    if not vm.history:
        return None
    path = f"{call.cloud.config.datastore_dir}{vm.history[-1].ds_id}/{vm.id}/disk.{disk_id}"
    return path if os.path.isfile(path) else None


def disk_saveas(call: Call, vm_id: int, disk_id: int, name: str, image_type: str,
                snap_id: int) -> int:
    """The id of the new image saving disk ``disk_id`` of the VM (VM:MANAGE)."""
    vm = usable_vm(call, vm_id, A.MANAGE)
    disk = next((d for d in vm.template.get_vectors("DISK")
                 if d.get("DISK_ID") == str(disk_id)), None)
    if disk is None:
        raise ActionError("VM disk does not exist", vm_id)
    if not _saveable_state(vm):
        raise ActionError("Wrong state to perform action", vm_id)
    if snap_id != -1:
        raise ActionError("Cannot save a disk snapshot as an image: nubo saves the disk's "
                          "current state only (snap_id -1)", vm_id)
    image_id = disk.get_int("IMAGE_ID")
    if image_id is None:
        raise ActionError("Cannot save_as a volatile disk or one without an image", vm_id)
    with call.cloud.db.read() as conn:
        source: Image | None = call.cloud.pools.images.find(conn, image_id)
    if source is None:
        raise InternalError(f"Error getting image [{image_id}].", vm_id)
    kind = (image_type or IMAGE_TYPE_NAMES[source.type]).strip().upper()
    if kind not in _SAVABLE_TYPES:
        raise ActionError(f"Cannot save_as image of type {kind}", vm_id)
    template = Template()
    size = disk.get_int("SIZE") or source.size
    for key, value in (("NAME", name), ("TYPE", kind),
                       ("PATH", disk_file(call, vm, disk_id) or source.source),
                       ("FORMAT", source.format), ("SAVED_IMAGE_ID", str(image_id)),
                       ("SAVED_DISK_ID", str(disk_id)), ("SAVED_VM_ID", str(vm_id)),
                       ("SAVE_AS_HOT", "YES" if vm.state == _ACTIVE else "NO")):
        template.set(key, value)
    for key in ("DEV_PREFIX", "DRIVER"):
        if source.template.get(key):
            template.set(key, source.template.get(key) or "")
    return images.save_disk_as(call, template, source.datastore_id, size)
