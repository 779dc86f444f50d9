"""Virtual networks: allocate, delete, address ranges, holds and reservations (one.vn.*).

Who holds which address is the vn_lease table (``nubo.core.leases``); a network's body
keeps its ARs but not their leases, which are rendered from the table when it is read
(``info_bodies``, ``pool_entries``). oned creates a network in LOCK_CREATE and makes it
READY when its driver has run (and only then adds the ARs); nubo has no network drivers
yet, so a new network is READY at once, and a bad AR fails the allocation with nothing
created.
"""
from __future__ import annotations

import re
from typing import Callable, Sequence

from sqlalchemy import Connection

from nubo.auth import acl as A
from nubo.auth.acl import ObjectType
from nubo.core import leases
from nubo.core.ops.clusters import (VNET, drop_acl_rules, leave_clusters, set_member,
                                    target_cluster)
from nubo.core.ops.common import (authorize, check_lock, check_name, fetch, new_permissions,
                                  object_auth, refuse)
from nubo.core.ops import generic, vnet_updates
from nubo.core.ops.call import Call
from nubo.core.ops.restricted_checks import refuse_restricted, vnet_restricted
from nubo.errors import ApiError, InternalError, NuboError
from nubo.model.address_range import AddressRange
from nubo.model.address_range_legacy import LEGACY_TYPES, legacy_ranges
from nubo.model.address_range_xml import listed_with_leases
from nubo.model.limits import VNET_NUMBERS, check_numbers
from nubo.model.resources import VNET_READY, VirtualNetwork, set_address_ranges, vnet_info_body
from nubo.store.pools import Pool
from nubo.template import Template, VectorAttribute, parse_str_or_xml

# oned.conf VN_MAD_CONF: the drivers oned knows and the bridge each one uses.
BRIDGE_TYPES = {"dummy": "linux", "802.1Q": "linux", "ebtables": "linux", "fw": "linux",
                "ovswitch": "openvswitch", "vxlan": "linux", "vcenter": "vcenter_port_groups",
                "ovswitch_vxlan": "openvswitch", "bridge": "linux", "elastic": "linux",
                "nodeport": "linux"}
# VirtualNetwork::parse_phydev_vlans: what each driver needs (as the 7.x code checks it).
_NEEDS = {"dummy": ("BRIDGE",), "802.1Q": ("PHYDEV", "VLAN_ID"), "vxlan": ("PHYDEV", "VLAN_ID"),
          "ovswitch_vxlan": ("OUTER_VLAN_ID",)}
# oned.conf VLAN_IDS (START 2, RESERVED 0, 1, 4095) shared by these drivers; VXLAN_IDS START 2.
_VLAN_DRIVERS = frozenset({"802.1Q", "vcenter", "ovswitch", "ovswitch_vxlan"})
_VLAN_START, _VLAN_END, _VXLAN_START = 2, 4094, 2


def _vlan(template: Template, name: str, auto_name: str) -> tuple[str, bool]:
    """VirtualNetwork::parse_vlan_id: a given VLAN id wins over AUTOMATIC_*=YES."""
    value = template.get(name) or ""
    automatic = (template.get(auto_name) or "").strip().upper() == "YES"
    template.remove(auto_name)
    if not value:
        template.remove(name)
    return value, automatic and not value


def _used_vlans(conn: Connection, vnets: leases.Vnets) -> set[int]:
    """VLAN ids handed out automatically to 802.1Q-family networks (oned's VLAN bitmap)."""
    t = vnets.table
    used = set()
    for body in vnets.bodies(conn, t.c.body.like("%<VLAN_ID_AUTOMATIC>1</VLAN_ID_AUTOMATIC>%")):
        mad = re.search(r"<VN_MAD>([^<]*)</VN_MAD>", body)
        vlan = re.search(r"</PHYDEV><VLAN_ID>(\d+)</VLAN_ID>", body)
        if mad and vlan and mad.group(1) in _VLAN_DRIVERS:
            used.add(int(vlan.group(1)))
    return used


def _automatic_vlans(conn: Connection, vnets: leases.Vnets, vnet: VirtualNetwork) -> None:
    """VirtualNetworkPool::set_vlan_id: 802.1Q ids from a hint, VXLAN ids START + id."""
    mad = vnet.vn_mad
    if mad in _VLAN_DRIVERS and vnet.vlan_id_automatic == "1" and not vnet.vlan_id:
        span = _VLAN_END - _VLAN_START + 1
        used = _used_vlans(conn, vnets)
        hint = vnet.id % span
        free = next((_VLAN_START + (hint + i) % span for i in range(span)
                     if _VLAN_START + (hint + i) % span not in used), None)
        if free is None:
            raise InternalError("Cannot automatically assign VLAN_ID to network.")
        vnet.vlan_id = str(free)
    field = {"vxlan": "vlan_id", "ovswitch_vxlan": "outer_vlan_id"}.get(mad)
    if field and getattr(vnet, f"{field}_automatic") == "1" and not getattr(vnet, field):
        setattr(vnet, field, str(_VXLAN_START + vnet.id))


def free_name(conn: Connection, pool: Pool, name: str, uid: int, tag: str, noun: str) -> None:
    """A new network's (or network template's) NAME: given, valid, free among the owner's,
    refused with oned's INTERNAL messages otherwise."""
    taken = pool.oid_by_name(conn, name, uid) if name else None
    if taken is not None:
        raise InternalError(f"NAME is already taken by {tag} {taken}.", taken)
    if not name:
        raise InternalError(f"No NAME in template for {noun}.")
    try:
        check_name(name)
    except ApiError as e:
        raise InternalError(e.message) from None


def _legacy_network(template: Template, mac_prefix: str) -> list[dict[str, str]]:
    """A RANGED or FIXED network of the source documents: its ARs, with the template
    rewritten as a network of today (``address_range_legacy``). oned 6+ needs VN_MAD;
    those templates predate it and ran on the hosts' bridges: ``dummy`` stands for that."""
    kind = (template.get("TYPE") or "").strip().upper()
    if kind not in LEGACY_TYPES:
        return []
    single = {name: template.get(name) or "" for name in template.names()
              if template.get(name) is not None}
    ars, network = legacy_ranges(single, [dict(v.items()) for v in
                                          template.get_vectors("LEASES")], mac_prefix)
    for name in ("TYPE", "LEASES", "NETWORK_SIZE", "IP_START", "IP_END"):
        template.remove(name)
    for key, value in network.items():
        template.set(key, value)
    if not template.get("VN_MAD"):
        template.set("VN_MAD", "dummy")
    return ars


def build_vnet(call: Call, conn: Connection, template: Template, cluster_ids: list[int],
               parent: int = -1, *, unnamed: Callable[[int], str] | None = None
               ) -> tuple[VirtualNetwork, list[AddressRange]]:
    """VirtualNetworkPool::allocate + VirtualNetwork::insert: check and build (not insert).
    ``unnamed`` names a network whose template has no NAME, from its id (instantiate)."""
    vnets = call.cloud.pools.vnets
    name = template.get("NAME") or ""
    oid = None
    if not name and unnamed is not None:
        oid = vnets.next_oid(conn)
        name = unnamed(oid)
    if (template.get("TYPE") or "").strip().upper() in LEGACY_TYPES:
        # The documents' "Private<TAB>LAN" (a tab where their text had a space): the
        # name their VMs and CONTEXT refer to is "Private LAN".
        name = " ".join(name.split())
    free_name(conn, vnets, name, call.uid, "NET", "Virtual Network")
    template.remove("NAME")
    mac_prefix = call.cloud.config.mac_prefix
    legacy = _legacy_network(template, mac_prefix)
    vn_mad = template.get("VN_MAD") or ""
    if not vn_mad:
        raise InternalError("No VN_MAD in template for Virtual Network.")
    phydev, bridge = template.get("PHYDEV") or "", template.get("BRIDGE") or ""
    vlan, vlan_auto = _vlan(template, "VLAN_ID", "AUTOMATIC_VLAN_ID")
    outer, outer_auto = _vlan(template, "OUTER_VLAN_ID", "AUTOMATIC_OUTER_VLAN_ID")
    given = {"PHYDEV": phydev, "BRIDGE": bridge, "VLAN_ID": vlan or vlan_auto,
             "OUTER_VLAN_ID": outer or outer_auto}
    for need in _NEEDS.get(vn_mad, ()):
        if not given[need]:
            what = {"VLAN_ID": "VLAN_ID (or AUTOMATIC_VLAN_ID)",
                    "OUTER_VLAN_ID": "OUTER_VLAN_ID (or AUTOMATIC)"}.get(need, need)
            raise InternalError(f"{what} is mandatory for driver {vn_mad}")
    if vn_mad not in BRIDGE_TYPES:
        raise InternalError(f'VN_MAD named "{vn_mad}" is not defined in oned.conf')
    oid = vnets.next_oid(conn) if oid is None else oid
    bridge = bridge or (f"onebr.{vlan}" if vlan else f"onebr{oid}")
    groups = {int(g) for g in (template.get("SECURITY_GROUPS") or "").split(",")
              if g.strip().isdigit()} | {0}
    ars: list[AddressRange] = []
    vectors = [dict(v.items()) for v in template.get_vectors("AR")]
    for i, attrs in enumerate([*vectors, *legacy]):
        ars.append(leases.new_range(attrs, i, template, ars, mac_prefix))
    template.remove("AR")
    for key, value in (("VN_MAD", vn_mad), ("PHYDEV", phydev), ("BRIDGE", bridge),
                       ("BRIDGE_TYPE", BRIDGE_TYPES[vn_mad]),
                       ("SECURITY_GROUPS", ",".join(map(str, sorted(groups))))):
        template.set(key, value)
    gid = call.session.gid
    vnet = VirtualNetwork(
        id=oid, uid=call.uid, gid=gid, uname=call.session.uname, gname=call.session.gname,
        name=name, lock=None, permissions=new_permissions(call, call.uid, gid),
        clusters=sorted(cluster_ids), bridge=bridge, bridge_type=BRIDGE_TYPES[vn_mad],
        # No network driver to run (see the module docstring): READY at once.
        state=VNET_READY, prev_state=VNET_READY,
        parent_network_id="" if parent == -1 else str(parent), template_id="-1",
        vn_mad=vn_mad, phydev=phydev, vlan_id=vlan, outer_vlan_id=outer,
        vlan_id_automatic=str(int(vlan_auto)), outer_vlan_id_automatic=str(int(outer_auto)),
        used_leases=0, template=template)
    _automatic_vlans(conn, vnets, vnet)
    return vnet, ars


def insert_vnet(call: Call, conn: Connection, vnet: VirtualNetwork,
                ars: list[AddressRange]) -> int:
    """Insert a built network and list it in its clusters' VNETS, in one transaction."""
    pools = call.cloud.pools
    set_address_ranges(vnet, [(ar, []) for ar in ars])  # a new network has no leases
    pools.vnets.insert(conn, vnet)
    for cid in vnet.clusters:
        cluster = pools.clusters.get(conn, cid)
        cluster.vnets = set_member(cluster.vnets, vnet.id, True)
        pools.clusters.update(conn, cluster)
    return vnet.id


def allocate_vnet(call: Call, template: Template, cluster_id: int) -> int:
    """one.vn.allocate: a READY network in cluster ``cluster_id`` (-1: the default one)."""
    check_numbers(template, VNET_NUMBERS)
    with call.cloud.db.write() as conn:
        cluster = target_cluster(call, conn, cluster_id, VNET)
        vnet, ars = build_vnet(call, conn, template, [cluster.id])
        return insert_vnet(call, conn, vnet, ars)


def delete_vnet(call: Call, oid: int) -> int:
    """Refused while VMs, routers or reservations lease addresses; held ones are freed."""
    with call.cloud.db.write() as conn:
        remove_vnet(call, conn, managed(call, conn, oid))
    return oid


def remove_vnet(call: Call, conn: Connection, vnet: VirtualNetwork, force: bool = False) -> None:
    """Drop a network, its leases and the ACL rules naming it; without ``force`` (one.vn.
    recover delete) only when no VM, router or reservation leases an address of it."""
    pools, oid = call.cloud.pools, vnet.id
    if not force and leases.count(conn, oid, exclude=leases.HOLD):
        raise refuse("Cannot delete virtual network. Can not remove a virtual network "
                     "with leases in use", oid)
    leases.free_rows(conn, oid)
    if vnet.parent_network_id:  # a reservation gives its addresses back
        leases.free_owner(conn, pools.vnets, ("VNET", oid), int(vnet.parent_network_id))
    leave_clusters(call, conn, vnet.clusters, "vnets", oid)
    pools.vnets.delete(conn, oid)
    drop_acl_rules(call, conn, ObjectType.NET, oid)


def managed(call: Call, conn: Connection, oid: int, op: int = A.MANAGE) -> VirtualNetwork:
    """The network, if the requester may do ``op`` on it and no lock at that level holds."""
    vnet = fetch(call, conn, VNET, oid, op)
    check_lock(vnet, op)
    return vnet


# -- address ranges ----------------------------------------------------------------------------

def _first_ar(call: Call, text: str, old: dict[str, str] | None = None, *,
              restricted: bool = True) -> dict[str, str]:
    """The first AR vector of an add_ar/update_ar template (oned reads only that one).

    Its numbers must be in range; with ``restricted`` (a reservation's AR: oned restricts
    no other network's) a non-admin may not set VNET_RESTRICTED_ATTR's AR/ attributes in
    it, nor change those of ``old``.
    """
    vector = parse_str_or_xml(text).get_vector("AR")
    if vector is None:
        raise InternalError("Wrong AR definition. AR vector attribute is missing.")
    alone = Template([vector])
    check_numbers(alone, VNET_NUMBERS)
    if restricted:
        base = None if old is None else Template([VectorAttribute("AR", old)])
        refuse_restricted(call, alone, vnet_restricted(call), "Extra Template", base,
                          append=True)
    return dict(vector.items())


def add_address_range(call: Call, oid: int, text: str) -> int:
    """one.vn.add_ar: the template's first AR, after the network's others."""
    with call.cloud.db.write() as conn:
        vnet = managed(call, conn, oid, A.ADMIN)
        attrs = _first_ar(call, text, restricted=bool(vnet.parent_network_id))
        ars = leases.ranges_of(vnet)
        ars.append(leases.new_range(attrs, max((a.ar_id for a in ars), default=-1) + 1,
                                    vnet.template, ars, call.cloud.config.mac_prefix))
        leases.save(conn, call.cloud.pools.vnets, vnet, ars)
    return oid


def remove_address_range(call: Call, oid: int, ar_id: int, force: bool = False) -> int:
    """one.vn.rm_ar (ADMIN; with ``force`` even while its addresses are leased)."""
    return _remove_ar(call, oid, ar_id, force, A.ADMIN)


def free_address_range(call: Call, oid: int, ar_id: int) -> int:
    """one.vn.free_ar: a reservation's owner (MANAGE) gives back an unused AR."""
    return _remove_ar(call, oid, ar_id, False, A.MANAGE)


def _remove_ar(call: Call, oid: int, ar_id: int, force: bool, op: int) -> int:
    """Drop an AR and its leases; a reservation's addresses go back to its parent."""
    vnets = call.cloud.pools.vnets
    with call.cloud.db.write() as conn:
        vnet = managed(call, conn, oid, op)
        ars = leases.ranges_of(vnet)
        ar = next((a for a in ars if a.ar_id == ar_id), None)
        if ar is None:
            raise InternalError("Address Range does not exist", oid)
        if leases.max_index(conn, oid, ar_id) is not None and not force:
            raise InternalError("Address Range has leases in use", oid)
        leases.free_rows(conn, oid, ar_id=ar_id)
        leases.save(conn, vnets, vnet, [a for a in ars if a.ar_id != ar_id])
        if vnet.parent_network_id and ar.parent_network_ar_id is not None:
            leases.give_back(conn, vnets, int(vnet.parent_network_id), oid, ar)
    return oid


def update_address_range(call: Call, oid: int, text: str) -> int:
    """one.vn.update_ar: new attributes for the AR the template's AR_ID names."""
    with call.cloud.db.write() as conn:
        vnet = managed(call, conn, oid)
        attrs = _first_ar(call, text, restricted=False)
        ar_id = attrs.get("AR_ID", "").strip()
        if not ar_id.isdigit():
            raise InternalError("AR/AR_ID attribute is missing.", oid)
        ars = leases.ranges_of(vnet)
        at = next((i for i, a in enumerate(ars) if a.ar_id == int(ar_id)), None)
        if at is None:
            raise InternalError(f"Address Range with ID {ar_id} was not found.", oid)
        if vnet.parent_network_id:  # oned restricts reservations' ARs only
            _first_ar(call, text, ars[at].attributes())
        ars[at] = ars[at].update(attrs, max_used_index=leases.max_index(conn, oid, int(ar_id)))
        leases.check_overlaps(ars[at], ars)
        leases.save(conn, call.cloud.pools.vnets, vnet, ars)
    return oid


# -- holds -------------------------------------------------------------------------------------

def _lease_request(text: str) -> dict[str, str | int | None]:
    """The LEASES=[IP|IP6|MAC=..., AR_ID=...] of one.vn.hold/release, checked as oned does."""
    vector = parse_str_or_xml(text).get_vector("LEASES")
    if vector is None:
        raise InternalError("Empty lease description.")
    given = {k.lower(): vector.get(k) for k in ("IP", "IP6", "MAC") if vector.get(k)}
    if not given:
        raise InternalError("Missing MAC, IP or IP6.")
    if len(given) > 1:
        raise InternalError("Only one attribute MAC, IP or IP6 can be set.")
    ar_id = (vector.get("AR_ID") or "").strip()
    return {**given, "ar_id": int(ar_id) if ar_id.isdigit() else None}


def hold_lease(call: Call, oid: int, text: str) -> int:
    """one.vn.hold: mark the LEASES=[IP|IP6|MAC] address used (by VM -1)."""
    return _leases_action(call, oid, text, leases.hold)


def release_lease(call: Call, oid: int, text: str) -> int:
    """one.vn.release: free a held address; like oned, one not held is no error."""
    return _leases_action(call, oid, text, leases.release)


def _leases_action(call: Call, oid: int, text: str, action: leases.Action) -> int:
    request = _lease_request(text)
    with call.cloud.db.write() as conn:
        managed(call, conn, oid)
        action(conn, call.cloud.pools.vnets, oid, **request)  # type: ignore[arg-type]
    return oid


# -- reservations ------------------------------------------------------------------------------

def _reservation(text: str) -> dict[str, int | str | None]:
    """SIZE, NETWORK_ID, NAME, AR_ID and IP|IP6|MAC of one.vn.reserve, checked as oned does."""
    try:
        template = parse_str_or_xml(text)
    except NuboError as e:
        raise refuse(e.message) from None  # oned answers a bad reservation with ACTION

    def number(name: str) -> int | None:
        value = (template.get(name) or "").strip()
        return int(value) if re.fullmatch(r"-?\d+", value) else None
    size, rid, ar_id = number("SIZE"), number("NETWORK_ID"), number("AR_ID")
    if size is None or size <= 0:
        raise refuse("Reservation SIZE must be a greater than 0")
    if rid is not None and rid < 0:
        raise refuse("NETWORK_ID must be equal or greater than 0")
    if not template.get("NAME") and rid is None:
        raise refuse("NAME for reservation has to be set")
    if ar_id is not None and ar_id < 0:
        raise refuse("AR_ID must be equal or greater than 0")
    address = {k.lower(): template.get(k) for k in ("IP", "IP6", "MAC") if template.get(k)}
    if address and ar_id is None:
        raise refuse("AR_ID must be specified for IP/MAC based reservations")
    return {"size": size, "rid": rid, "name": template.get("NAME"), "ar_id": ar_id, **address}


def reserve(call: Call, oid: int, text: str) -> int:
    """Reserve addresses of a network into a new (NAME) or existing (NETWORK_ID) one."""
    request = _reservation(text)
    size, rid, name = request.pop("size"), request.pop("rid"), request.pop("name")
    vnets = call.cloud.pools.vnets
    with call.cloud.db.write() as conn:
        target = None
        if rid is not None:
            if rid == oid:
                raise refuse("Cannot add a reservation from the same network", oid)
            target = vnets.get(conn, int(rid))
            if not target.parent_network_id:
                raise refuse("Cannot add reservations to a non-reservation VNET", oid)
            if target.parent_network_id != str(oid):
                raise refuse(f"New reservations for virtual network {rid} have to be from "
                             f"network {target.parent_network_id}", oid)
        parent = vnets.get(conn, oid)
        if parent.parent_network_id:
            raise refuse("Cannot reserve addresses from a reserved VNET", oid)
        authorize(call, A.USE, object_auth(VNET, parent), VNET.acl_name)
        if target is not None:
            authorize(call, A.MANAGE, object_auth(VNET, target), VNET.acl_name)
        else:
            template = parent.template.copy()
            template.set("NAME", str(name))
            for key, value in (("VLAN_ID", parent.vlan_id), ("OUTER_VLAN_ID",
                                                              parent.outer_vlan_id)):
                if value:
                    template.set(key, value)
            target, _ = build_vnet(call, conn, template, parent.clusters, parent=oid)
            insert_vnet(call, conn, target, [])
        ars = leases.ranges_of(target)
        ars.append(leases.reserve(conn, vnets, oid, target.id, int(size),  # type: ignore[arg-type]
                                  max((a.ar_id for a in ars), default=-1) + 1, **request))
        leases.save(conn, vnets, target, ars)
        return target.id


# -- update: VirtualNetwork::post_update_template ---------------------------------------------

def post_update(call: Call, vnet: VirtualNetwork, template: Template) -> None:
    """Re-read the driver attributes from the new template, keeping what it leaves out."""
    vnet.vn_mad = template.get("VN_MAD") or vnet.vn_mad
    vnet.phydev = template.get("PHYDEV") or ""
    template.remove("AUTOMATIC_VLAN_ID")
    template.remove("AUTOMATIC_OUTER_VLAN_ID")
    for field, name in (("vlan_id", "VLAN_ID"), ("outer_vlan_id", "OUTER_VLAN_ID")):
        if getattr(vnet, f"{field}_automatic") == "1":
            template.remove(name)
        else:
            setattr(vnet, field, template.get(name) or "")
    vnet.bridge = template.get("BRIDGE") or vnet.bridge
    if template.get("BRIDGE_TYPE") in ("linux", "openvswitch", "openvswitch_dpdk",
                                       "vcenter_port_groups", "none"):
        vnet.bridge_type = template.get("BRIDGE_TYPE")
    for key, value in (("VN_MAD", vnet.vn_mad), ("PHYDEV", vnet.phydev),
                       ("BRIDGE", vnet.bridge), ("BRIDGE_TYPE", vnet.bridge_type or "")):
        template.set(key, value)


def update_vnet(call: Call, oid: int, text: str, update_type: int) -> int:
    """one.vn.update, then the change pushed to the VMs using the network."""
    generic.update(call, VNET, oid, text, update_type, validate=post_update,
                   restricted=restricted_attributes, numbers=VNET_NUMBERS)
    vnet_updates.propagate(call, oid)
    return oid


def restricted_attributes(call: Call, vnet: VirtualNetwork) -> Sequence[str]:
    """What a non-admin may not change in one.vn.update: oned restricts reservations only
    ("Normal VNets do not have restricted attributes")."""
    return vnet_restricted(call) if vnet.parent_network_id else ()


# -- reading: the stored networks with their leases from the table ----------------------------

def info_bodies(conn: Connection, bodies: dict[int, str]) -> dict[int, str]:
    """one.vn.info's documents of these networks (id -> stored body), with their leases.
    The front caches them by row version as it does ``pool_entries``; it authorises the
    read first (``generic.info``)."""
    found = leases.by_range(conn, bodies)
    return {oid: vnet_info_body(body, found.get(oid, {})) for oid, body in bodies.items()}


def pool_entries(conn: Connection, short_bodies: dict[int, str]) -> dict[int, str]:
    """one.vnpool.info's entries of these networks (id -> stored short body): each with
    its leases as ALLOCATED. The front caches them by row version (every lease taken or
    freed writes its network's row, ``leases.save``), so an unchanged network's leases
    are not read again."""
    found = leases.by_range(conn, short_bodies)
    return {oid: listed_with_leases(body, found.get(oid, {}))
            for oid, body in short_bodies.items()}
