"""Image operations: disk images registered in image and file datastores.

As oned: a new image from a PATH (CP), an empty DATABLOCK (MKFS) or a clone (CLONE) is
LOCKED while its datastore's DS driver makes its file, READY (or ERROR, with the
driver's message in TEMPLATE/ERROR) once it answered; a deleted image is in DELETE
until the driver removed its file (RM). Each operation commits the state and the
awaited DS action together (nubo.core.journal) and hands the action to the image
manager (nubo.core.image_manager) once committed. A PATH's size is asked of the driver
(STAT) and checked against the datastore's room (LIMIT_MB, FREE_MB) before anything is
committed. A bare cloud (no image manager: bootstrap tools, unit tests) has no driver
to wait for: its images are READY at once, sized by the template's SIZE.
"""
from __future__ import annotations

from typing import Callable

from sqlalchemy import Connection

from nubo.auth import acl as A
from nubo.auth.acl import ObjectType
from nubo.core import datastore_capacity, journal
from nubo.core.image_manager import (DriverUnavailable, ImageManager, action_data,
                                     release_clone_source)
from nubo.core.ops.clusters import DATASTORE, drop_acl_rules, refuse_allocate, set_member
from nubo.core.ops.common import (Kind, authorize, authorize_create, check_lock, check_name,
                                  fetch, new_permissions, object_auth, refuse)
from nubo.core.ops.call import Call
from nubo.core.ops.restricted_checks import image_restricted, refuse_path, refuse_restricted
from nubo.errors import ApiError, InternalError
from nubo.model.infra import DS_BACKUP, DS_FILE, DS_IMAGE, DS_SYSTEM, Datastore
from nubo.model import image_snapshots
from nubo.model.limits import IMAGE_NUMBERS, check_numbers
from nubo.model.resources import (IMAGE_CLONE, IMAGE_DELETE, IMAGE_DISABLED, IMAGE_ERROR,
                                  IMAGE_LOCKED, IMAGE_LOCKED_USED,
                                  IMAGE_LOCKED_USED_PERS, IMAGE_READY, IMAGE_STATE_NAMES,
                                  IMAGE_TYPE_NAMES, IMAGE_TYPES, IMAGE_USED, IMAGE_USED_PERS,
                                  Image)
from nubo.model.xmlobj import RawXml
from nubo.store import image_vms
from nubo.template import Template

IMAGE = Kind(lambda c: c.cloud.pools.images, ObjectType.IMAGE, "IMAGE")

OS, CDROM, DATABLOCK = IMAGE_TYPES["OS"], IMAGE_TYPES["CDROM"], IMAGE_TYPES["DATABLOCK"]
DISKS = frozenset({OS, CDROM, DATABLOCK})  # the rest (KERNEL, RAMDISK, CONTEXT) are files
FILES = frozenset({IMAGE_TYPES["KERNEL"], IMAGE_TYPES["RAMDISK"], IMAGE_TYPES["CONTEXT"]})

# oned.conf's DEFAULT_IMAGE_TYPE, DEFAULT_DEVICE_PREFIX and DEFAULT_CDROM_DEVICE_PREFIX.
DEFAULT_TYPE, DEV_PREFIX, CDROM_DEV_PREFIX = "OS", "sd", "hd"

# States in which VMs (or clones) still use an image.
_IN_USE = frozenset({IMAGE_USED, IMAGE_USED_PERS, IMAGE_LOCKED_USED, IMAGE_LOCKED_USED_PERS})
_CLONABLE = frozenset({IMAGE_READY, IMAGE_USED, IMAGE_CLONE})


def _state(image: Image) -> str:
    return IMAGE_STATE_NAMES[image.state]


def _set_state(image: Image, state: int) -> None:
    # oned stores PREV_STATE as the state the last save found (set_prev_state on update).
    image.state = image.prev_state = state


# -- allocation -------------------------------------------------------------------------------

def _size(template: Template, stat: Callable[[], int] | None = None) -> int:
    """The image SIZE in MB, as ImageManager::stat_image finds it: the template's for a
    SOURCE or a new DATABLOCK, the driver's STAT of PATH otherwise (``stat``; without a
    driver, the template's SIZE or 0)."""
    kind = (template.get("TYPE") or DEFAULT_TYPE).upper()
    text = template.get("SIZE")
    has_source, has_path = bool(template.get("SOURCE")), bool(template.get("PATH"))
    if kind in ("CDROM", "KERNEL", "RAMDISK", "CONTEXT") and not has_source and not has_path:
        raise InternalError(f"Cannot parse image SIZE: Either PATH or SOURCE are required for "
                            f"{template.get('TYPE') or DEFAULT_TYPE}")
    needs_size = has_source or (kind in ("OS", "DATABLOCK") and not has_path)
    if not needs_size and has_path and stat is not None:
        return stat()
    if text is None and not needs_size:
        return 0
    try:
        size = int(text or "")
    except ValueError:
        size = -1
    if size < 0:
        raise InternalError("Cannot parse image SIZE: Wrong number or missing SIZE attribute.")
    return size


def _persistent(template: Template) -> bool:
    """PERSISTENT=YES makes a disk image persistent; files (kernels...) never are."""
    kind = IMAGE_TYPES.get((template.get("TYPE") or DEFAULT_TYPE).strip().upper())
    return kind in DISKS and (template.get("PERSISTENT") or "").strip().upper() == "YES"


def _check_datastore(kind: int, ds: Datastore) -> None:
    """Disk images go to image datastores, files (kernels, contexts...) to file datastores."""
    if kind in DISKS and ds.type != DS_IMAGE:
        raise refuse_allocate("image", "Only IMAGES of type KERNEL, RAMDISK and CONTEXT can be "
                              "registered in a FILE_DS datastore")
    if kind in FILES and ds.type != DS_FILE:
        raise refuse_allocate("image", "IMAGES of type KERNEL, RAMDISK and CONTEXT cannot be "
                              "registered in an IMAGE_DS datastore")
    if kind not in DISKS | FILES:
        raise refuse_allocate("image", "IMAGES of type BACKUP can only be registered in an "
                              "BACKUP_DS datastore")


def _take(template: Template, name: str) -> str:
    """Remove a single attribute from the template, returning its value ("" if absent)."""
    value = template.get(name) or ""
    template.remove(name)
    return value


def _new_image(call: Call, conn: Connection, template: Template, ds: Datastore, size: int,
               clone_of: Image | None = None, state: int = IMAGE_READY) -> Image:
    """Image::insert and ImagePool::allocate: check the template and build the image."""
    pools = call.cloud.pools
    persistent = int(_persistent(template))
    template.remove("PERSISTENT")
    name = _take(template, "NAME")
    try:
        check_name(name)
    except ApiError as e:
        raise refuse_allocate("image", e.message) from None
    type_name = (_take(template, "TYPE") or DEFAULT_TYPE).upper()
    kind = IMAGE_TYPES.get(type_name)
    if kind is None:
        raise refuse_allocate("image", f"Unknown type {type_name}")
    _check_datastore(kind, ds)
    taken = pools.images.oid_by_name(conn, name, call.uid)
    if taken is not None:
        raise refuse_allocate("image", f"NAME is already taken by IMAGE {taken}.", taken)
    if clone_of is not None and clone_of.state not in _CLONABLE:
        raise refuse_allocate("image", f"Cannot clone image in state: {_state(clone_of)}")
    if kind in DISKS:
        if not template.get("DEV_PREFIX"):
            template.set("DEV_PREFIX", CDROM_DEV_PREFIX if kind == CDROM else DEV_PREFIX)
    else:
        template.remove("DEV_PREFIX")
    template.remove("SIZE")
    fs = _take(template, "FS")
    template.remove("DRIVER")  # set by the datastore, never by the user
    path, source = _take(template, "PATH"), _take(template, "SOURCE")
    fmt = _take(template, "FORMAT")
    template.remove("TM_MAD")
    if clone_of is None:
        if source and path:
            raise refuse_allocate("image", "PATH and SOURCE cannot be both set.")
        if source and not fmt:
            raise refuse_allocate("image", "SOURCE needs FORMAT to be set.")
        if path:
            pass  # the driver's copy finds the format out, or converts to the one asked
        elif not source and kind in (OS, DATABLOCK):  # a new empty disk (mkfs)
            driver = ds.template.get("DRIVER")
            if driver:
                template.set("DRIVER", driver)
            fmt = fmt or driver or "raw"
        elif not source:
            raise refuse_allocate("image", "No PATH nor SOURCE in template.")
    now = call.cloud.now()
    return Image(
        id=pools.images.next_oid(conn), uid=call.uid, gid=call.session.gid,
        uname=call.session.uname, gname=call.session.gname, name=name, lock=None,
        permissions=new_permissions(call, call.uid, call.session.gid), type=kind,
        disk_type=ds.disk_type, persistent=persistent, regtime=now, modtime=now, source=source,
        path=path, format=fmt, fs=fs, size=size, state=state, prev_state=state,
        running_vms=0, cloning_ops=0, cloning_id=-1 if clone_of is None else clone_of.id,
        target_snapshot=-1, datastore_id=ds.id, datastore=ds.name,
        template=template)


def _register(call: Call, conn: Connection, image: Image, ds: Datastore) -> int:
    """Insert the image and list it in its datastore's IMAGES, in the same transaction."""
    call.cloud.pools.images.insert(conn, image)
    ds.images = set_member(ds.images, image.id, True)
    call.cloud.pools.datastores.update(conn, ds)
    return image.id


def _stat(call: Call, manager: ImageManager, template: Template, ds: Datastore) -> int:
    """STAT of the template's PATH by the datastore's driver: its size in MB."""
    probe = Image(id=-1, uid=call.uid, gid=call.session.gid, uname="", gname="", name="",
                  lock=None, permissions=new_permissions(call, call.uid, call.session.gid),
                  type=OS, disk_type=ds.disk_type, persistent=0, regtime=0, modtime=0,
                  source="", path=template.get("PATH") or "", format="", fs="",
                  size=0, state=IMAGE_LOCKED, prev_state=IMAGE_LOCKED, running_vms=0,
                  cloning_ops=0, cloning_id=-1, target_snapshot=-1, datastore_id=ds.id,
                  datastore=ds.name)
    try:
        result = manager.ask(ds, "STAT", 0, action_data(probe, ds))
    except DriverUnavailable as e:
        raise InternalError(f"Cannot parse image SIZE: {e}") from None
    if not result.success or not result.info.strip().isdigit():
        raise InternalError(f"Cannot parse image SIZE: {result.info or result.origin}")
    return int(result.info)


def _room_for(call: Call, ds: Datastore, size: int, skip_check: bool, oid: int = -1) -> None:
    """ImageAllocate's capacity check (skipped on oneadmin's no_capacity_check)."""
    if call.cloud.images is not None and not (skip_check and call.session.is_admin):
        datastore_capacity.refuse_if_full(ds, size, oid)


def _await(call: Call, conn: Connection, image: Image, action: str) -> int | None:
    """Journal the DS action the image now awaits (its seq), if a driver will do it."""
    manager = call.cloud.images
    if manager is None:
        return None
    seq = manager.next_seq()
    journal.expect(conn, journal.IMAGE, image.id, driver="ds", action=action, host_id=-1,
                   seq=seq)
    return seq


def _send(call: Call, oid: int, action: str, seq: int | None) -> None:
    manager = call.cloud.images
    if manager is not None and seq is not None:
        manager.send(oid, action, seq)


def allocate_image(call: Call, template: Template, ds_id: int,
                   no_capacity_check: bool = False) -> int:
    """A new image in datastore ds_id: LOCKED until its DS driver copied PATH (CP) or
    made the empty disk (MKFS), READY at once when registered by SOURCE."""
    refuse_restricted(call, template, image_restricted(call), "Template")
    manager = call.cloud.images
    with call.cloud.db.read() as conn:
        ds = call.cloud.pools.datastores.get(conn, ds_id)
    if ds.type in (DS_SYSTEM, DS_BACKUP):
        raise refuse_allocate("image", "New images can only be allocated in a files or "
                              "image datastore.")
    refuse_path(call, template.get("PATH") or "", ds)
    kind = IMAGE_TYPES.get((template.get("TYPE") or DEFAULT_TYPE).strip().upper())
    if kind is not None:
        _check_datastore(kind, ds)  # before STAT, as ImageAllocate
    stat = None if manager is None else (lambda: _stat(call, manager, template, ds))
    size = _size(template, stat)
    check_numbers(template, IMAGE_NUMBERS)  # after _size: oned's words for what it checks
    if manager is not None:
        manager.refresh_capacity(ds)
    has_source, has_path = bool(template.get("SOURCE")), bool(template.get("PATH"))
    action = None if has_source else "CP" if has_path else "MKFS"
    return _commit_new(call, template, ds_id, size, action, no_capacity_check)


def _commit_new(call: Call, template: Template, ds_id: int, size: int, action: str | None,
                skip_check: bool = False, then: Callable[[Connection, Image], None] | None = None
                ) -> int:
    """Check and insert the new image, LOCKED with the DS ``action`` it awaits (READY at
    once with none, or on a bare cloud), and send the action once committed; ``then``
    runs in the same transaction (what else the new image changes)."""
    manager = call.cloud.images
    with call.cloud.db.write() as conn:
        ds = call.cloud.pools.datastores.get(conn, ds_id)
        authorize_create(call, IMAGE)
        authorize(call, A.USE, object_auth(DATASTORE, ds), DATASTORE.acl_name)
        if _persistent_only(ds) and not _persistent(template):
            raise refuse_allocate("image", "This Datastore only accepts persistent images.")
        _room_for(call, ds, size, skip_check)
        waits = manager is not None and action is not None
        image = _new_image(call, conn, template, ds, size,
                           state=IMAGE_LOCKED if waits else IMAGE_READY)
        _register(call, conn, image, ds)
        if then is not None:
            then(conn, image)
        seq = _await(call, conn, image, action) if waits and action else None
    _send(call, image.id, action or "", seq)
    return image.id


def save_disk_as(call: Call, template: Template, ds_id: int, size: int,
                 then: Callable[[Connection, Image], None] | None = None) -> int:
    """A new image copied (DS CLONE) from the file at the template's PATH, a disk nubo
    made itself (one.vm.disksaveas): no SAFE_DIRS for it, no STAT (its size is known)."""
    manager = call.cloud.images
    if manager is not None:
        with call.cloud.db.read() as conn:
            manager.refresh_capacity(call.cloud.pools.datastores.get(conn, ds_id))
    return _commit_new(call, template, ds_id, size, "CLONE", then=then)


def _persistent_only(ds: Datastore) -> bool:
    return (ds.template.get("PERSISTENT_ONLY") or "").upper() == "YES"


def clone_image(call: Call, oid: int, name: str, ds_id: int) -> int:
    """A copy of image oid named name, in datastore ds_id (-1: the source's)."""
    pools = call.cloud.pools
    manager = call.cloud.images
    if manager is not None:  # the target's room, monitored before anything is locked
        with call.cloud.db.read() as conn:
            src = pools.images.get(conn, oid)
            target = pools.datastores.find(conn, src.datastore_id if ds_id == -1 else ds_id)
        if target is not None:
            manager.refresh_capacity(target)
    with call.cloud.db.write() as conn:
        src = pools.images.get(conn, oid)
        if src.type not in DISKS:
            raise refuse("KERNEL, RAMDISK, BACKUP and CONTEXT cannot be cloned.", oid)
        target = pools.datastores.get(conn, src.datastore_id if ds_id == -1 else ds_id)
        if target.type != DS_IMAGE:
            raise refuse("Clone only supported for IMAGE_DS Datastores", oid)
        origin = target
        if target.id != src.datastore_id:
            origin = pools.datastores.get(conn, src.datastore_id)
            if origin.type != DS_IMAGE:
                raise refuse("Clone only supported for IMAGE_DS Datastores", oid)
            if origin.ds_mad != target.ds_mad:
                raise refuse("Clone only supported to same DS_MAD Datastores", oid)
        authorize_create(call, IMAGE)
        authorize(call, A.USE, object_auth(IMAGE, src), IMAGE.acl_name)
        for ds in {target.id: target, origin.id: origin}.values():
            authorize(call, A.USE, object_auth(DATASTORE, ds), DATASTORE.acl_name)
        # Image::clone_template: the source's template, pointing at the source's disk.
        template = src.template.copy()
        template.remove("VCENTER_IMPORTED")
        for key, value in (("NAME", name), ("TYPE", IMAGE_TYPE_NAMES[src.type]),
                           ("PATH", src.source or src.path), ("FORMAT", src.format),
                           ("SIZE", str(src.size)),
                           ("PERSISTENT", "YES" if src.persistent else "NO")):
            template.set(key, value)
        _room_for(call, target, src.size, False, oid)
        waits = manager is not None
        image = _new_image(call, conn, template, target, src.size, clone_of=src,
                           state=IMAGE_LOCKED if waits else IMAGE_READY)
        if not waits:  # no driver: the copy is done at once
            image.cloning_id = -1
            return _register(call, conn, image, target)
        _register(call, conn, image, target)
        # The source is in CLONE (if it was READY) until the driver's copy answered.
        src.cloning_ops += 1
        src.clones = set_member(src.clones, image.id, True)
        if src.state == IMAGE_READY:
            src.state = IMAGE_CLONE
        pools.images.update(conn, src)
        seq = _await(call, conn, image, "CLONE")
    _send(call, image.id, "CLONE", seq)
    return image.id


# -- life cycle -------------------------------------------------------------------------------

def _managed(call: Call, conn: Connection, oid: int) -> Image:
    image = fetch(call, conn, IMAGE, oid, A.MANAGE)
    check_lock(image, A.MANAGE)
    return image


def delete_image(call: Call, oid: int, force: bool = False) -> None:
    """An image no VM uses and no clone is being made of. One with a file (or whose file
    is being made: the driver runs an image's actions in order) goes to DELETE until its
    DS driver removed it (RM), then leaves its pool and datastore (the image manager);
    one without (ERROR, or a bare cloud) goes at once. ``force``: oned's, ignored (the
    driver's failure to remove the file never keeps the image)."""
    pools = call.cloud.pools
    with call.cloud.db.write() as conn:
        image = _managed(call, conn, oid)
        running = image_vms.count(conn, oid)
        if image.state in _IN_USE or (image.state == IMAGE_READY and running):
            raise refuse(f"Cannot delete image. There are {running} VMs using it.", oid)
        if image.state == IMAGE_CLONE:
            raise refuse(f"Cannot delete image. There are {image.cloning_ops} active clone "
                         "operations.", oid)
        drop_acl_rules(call, conn, ObjectType.IMAGE, oid)
        if image.state == IMAGE_LOCKED and image.cloning_id >= 0:
            release_clone_source(conn, pools, image)  # its CLONE answer will not count
        ds = pools.datastores.find(conn, image.datastore_id)
        made = image.source or image.state == IMAGE_LOCKED  # a copy under way makes one
        if call.cloud.images is None or ds is None or not made:
            journal.forget(conn, journal.IMAGE, oid)
            if ds is not None:
                ds.images = set_member(ds.images, oid, False)
                pools.datastores.update(conn, ds)
            pools.images.delete(conn, oid)
            return
        _set_state(image, IMAGE_DELETE)
        pools.images.update(conn, image)
        seq = _await(call, conn, image, "RM")
    _send(call, oid, "RM", seq)


def enable_image(call: Call, oid: int, enable: bool) -> None:
    """READY, or DISABLED (not offered to new VMs), from READY, ERROR or DISABLED."""
    with call.cloud.db.write() as conn:
        image = _managed(call, conn, oid)
        ok_from = (IMAGE_DISABLED, IMAGE_ERROR, IMAGE_READY) if enable else (
            IMAGE_READY, IMAGE_ERROR, IMAGE_DISABLED)
        if image.state not in ok_from:
            raise InternalError(f"Could not {'enable' if enable else 'disable'} image: Image "
                                f"cannot be in state {_state(image)}.", oid)
        _set_state(image, IMAGE_READY if enable else IMAGE_DISABLED)
        call.cloud.pools.images.update(conn, image)


def make_persistent(call: Call, oid: int, persistent: bool) -> None:
    """Disk images only, and not while VMs or clones use them."""
    pools = call.cloud.pools
    with call.cloud.db.write() as conn:
        image = _managed(call, conn, oid)
        ds = pools.datastores.find(conn, image.datastore_id)
        if ds is None:
            raise InternalError("Datastore no longer exists.", oid)
        if image.type in FILES:
            raise refuse("KERNEL, RAMDISK and CONTEXT must be non-persistent", oid)
        if image.type not in DISKS:
            raise refuse("BACKUP images must be persistent", oid)
        if _persistent_only(ds) and not persistent:
            raise InternalError("This Datastore only accepts persistent images.", oid)
        if image.state in _IN_USE | {IMAGE_CLONE}:
            raise InternalError(f"Could not make image {'' if persistent else 'non-'}persistent: "
                                f"Image cannot be in state {_state(image)}.", oid)
        image.persistent = int(persistent)
        pools.images.update(conn, image)


def change_type(call: Call, oid: int, type_name: str) -> None:
    """A disk image stays a disk (OS, CDROM, DATABLOCK), a file stays a file."""
    with call.cloud.db.write() as conn:
        image = _managed(call, conn, oid)
        name = type_name.strip().upper()
        wanted = IMAGE_TYPES.get(name, OS)  # Image::str_to_type: unknown reads as OS
        same_family = DISKS if image.type in DISKS else FILES if image.type in FILES else None
        if same_family is None:
            raise refuse("Cannot change type for BACKUP images.", oid)
        if wanted not in same_family:
            raise refuse("Cannot change image type to an incompatible type for the current "
                         "datastore.", oid)
        if name not in IMAGE_TYPES:
            raise InternalError(f"Unknown type {type_name}", oid)
        image.type = wanted
        call.cloud.pools.images.update(conn, image)


# -- snapshots ----------------------------------------------------------------------------------

_SNAPSHOT_ACTIONS = {"delete": "SNAP_DELETE", "revert": "SNAP_REVERT", "flatten": "SNAP_FLATTEN"}


def snapshot_image(call: Call, oid: int, snap_id: int, what: str) -> None:
    """one.image.snapshot{delete,revert,flatten}: the image LOCKED while its DS driver
    works on the snapshot (qcow2), READY again with its SNAPSHOTS updated after."""
    action = _SNAPSHOT_ACTIONS[what]
    verb = {"delete": "delete", "revert": "revert to", "flatten": "flatten"}[what]
    with call.cloud.db.write() as conn:
        image = _managed(call, conn, oid)
        if image.state != IMAGE_READY:
            raise refuse(f"Cannot {verb} snapshot in state {_state(image)}", oid)
        if what == "revert" and image_vms.count(conn, oid):
            raise refuse("Cannot revert to snapshot in image with running VMs", oid)
        why = (image_snapshots.refuse_delete(image.snapshots, snap_id) if what == "delete"
               else image_snapshots.refuse_other(image.snapshots, snap_id))
        if why:
            raise refuse(why, oid)
        if call.cloud.images is None:  # no driver: only the list changes
            image.snapshots = RawXml(image_snapshots.after(image.snapshots, action, snap_id))
            call.cloud.pools.images.update(conn, image)
            return
        image.target_snapshot = snap_id
        _set_state(image, IMAGE_LOCKED)
        call.cloud.pools.images.update(conn, image)
        seq = _await(call, conn, image, action)
    _send(call, oid, action, seq)
