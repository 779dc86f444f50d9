"""Users' resources other than VMs: VM templates, images and virtual networks."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from lxml import etree

from nubo.model.address_range import AddressRange
from nubo.model.address_range_xml import OWNER_BITS, Leases
from nubo.model.parts import Lock
from nubo.model.permissions import Permissions
from nubo.model.xmlobj import RawXml, parse, render, xml_field
from nubo.template import Template

# Image types, disk types and states (OpenNebula's Image::ImageType / ImageState).
IMAGE_TYPES = {"OS": 0, "CDROM": 1, "DATABLOCK": 2, "KERNEL": 3, "RAMDISK": 4, "CONTEXT": 5,
               "BACKUP": 6}
IMAGE_TYPE_NAMES = {v: k for k, v in IMAGE_TYPES.items()}
IMAGE_STATE_NAMES = ("INIT", "READY", "USED", "DISABLED", "LOCKED", "ERROR", "CLONE", "DELETE",
                     "USED_PERS", "LOCKED_USED", "LOCKED_USED_PERS")
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


# VirtualNetwork::VirtualNetworkState of oned 6.10 (the first six are defined above).
VNET_UPDATE_FAILURE = 6
VNET_STATE_NAMES = ("INIT", "READY", "LOCK_CREATE", "LOCK_DELETE", "DONE", "ERROR",
                    "UPDATE_FAILURE")
# one.vn.recover's operation codes (VirtualNetworkRecover).
VNET_RECOVER_OPERATIONS = {"failure": 0, "success": 1, "delete": 2, "retry": 3}


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


# -- the AR_POOL of a virtual network ---------------------------------------------------------
#
# The stored body keeps each AR with *all* its attributes (strict=False), as oned shows them
# and as goca reads them (AR.Custom): vnet.xsd has no place for PREFIX_LENGTH, GATEWAY, DNS...
# but dropping them would lose what clients set and what NICs inherit. An AR whose
# attributes are all in the schema validates against vnet.xsd / vnet_pool.xsd.

Range = tuple[AddressRange, list[tuple[int, dict[str, int]]]]


def address_ranges(vnet: VirtualNetwork) -> list[Range]:
    """The ARs of a stored body with the leases it shows as (index, {"VM"|"VNET"|"VROUTER":
    id}): none since leases live in their table, some in a body stored before that."""
    out: list[Range] = []
    for el in etree.fromstring(vnet.ar_pool.encode()).iterfind("AR"):
        ar = AddressRange.restore({c.tag: c.text or "" for c in el if c.tag != "LEASES"})
        leases = []
        for lease in el.iterfind("LEASES/LEASE"):
            index = ar.index_of_mac(lease.findtext("MAC") or "")
            owner = next(c for c in lease if c.tag in OWNER_BITS)
            if index is not None:
                leases.append((index, {owner.tag: int(owner.text or -1)}))
        out.append((ar, leases))
    return out


def set_address_ranges(vnet: VirtualNetwork, ranges: list[tuple[AddressRange, Leases]]) -> None:
    """Render the ARs with their leases into the body; USED_LEASES is their count."""
    used = 0
    parts = ["<AR_POOL>"]
    for ar, leases in ranges:
        leases = list(leases)
        used += len(leases)
        parts.append(ar.to_xml(leases, strict=False))
    parts.append("</AR_POOL>")
    vnet.ar_pool = RawXml("".join(parts))
    vnet.used_leases = used


def vnet_short_body(vnet: VirtualNetwork) -> str:
    """The one.vnpool.info form (vnet_pool.xsd): ARs with ALLOCATED instead of LEASES."""
    ars = "".join(ar.to_pool_xml(leases, strict=True) for ar, leases in address_ranges(vnet))
    short = replace(vnet, ar_pool=RawXml(f"<AR_POOL>{ars}</AR_POOL>"))
    return render(short, VirtualNetwork.TAG)


def vnet_info_body(stored: str, leases: Mapping[int, Leases]) -> str:
    """The one.vn.info form: the stored network with ``leases`` (AR id -> (index, owner),
    kept in their own table, not in the body) and ARs limited to what vnet.xsd allows.

    Storage keeps every AR attribute (PREFIX_LENGTH, GATEWAY, DNS…) because NIC
    leases and static IPv6 ranges need them; the schema's AR is a closed sequence.
    """
    vnet = parse(VirtualNetwork, stored)
    parts, used = [], 0
    for ar, _ in address_ranges(vnet):
        mine = list(leases.get(ar.ar_id, ()))
        used += len(mine)
        parts.append(ar.to_xml(mine, strict=True))
    return render(replace(vnet, used_leases=used,
                          ar_pool=RawXml(f"<AR_POOL>{''.join(parts)}</AR_POOL>")),
                  VirtualNetwork.TAG)
