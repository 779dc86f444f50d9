"""Users' resources other than VMs: VM templates, images and virtual networks."""
from __future__ import annotations

from dataclasses import dataclass, field

from nubo.model.common import Lock
from nubo.model.permissions import Permissions
from nubo.model.xmlobj import RawXml, xml_field
from nubo.template import Template

# Image types, disk types and states (OpenNebula's Image::ImageType / ImageState).
IMAGE_TYPES = {"OS": 0, "CDROM": 1, "DATABLOCK": 2, "KERNEL": 3, "RAMDISK": 4, "CONTEXT": 5}
IMAGE_INIT, IMAGE_READY, IMAGE_USED, IMAGE_DISABLED, IMAGE_LOCKED, IMAGE_ERROR = 0, 1, 2, 3, 4, 5
IMAGE_CLONE, IMAGE_DELETE, IMAGE_USED_PERS, IMAGE_LOCKED_USED, IMAGE_LOCKED_USED_PERS = 6, 7, 8, 9, 10

VNET_INIT, VNET_READY, VNET_LOCK_CREATE, VNET_LOCK_DELETE, VNET_DONE, VNET_ERROR = 0, 1, 2, 3, 4, 5


@dataclass
class VmTemplate:
    id: int
    uid: int
    gid: int
    uname: str
    gname: str
    name: str
    lock: Lock | None
    permissions: Permissions
    regtime: int
    template: Template = field(default_factory=Template)

    TAG = "VMTEMPLATE"


@dataclass
class Image:
    id: int
    uid: int
    gid: int
    uname: str
    gname: str
    name: str
    lock: Lock | None
    permissions: Permissions
    type: int
    disk_type: int
    persistent: int
    regtime: int
    modtime: int
    source: str
    path: str
    format: str
    fs: str
    size: int
    state: int
    prev_state: int
    running_vms: int
    cloning_ops: int
    cloning_id: int
    target_snapshot: int
    datastore_id: int
    datastore: str
    vms: list[int] = field(default_factory=list)
    clones: list[int] = field(default_factory=list)
    app_clones: list[int] = field(default_factory=list)
    template: Template = field(default_factory=Template)
    snapshots: RawXml = xml_field("SNAPSHOTS", default=RawXml(
        "<SNAPSHOTS><ALLOW_ORPHANS>NO</ALLOW_ORPHANS><CURRENT_BASE>-1</CURRENT_BASE>"
        "<NEXT_SNAPSHOT>0</NEXT_SNAPSHOT></SNAPSHOTS>"))
    backup_increments: RawXml = xml_field("BACKUP_INCREMENTS",
                                          default=RawXml("<BACKUP_INCREMENTS/>"))

    TAG = "IMAGE"


@dataclass
class VirtualNetwork:
    id: int
    uid: int
    gid: int
    uname: str
    gname: str
    name: str
    lock: Lock | None
    permissions: Permissions
    clusters: list[int]
    bridge: str
    bridge_type: str | None
    state: int
    prev_state: int
    parent_network_id: str
    template_id: str
    vn_mad: str
    phydev: str
    vlan_id: str | None
    outer_vlan_id: str | None
    vlan_id_automatic: str
    outer_vlan_id_automatic: str
    used_leases: int
    vrouters: list[int] = field(default_factory=list)
    updated_vms: list[int] = field(default_factory=list)
    outdated_vms: list[int] = field(default_factory=list)
    updating_vms: list[int] = field(default_factory=list)
    error_vms: list[int] = field(default_factory=list)
    template: Template = field(default_factory=Template)
    ar_pool: RawXml = xml_field("AR_POOL", default=RawXml("<AR_POOL/>"))

    TAG = "VNET"
