"""What a VM takes from the cloud when it is created, and gives back once it is DONE:
a lease of each NIC's network, and each image its DISKs use; and the size it counts
for in the usage of its hosts.

At allocate oned completes every DISK with its image's SOURCE, TM_MAD, DATASTORE and
CLONE/SAVE (the transfer scripts need them), counts the VM in the image (one row of
nubo.store.image_vms, which its VMS and RUNNING_VMS show; state USED or USED_PERS), and
gives every NIC a lease with its IP, MAC and bridge.
All of it happens in the allocating transaction, so a refusal (an image already used
persistently, a network out of addresses) leaves nothing behind. Giving back is
idempotent (the VM's row of an image is deleted once; lease rows are deleted once), so
a release that runs again after a crash frees nothing twice.
"""
from __future__ import annotations

from sqlalchemy import Connection

from nubo.core import leases
from nubo.core import secgroup_rules
from nubo.core.vm_nics import lease_nic
from nubo.core.pool_set import Pools
from nubo.errors import ActionError, NoExistsError
from nubo.model.resources import (IMAGE_READY, IMAGE_TYPE_NAMES, IMAGE_USED, IMAGE_USED_PERS,
                                  Image)
from nubo.model.limits import saturate
from nubo.model.vm import VirtualMachine, order_system_template
from nubo.model.vm_template import Ref, reference
from nubo.store import image_vms
from nubo.store.pools import Pool
from nubo.template import TemplateValueError, VectorAttribute

#: Image states a VM may take an image in (a persistent one only while nobody has it).
_TAKEABLE = frozenset({IMAGE_READY, IMAGE_USED})
_VOLATILE = frozenset({"FS", "SWAP"})
_IMAGE_DISK_TYPES = {"OS": "FILE", "DATABLOCK": "FILE", "CDROM": "CDROM"}


def acquire(conn: Connection, pools: Pools, vm: VirtualMachine, uid: int) -> None:
    """Complete the new VM's DISKs and NICs, taking images and leases for it."""
    for disk_id, disk in enumerate(vm.template.get_vectors("DISK")):
        disk.set("DISK_ID", str(disk_id))
        kind = (disk.get("TYPE") or "").strip().upper()
        if kind in _VOLATILE and not (disk.get("IMAGE_ID") or disk.get("IMAGE")):
            disk.set("TYPE", kind)
            continue
        image_id = _referenced(conn, pools, pools.images, disk, "IMAGE", uid)
        if image_id is not None:
            take_image(conn, pools, vm.id, disk, pools.images.get(conn, image_id))  # a missing id: NoExistsError
    for nic_id, nic in enumerate(vm.template.get_vectors("NIC")):
        vnet_id = _referenced(conn, pools, pools.vnets, nic, "NETWORK", uid)
        if vnet_id is not None:
            lease_nic(conn, pools, vm.id, nic, vnet_id, nic_id)
    secgroup_rules.render(conn, pools, vm)
    vm.template = order_system_template(vm.template)


def resolve(conn: Connection, pools: Pools, pool: Pool, ref: Ref, caller: int) -> int | None:
    """The id a DISK/NIC reference names: by id, or by name for its owner (the user of
    {what}_UID / {what}_UNAME, else the caller); None if nothing matches."""
    if ref.oid is not None:
        return ref.oid
    uid = ref.uid
    if uid is None and ref.uname:
        uid = pools.users.oid_by_name(conn, ref.uname)
        if uid is None:
            return None
    return pool.oid_by_name(conn, ref.name, caller if uid is None else uid)


def _referenced(conn: Connection, pools: Pools, pool: Pool, vector: VectorAttribute,
                what: str, uid: int) -> int | None:
    """The id of the image or network ``vector`` names (None if it names none), refusing
    a malformed reference or a name that matches nothing (an id is checked by whoever
    reads the object)."""
    try:
        ref = reference(vector, what)
    except TemplateValueError as e:
        raise ActionError(str(e)) from None
    if ref is None:
        return None
    oid = resolve(conn, pools, pool, ref, uid)
    if oid is None:
        raise NoExistsError(f"Error getting {pool.noun} [{ref.name}].", -1)
    return oid


def take_image(conn: Connection, pools: Pools, vm_id: int, disk: VectorAttribute,
               image: Image) -> None:
    """Count the VM in the image and copy into the DISK what the transfer needs."""
    persistent = bool(image.persistent)
    taken = persistent and image_vms.used(conn, image.id)
    if image.state not in _TAKEABLE or taken:
        raise ActionError(f"Cannot acquire image {image.id}, it is already used" if taken else
                          f"Cannot acquire image {image.id}, it is not ready")
    ds = pools.datastores.find(conn, image.datastore_id)
    kind = IMAGE_TYPE_NAMES.get(image.type, "OS")
    for key, value in (("IMAGE", image.name), ("IMAGE_ID", str(image.id)),
                       ("IMAGE_UNAME", image.uname), ("IMAGE_STATE", str(image.state)),
                       ("SOURCE", image.source), ("DATASTORE", image.datastore),
                       ("DATASTORE_ID", str(image.datastore_id)),
                       ("TM_MAD", ds.tm_mad if ds is not None else ""),
                       ("CLONE", "NO" if persistent else "YES"),
                       ("SAVE", "YES" if persistent else "NO"),
                       ("PERSISTENT", "YES" if persistent else "NO"),
                       ("FORMAT", image.format or "raw"), ("SIZE", str(image.size)),
                       ("TYPE", _IMAGE_DISK_TYPES.get(kind, "FILE"))):
        if key in ("IMAGE", "IMAGE_ID") or not disk.get(key):
            disk.set(key, value)
    if kind == "CDROM":
        disk.set("READONLY", "YES")
    image_vms.add(conn, image.id, vm_id)
    image.state = IMAGE_USED_PERS if persistent else IMAGE_USED
    pools.images.update(conn, image)  # its version moves with its VMS: listings see them


def release(conn: Connection, pools: Pools, vm: VirtualMachine) -> None:
    """Give back every lease and image the VM holds (free_vm_resources)."""
    leases.free_owner(conn, pools.vnets, ("VM", vm.id))
    secgroup_rules.leave(conn, pools, vm)
    for disk in vm.template.get_vectors("DISK"):
        release_image(conn, pools, vm.id, disk)


def release_image(conn: Connection, pools: Pools, vm_id: int, disk: VectorAttribute) -> None:
    ref = (disk.get("IMAGE_ID") or "").strip()
    if not ref.isdigit():
        return
    image = pools.images.find(conn, int(ref))
    if image is None or not image_vms.remove(conn, image.id, vm_id):
        return
    if image.state in (IMAGE_USED, IMAGE_USED_PERS) and not image_vms.used(conn, image.id):
        image.state = IMAGE_READY
    pools.images.update(conn, image)  # its version moves with its VMS: listings see them


# ------------------------------------------------------------------------ host usage

def vm_size(vm: VirtualMachine) -> tuple[int, int]:
    """CPU (hundredths) and memory (KB) the VM counts for, as OpenNebula's HOST_SHARE."""
    def number(name: str) -> float:
        try:
            return float(vm.template.get(name) or 0)
        except (TypeError, ValueError):
            return 0.0
    return int(round(number("CPU") * 100)), int(number("MEMORY") * 1024)


def move_usage(conn: Connection, pools: Pools, vm: VirtualMachine,
               before: tuple[int, int]) -> None:
    """The VM's size changed from ``before``: update the hosts that count it."""
    cpu, mem = vm_size(vm)
    for hid in sorted({record.hid for record in vm.history[-2:]}):
        host = pools.hosts.find(conn, hid)
        if host is None or vm.id not in host.vms:
            continue
        share = host.host_share
        share.cpu_usage = saturate(max(0, share.cpu_usage + cpu - before[0]))
        share.mem_usage = saturate(max(0, share.mem_usage + mem - before[1]))
        pools.hosts.update(conn, host)
