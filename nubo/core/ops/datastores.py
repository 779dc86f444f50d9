"""Datastore operations: where images and VM disks live.

A datastore's behaviour comes from its drivers: DS_MAD (how images get in)
and TM_MAD (how disks reach the hosts). OpenNebula only accepts drivers its
oned.conf describes (DS_MAD_CONF / TM_MAD_CONF) and copies their settings
into the template on creation and update; nubo ships oned.conf's entries.
"""
from __future__ import annotations

import dataclasses

from sqlalchemy import Connection

from nubo.auth import acl as A
from nubo.auth.acl import ObjectType
from nubo.core.ops.clusters import (DATASTORE, allocation_problem, drop_acl_rules,
                                    leave_clusters, set_member, target_cluster)
from nubo.core.ops.common import fetch, new_permissions, refuse
from nubo.core.ops.call import Call
from nubo.errors import InternalError
from nubo.model.infra import (DISK_TYPE_NAMES, DS_BACKUP, DS_DISABLED,
                              DS_FILE, DS_IMAGE, DS_READY, DS_SYSTEM, DS_TYPE_NAMES, Datastore)
from nubo.model.limits import DATASTORE_NUMBERS, check_numbers
from nubo.template import Template


# DS_MAD_CONF: the attributes each image driver requires in the template.
DS_MAD_CONF: dict[str, tuple[str, ...]] = {
    "ceph": ("DISK_TYPE", "BRIDGE_LIST"), "dev": ("DISK_TYPE",),
    "iscsi_libvirt": ("DISK_TYPE", "ISCSI_HOST"), "dummy": (), "fs": (),
    "lvm": ("DISK_TYPE", "BRIDGE_LIST"),
    "vcenter": ("VCENTER_INSTANCE_ID", "VCENTER_DS_REF", "VCENTER_DC_REF"),
    "restic": ("RESTIC_PASSWORD",), "rsync": ("RSYNC_HOST", "RSYNC_USER"),
}

# TM_MAD_CONF: what each transfer driver sets in the datastores using it.
_SSH_SYSTEM = {"TM_MAD_SYSTEM": "ssh", "LN_TARGET_SSH": "SYSTEM", "CLONE_TARGET_SSH": "SYSTEM",
               "DISK_TYPE_SSH": "FILE"}
_SSH_SHARED_SYSTEM = {"TM_MAD_SYSTEM": "ssh,shared", "LN_TARGET_SSH": "SYSTEM",
                      "CLONE_TARGET_SSH": "SYSTEM", "DISK_TYPE_SSH": "FILE",
                      "LN_TARGET_SHARED": "NONE", "CLONE_TARGET_SHARED": "SELF"}
TM_MAD_CONF: dict[str, dict[str, str]] = {
    "dummy": {"LN_TARGET": "NONE", "CLONE_TARGET": "SYSTEM", "SHARED": "YES",
              "DS_MIGRATE": "YES"},
    "lvm": {"LN_TARGET": "NONE", "CLONE_TARGET": "SELF", "SHARED": "YES", "DRIVER": "raw"},
    "shared": {"LN_TARGET": "NONE", "CLONE_TARGET": "SYSTEM", "SHARED": "YES",
               "DS_MIGRATE": "YES", **_SSH_SYSTEM, "ALLOW_ORPHANS": "FORMAT"},
    "fs_lvm": {"LN_TARGET": "SYSTEM", "CLONE_TARGET": "SYSTEM", "SHARED": "YES",
               "DRIVER": "raw"},
    "fs_lvm_ssh": {"LN_TARGET": "SYSTEM", "CLONE_TARGET": "SYSTEM", "SHARED": "YES",
                   "DRIVER": "raw"},
    "qcow2": {"LN_TARGET": "NONE", "CLONE_TARGET": "SYSTEM", "SHARED": "YES",
              "DS_MIGRATE": "YES", **_SSH_SYSTEM, "DRIVER": "qcow2", "ALLOW_ORPHANS": "FORMAT"},
    "ssh": {"LN_TARGET": "SYSTEM", "CLONE_TARGET": "SYSTEM", "SHARED": "NO",
            "DS_MIGRATE": "YES", "ALLOW_ORPHANS": "YES"},
    "ceph": {"LN_TARGET": "NONE", "CLONE_TARGET": "SELF", "SHARED": "YES", "DS_MIGRATE": "NO",
             "DRIVER": "raw", "ALLOW_ORPHANS": "mixed", **_SSH_SHARED_SYSTEM,
             "DISK_TYPE_SHARED": "RBD"},
    "iscsi_libvirt": {"LN_TARGET": "NONE", "CLONE_TARGET": "SELF", "SHARED": "YES",
                      "DS_MIGRATE": "NO", "DRIVER": "raw"},
    "dev": {"LN_TARGET": "NONE", "CLONE_TARGET": "NONE", "SHARED": "YES", **_SSH_SHARED_SYSTEM,
            "DISK_TYPE_SHARED": "FILE", "DRIVER": "raw"},
    "vcenter": {"LN_TARGET": "NONE", "CLONE_TARGET": "SYSTEM", "SHARED": "YES"},
}

# Disk types each kind of datastore can present (others are refused, or forced to FILE).
_IMAGE_DISKS = {"FILE", "BLOCK", "ISCSI", "RBD", "GLUSTER", "SHEEPDOG"}
_SYSTEM_DISKS = {"FILE", "RBD", "BLOCK"}
_TYPE_NAMES = {v: k for k, v in DS_TYPE_NAMES.items()}
_DISK_NAMES = {v: k for k, v in DISK_TYPE_NAMES.items()}


def ds_type(text: str | None) -> int:
    """TYPE as Datastore::str_to_type reads it: any unknown or missing value is IMAGE_DS."""
    return DS_TYPE_NAMES.get((text or "").strip().upper(), DS_IMAGE)


def _check_ds_mad(template: Template, kind: int, ds_mad: str) -> None:
    """The image driver must be known and its required attributes present."""
    if kind == DS_SYSTEM:
        return
    if ds_mad not in DS_MAD_CONF:
        raise InternalError(f'DS_MAD named "{ds_mad}" is not defined in oned.conf')
    for name in DS_MAD_CONF[ds_mad]:
        if not template.get(name):
            raise InternalError(f'Datastore template is missing the "{name}" attribute or '
                                "it's empty.")


def _apply_tm_mad(template: Template, kind: int, tm_mad: str) -> None:
    """Copy the transfer driver's settings into the template (Datastore::set_tm_mad)."""
    if not tm_mad:
        raise InternalError("No TM_MAD in template.")
    conf = TM_MAD_CONF.get(tm_mad)
    if conf is None:
        raise InternalError(f'TM_MAD named "{tm_mad}" is not defined in oned.conf')
    if kind == DS_SYSTEM:
        template.set("SHARED", "YES" if conf["SHARED"].upper() == "YES" else "NO")
        template.set("DS_MIGRATE", "NO" if conf.get("DS_MIGRATE", "YES").upper() == "NO"
                     else "YES")
        template.remove("LN_TARGET")
        template.remove("CLONE_TARGET")
    elif kind != DS_BACKUP:
        for key, value in conf.items():
            if key not in ("SHARED", "DS_MIGRATE", "ALLOW_ORPHANS"):
                template.set(key, value)
        template.remove("SHARED")
    if kind != DS_BACKUP:
        template.set("ALLOW_ORPHANS", conf.get("ALLOW_ORPHANS", "NO"))


def _disk_type(template: Template, kind: int, text: str) -> int:
    """DISK_TYPE for the datastore's kind (Datastore::set_ds_disk_type); shown for image/system."""
    if kind in (DS_FILE, DS_BACKUP):
        return DISK_TYPE_NAMES["FILE"]
    name = text.strip().upper() or "FILE"
    if name not in DISK_TYPE_NAMES:
        raise InternalError("Unknown DISK_TYPE in template.")
    if kind == DS_IMAGE and name not in _IMAGE_DISKS:
        raise InternalError("Invalid DISK_TYPE for an Image Datastore.")
    if kind == DS_SYSTEM and name not in _SYSTEM_DISKS:
        raise InternalError("Invalid DISK_TYPE for a System Datastore.")
    template.set("DISK_TYPE", name)
    return DISK_TYPE_NAMES[name]


def _new_datastore(call: Call, conn: Connection, template: Template) -> Datastore:
    """Validate an allocate template as DatastorePool::allocate + Datastore::insert do."""
    pools = call.cloud.pools
    name = template.get("NAME") or ""
    problem = allocation_problem(name)
    if problem:
        raise InternalError(problem)
    taken = pools.datastores.oid_by_name(conn, name)
    if taken is not None:
        raise InternalError(f"NAME is already taken by DATASTORE {taken}.", taken)
    template.remove("NAME")
    kind = ds_type(template.get("TYPE"))
    ds_mad = template.get("DS_MAD") or ""
    if kind == DS_SYSTEM:
        if ds_mad:
            raise InternalError("SYSTEM datastores cannot have DS_MAD defined.")
        ds_mad = "-"
    elif not ds_mad:
        raise InternalError("No DS_MAD in template.")
    _check_ds_mad(template, kind, ds_mad)
    tm_mad = "-" if kind == DS_BACKUP else template.get("TM_MAD") or ""
    if kind != DS_BACKUP:
        _apply_tm_mad(template, kind, tm_mad)
    template.remove("BASE_PATH")
    disk_text = template.get("DISK_TYPE") or ""
    template.remove("DISK_TYPE")
    disk_type = _disk_type(template, kind, disk_text)
    if not template.get("SAFE_DIRS") and not template.get("RESTRICTED_DIRS"):
        template.set("SAFE_DIRS", "/var/tmp")
        template.set("RESTRICTED_DIRS", "/")
    oid = pools.datastores.next_oid(conn)
    session = call.session
    # Datastores are also usable by their group, whatever the umask says.
    perms = dataclasses.replace(new_permissions(call, session.uid, session.gid), group_u=1)
    return Datastore(id=oid, uid=session.uid, gid=session.gid, uname=session.uname,
                     gname=session.gname, name=name, permissions=perms, ds_mad=ds_mad,
                     tm_mad=tm_mad, base_path=f"{call.cloud.config.datastore_dir}{oid}", type=kind,
                     disk_type=disk_type, state=DS_READY, template=template)


def allocate_datastore(call: Call, template: Template, cluster_id: int) -> int:
    """A new datastore in cluster_id (-1: the default cluster), READY at once."""
    check_numbers(template, DATASTORE_NUMBERS)
    pools = call.cloud.pools
    with call.cloud.db.write() as conn:
        cluster = target_cluster(call, conn, cluster_id, DATASTORE)
        ds = _new_datastore(call, conn, template)
        ds.clusters = [cluster.id]
        pools.datastores.insert(conn, ds)
        cluster.datastores = set_member(cluster.datastores, ds.id, True)
        pools.clusters.update(conn, cluster)
    return ds.id


def delete_datastore(call: Call, oid: int) -> None:
    """Only an empty datastore goes; its clusters and the ACL rules naming it forget it."""
    with call.cloud.db.write() as conn:
        ds = fetch(call, conn, DATASTORE, oid, A.ADMIN)
        if ds.images:
            raise refuse(f"Cannot delete datastore. Datastore {oid} is not empty.", oid)
        call.cloud.pools.datastores.delete(conn, oid)
        leave_clusters(call, conn, ds.clusters, "datastores", oid)
        drop_acl_rules(call, conn, ObjectType.DATASTORE, oid)


def enable_datastore(call: Call, oid: int, enable: bool) -> None:
    """Only system datastores can be disabled: the scheduler then skips them."""
    with call.cloud.db.write() as conn:
        ds = fetch(call, conn, DATASTORE, oid, A.MANAGE)
        if ds.type != DS_SYSTEM:
            raise InternalError("Only SYSTEM_DS can be disabled or enabled", oid)
        ds.state = DS_READY if enable else DS_DISABLED
        call.cloud.pools.datastores.update(conn, ds)


def check_datastore_update(call: Call, ds: Datastore, template: Template) -> None:
    """Validate an updated template: re-derive TYPE, DISK_TYPE and the drivers from it
    (Datastore::post_update_template); a failure leaves the datastore as it was."""
    try:
        if ds.id == 0:
            ds.type = DS_SYSTEM  # the system datastore stays one
        elif ds.type != DS_BACKUP and template.get("TYPE"):
            ds.type = ds_type(template.get("TYPE"))
        template.set("TYPE", _TYPE_NAMES[ds.type])
        disk_text = template.get("DISK_TYPE") or ""
        template.remove("DISK_TYPE")
        if disk_text:
            ds.disk_type = _disk_type(template, ds.type, disk_text)
        new_tm = template.get("TM_MAD") or ""
        if new_tm and ds.type != DS_BACKUP:
            _apply_tm_mad(template, ds.type, new_tm)
            ds.tm_mad = new_tm
        else:
            template.set("TM_MAD", ds.tm_mad)
        if ds.type == DS_SYSTEM:
            ds.ds_mad = "-"
            template.remove("DS_MAD")
        else:
            ds.ds_mad = template.get("DS_MAD") or ds.ds_mad
            template.set("DS_MAD", ds.ds_mad)
        _check_ds_mad(template, ds.type, ds.ds_mad)
    except InternalError as e:
        raise InternalError(f"Cannot update template. {e.message}", ds.id) from e


def datastore_renamed(call: Call, conn: Connection, renamed: tuple[Datastore, str]) -> None:
    """After a rename, in its transaction: images show their datastore's name (DATASTORE)."""
    ds, _old = renamed
    images = call.cloud.pools.images
    for iid in ds.images:
        image = images.find(conn, iid)
        if image is not None and image.datastore_id == ds.id:
            image.datastore = ds.name
            images.update(conn, image)
