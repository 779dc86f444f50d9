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
from nubo.core.vm_nics import lease_nics
from nubo.core.pool_set import Pools
from nubo.errors import ActionError, NoExistsError
from nubo.model.infra import DISK_TYPE_NAMES, Datastore
from nubo.model.resources import (IMAGE_READY, IMAGE_TYPE_NAMES, IMAGE_USED, IMAGE_USED_PERS,
                                  Image)
from nubo.model.limits import saturate
from nubo.model.vm import VirtualMachine, order_system_template
from nubo.model import vm_disks, vm_placement
from nubo.model.vm_template import Ref, reference
from nubo.store import image_vms
from nubo.store.pools import Pool
from nubo.template import Template, TemplateValueError, VectorAttribute

#: Image states a VM may take an image in (a persistent one only while nobody has it).
_TAKEABLE = frozenset({IMAGE_READY, IMAGE_USED})
_DISK_TYPE_STR = {v: k for k, v in DISK_TYPE_NAMES.items()}
#: The target queue of an image disk without TARGET, by image type (KERNEL... never a DISK).
_QUEUES = {"OS": vm_disks.OS, "CDROM": vm_disks.CDROM, "DATABLOCK": vm_disks.DATABLOCK}
#: oned.conf INHERIT_DATASTORE_ATTR: copied from the image datastore into its DISKs.
_INHERITED = ("DISK_TYPE", "ALLOW_ORPHANS")


def acquire(conn: Connection, pools: Pools, vm: VirtualMachine, uid: int) -> None:
    """Complete the new VM's DISKs and NICs, taking images and leases for it, and write
    where it may run (AUTOMATIC_*) from the clusters of its datastores and networks."""
    tm_mad_system = (vm.template.get("TM_MAD_SYSTEM") or "").strip()
    disks: list[tuple[VectorAttribute, str]] = []
    for disk_id, disk in enumerate(vm.template.get_vectors("DISK")):
        disk.set("DISK_ID", str(disk_id))
        image_id = _referenced(conn, pools, pools.images, disk, "IMAGE", uid)
        if image_id is None:
            disks.append((disk, vm_disks.complete_unmanaged(disk, disk_id)))
            continue
        try:
            queue = take_image(conn, pools, vm.id, disk, pools.images.get(conn, image_id),
                               tm_mad_system, disk_id)
        except ActionError as e:
            raise ActionError(f"DISK {disk_id}: {e.message}") from None
        disks.append((disk, queue))
    context = next(iter(vm.template.get_vectors("CONTEXT")), None)
    vm_disks.assign_targets(disks, context)
    lease_nics(conn, pools, vm, lambda nic: _referenced(conn, pools, pools.vnets, nic,
                                                        "NETWORK", uid))
    secgroup_rules.render(conn, pools, vm)
    place(conn, pools, vm.template)
    vm.template = order_system_template(vm.template)


def attach_disk(conn: Connection, pools: Pools, vm: VirtualMachine, disk: VectorAttribute
                ) -> None:
    """Complete a DISK being attached (its DISK_ID set) like those of allocate, with a
    TARGET no other disk or the context uses (VirtualMachineDisks::set_up_attach)."""
    disk_id = int(disk.get("DISK_ID") or 0)
    image_id = (disk.get("IMAGE_ID") or "").strip()
    if image_id.isdigit():
        take_image(conn, pools, vm.id, disk, pools.images.get(conn, int(image_id)),
                   (vm.template.get("TM_MAD_SYSTEM") or "").strip(), disk_id)
    else:
        vm_disks.complete_unmanaged(disk, disk_id)
    used = {(v.get("TARGET") or "").strip()
            for v in (*vm.template.get_vectors("DISK"), *vm.template.get_vectors("CONTEXT"))}
    target = (disk.get("TARGET") or "").strip()
    if target and target in used:
        raise ActionError(f"Target {target} is already in use.", vm.id)
    if not target:
        vm_disks.give_target(disk, used)


def place(conn: Connection, pools: Pools, template: Template) -> None:
    """Recompute the VM's AUTOMATIC_* requirements from its DISKs and NICs, refreshing
    their CLUSTER_ID first (at allocate, and on disk and NIC attach)."""
    compatible: list[set[int]] = []
    for disk in template.get_vectors("DISK"):
        ds_id = (disk.get("DATASTORE_ID") or "").strip()
        ds = pools.datastores.find(conn, int(ds_id)) if ds_id.isdigit() else None
        if ds is None:
            continue
        disk.set("CLUSTER_ID", ",".join(map(str, sorted(ds.clusters))))
        compatible.append({int(p) for p in (ds.template.get("COMPATIBLE_SYS_DS") or "")
                           .replace(" ", "").split(",") if p.isdigit()})
    for nic in template.get_vectors("NIC"):
        vnet_id = (nic.get("NETWORK_ID") or "").strip()
        vnet = pools.vnets.find(conn, int(vnet_id)) if vnet_id.isdigit() else None
        if vnet is not None:
            nic.set("CLUSTER_ID", ",".join(map(str, sorted(vnet.clusters))))
    vm_placement.compute(template, compatible)


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
               image: Image, tm_mad_system: str = "", disk_id: int = 0) -> str:
    """Count the VM in the image and complete the DISK from the image and its datastore
    (Image::disk_attribute, Datastore::disk_attribute); returns its target queue."""
    persistent = bool(image.persistent)
    taken = persistent and image_vms.used(conn, image.id)
    if image.state not in _TAKEABLE or taken:
        raise ActionError(f"Cannot acquire image {image.id}, it is already used" if taken else
                          f"Cannot acquire image {image.id}, it is not ready")
    kind = IMAGE_TYPE_NAMES.get(image.type, "OS")
    if kind not in _QUEUES:
        raise ActionError(f"Cannot use image {image.id} of type {kind} as a DISK")
    vm_disks.size_mb(disk, disk_id, required=False)
    _image_attributes(disk, image, kind, persistent)
    ds = pools.datastores.find(conn, image.datastore_id)
    if ds is not None:
        _datastore_attributes(disk, ds, tm_mad_system)
    image_vms.add(conn, image.id, vm_id)
    image.state = IMAGE_USED_PERS if persistent else IMAGE_USED
    disk.set("IMAGE_STATE", str(image.state))  # as oned: the state once taken
    pools.images.update(conn, image)  # its version moves with its VMS: listings see them
    return _QUEUES[kind]


def _image_attributes(disk: VectorAttribute, image: Image, kind: str, persistent: bool) -> None:
    tmpl = image.template
    if not (disk.get("DEV_PREFIX") or "").strip():
        disk.set("DEV_PREFIX", tmpl.get("DEV_PREFIX") or (vm_disks.CDROM_DEV_PREFIX
                                                          if kind == "CDROM"
                                                          else vm_disks.DEV_PREFIX))
    for key, value in (("IMAGE", image.name), ("IMAGE_ID", str(image.id)),
                       ("IMAGE_UNAME", image.uname), ("IMAGE_UID", str(image.uid)),
                       ("SOURCE", image.source), ("ORIGINAL_SIZE", str(image.size)),
                       ("IMAGE_STATE", str(image.state))):
        disk.set(key, value)
    if not (disk.get("SIZE") or "").strip():
        disk.set("SIZE", str(image.size))
    fmt = (image.format or "raw").lower()
    disk.set("DRIVER", fmt)
    disk.set("FORMAT", fmt)
    immutable = (tmpl.get("PERSISTENT_TYPE") or "").upper() == "IMMUTABLE"
    if kind == "CDROM" or immutable:
        values = {"SAVE": "NO", "CLONE": "NO", "READONLY": "YES"}
    else:
        values = {"CLONE": "NO" if persistent else "YES", "SAVE": "YES" if persistent else "NO"}
        if not disk.get("READONLY"):
            values["READONLY"] = "YES" if (tmpl.get("READONLY") or "").upper() in ("YES", "TRUE") \
                else "NO"
    values["PERSISTENT"] = "YES" if persistent else "NO"
    for key, value in values.items():
        disk.set(key, value)
    disk.set("TYPE", "CDROM" if kind == "CDROM" else _DISK_TYPE_STR.get(image.disk_type, "FILE"))
    if not disk.get("TARGET") and tmpl.get("TARGET"):
        disk.set("TARGET", tmpl.get("TARGET") or "")


def _datastore_attributes(disk: VectorAttribute, ds: Datastore, tm_mad_system: str) -> None:
    disk.set("DATASTORE", ds.name)
    disk.set("DATASTORE_ID", str(ds.id))
    disk.set("TM_MAD", ds.tm_mad)
    disk.set("CLUSTER_ID", ",".join(map(str, sorted(ds.clusters))))
    system = tm_mad_system.upper()
    for key in ("CLONE_TARGET", "LN_TARGET"):
        value = (system and ds.template.get(f"{key}_{system}")) or ds.template.get(key)
        if value and not disk.get(key):
            disk.set(key, value)
    if system and ds.template.get(f"DISK_TYPE_{system}"):
        disk.set("DISK_TYPE", ds.template.get(f"DISK_TYPE_{system}") or "")
    for key in _INHERITED:
        if not disk.get(key) and ds.template.get(key):
            disk.set(key, ds.template.get(key) or "")


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
