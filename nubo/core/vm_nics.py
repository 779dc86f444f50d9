"""A VM NIC's lease: what a NIC of a virtual network gets at allocate and on attach.

Kept apart from the disks (nubo.core.vm_resources) because networks grow on their own:
address-range types, NIC aliases, security groups and the NIC attributes oned resolves
(VirtualNetwork::nic_attribute, AddressRange::set_attribute): the lease's MAC/IP/IP6*,
AR_ID, the network's NETWORK, NETWORK_ID, NETWORK_UNAME, BRIDGE, BRIDGE_TYPE, VN_MAD,
PHYDEV, VLAN_ID..., the attributes oned.conf's INHERIT_VNET_ATTR passes down from the
network and then from the AR (MTU, GUEST_MTU, bandwidth limits...), and TARGET
(one-<vm>-<nic>). A NIC_ALIAS (linked to its PARENT when the template is split) takes a
lease of its own; NIC_DEFAULT fills what a NIC leaves out.
"""
from __future__ import annotations

from typing import Callable

from sqlalchemy import Connection

from nubo.core import leases
from nubo.core import secgroup_rules
from nubo.core.pool_set import Pools
from nubo.errors import ActionError, NoExistsError
from nubo.model.address_range import AddressRange
from nubo.model.resources import VirtualNetwork
from nubo.model.vm import VirtualMachine
from nubo.template import VectorAttribute

# oned.conf INHERIT_VNET_ATTR (6.10's list): copied from the network, then its AR, into a
# NIC that does not set them itself.
INHERITED = ("VLAN_TAGGED_ID", "FILTER_IP_SPOOFING", "FILTER_MAC_SPOOFING", "MTU", "GUEST_MTU",
             "METRIC", "INBOUND_AVG_BW", "INBOUND_PEAK_BW", "INBOUND_PEAK_KB",
             "OUTBOUND_AVG_BW", "OUTBOUND_PEAK_BW", "OUTBOUND_PEAK_KB", "CONF", "BRIDGE_CONF",
             "OVS_BRIDGE_CONF", "IP_LINK_CONF", "EXTERNAL", "AWS_ALLOCATION_ID",
             "VCENTER_NET_REF", "VCENTER_SWITCH_NAME", "VCENTER_SWITCH_NPORTS",
             "VCENTER_PORTGROUP_TYPE", "VCENTER_CCR_REF", "VCENTER_INSTANCE_ID")

Resolver = Callable[[VectorAttribute], "int | None"]


def lease_nics(conn: Connection, pools: Pools, vm: VirtualMachine, network_of: Resolver) -> None:
    """Lease an address to every NIC, then every NIC_ALIAS, of a new VM (oned's
    get_network_leases); ``network_of`` names the network a NIC refers to (None: none).
    NIC_ID, NAME and the alias links (PARENT_ID, ALIAS_ID, ALIAS_IDS) are already set
    when the VM's template was split (``nubo.model.vm_template``)."""
    default = vm.template.get_vector("NIC_DEFAULT")
    for nic_id, nic in enumerate(vm.template.get_vectors("NIC")):
        for key, value in (default.items() if default is not None else ()):
            if not nic.get(key):
                nic.set(key, value)
        vnet_id = network_of(nic)
        if vnet_id is not None:
            _leased(conn, pools, vm.id, nic, vnet_id)
        _name_nic(vm.id, nic, int(nic.get("NIC_ID") or nic_id))
    for alias in vm.template.get_vectors("NIC_ALIAS"):
        vnet_id = network_of(alias)
        if vnet_id is None:
            raise ActionError(f"NIC_ALIAS {alias.get('NAME')} has no NETWORK or NETWORK_ID.")
        _leased(conn, pools, vm.id, alias, vnet_id)
        alias.remove("BRIDGE_TYPE")  # an alias is an address on its parent, not a device


def lease_nic(conn: Connection, pools: Pools, vm_id: int, nic: VectorAttribute, vnet_id: int,
              nic_id: int) -> None:
    """Give the NIC a lease of network ``vnet_id`` (its IP, IP6 or MAC if it asks for
    one) and the network's attributes (a NIC attached to a running VM)."""
    _leased(conn, pools, vm_id, nic, vnet_id)
    _name_nic(vm_id, nic, nic_id)


def _leased(conn: Connection, pools: Pools, vm_id: int, nic: VectorAttribute,
            vnet_id: int) -> None:
    vnet = pools.vnets.find(conn, vnet_id)
    if vnet is None:
        raise NoExistsError(f"Error getting virtual network [{vnet_id}].", vnet_id)
    lease = leases.allocate(conn, pools.vnets, vnet.id, ("VM", vm_id), ip=nic.get("IP"),
                            ip6=nic.get("IP6"), mac=nic.get("MAC"))
    for key, value in lease.attributes().items():
        nic.set(key, value)
    nic.set("NETWORK", vnet.name)
    nic.set("NETWORK_ID", str(vnet.id))
    nic.set("NETWORK_UNAME", vnet.uname)
    if vnet.parent_network_id:
        nic.set("PARENT_NETWORK_ID", vnet.parent_network_id)
    for key, value in network_attributes(vnet, lease.ar).items():
        if not nic.get(key):
            nic.set(key, value)
    if nic.name == "NIC":  # an alias is an address on its parent, filtered with it
        secgroup_rules.join_nic(conn, pools, nic, vnet)


def network_attributes(vnet: VirtualNetwork, ar: AddressRange | None) -> dict[str, str]:
    """What a NIC of this network (leased from AR ``ar``) takes from it: the driver's
    attributes, then INHERIT_VNET_ATTR from the network, overridden by the AR's."""
    out = {k: v for k, v in (("BRIDGE", vnet.bridge), ("BRIDGE_TYPE", vnet.bridge_type),
                             ("VN_MAD", vnet.vn_mad), ("PHYDEV", vnet.phydev),
                             ("VLAN_ID", vnet.vlan_id), ("OUTER_VLAN_ID", vnet.outer_vlan_id))
           if v}
    for key in INHERITED:
        value = (ar.extra.get(key) if ar is not None else None) or vnet.template.get(key)
        if value:
            out[key] = value
    return out


def refresh_nic(nic: VectorAttribute, vnet: VirtualNetwork) -> bool:
    """Bring a leased NIC up to date with its network after one.vn.update; True if it
    changed. The driver's attributes follow the network (also when it drops one, say
    PHYDEV); an inherited one the network no longer has stays (the NIC may set it)."""
    ar_id = nic.get("AR_ID") or ""
    ar = next((a for a in leases.ranges_of(vnet) if str(a.ar_id) == ar_id), None)
    wanted = network_attributes(vnet, ar)
    if nic.name == "NIC_ALIAS":  # an address on its parent, not a device
        wanted.pop("BRIDGE_TYPE", None)
    changed = False
    for key in {*wanted, "PHYDEV", "VLAN_ID", "OUTER_VLAN_ID"}:
        value = wanted.get(key)
        if nic.get(key) == value or (value is None and nic.get(key) is None):
            continue
        if value is None:
            nic.remove(key)
        else:
            nic.set(key, value)
        changed = True
    return changed


def _name_nic(vm_id: int, nic: VectorAttribute, nic_id: int) -> None:
    nic.set("NIC_ID", str(nic_id))
    if not nic.get("NAME"):
        nic.set("NAME", f"NIC{nic_id}")
    if not nic.get("TARGET"):  # the documents' NIC may name its device itself
        nic.set("TARGET", f"one-{vm_id}-{nic_id}")


# ------------------------------------------------------------------ hotplug of aliases

def attach_alias(conn: Connection, pools: Pools, vm: VirtualMachine, alias: VectorAttribute,
                 vnet_id: int) -> None:
    """A NIC_ALIAS attached to the VM's NIC named by its PARENT, as oned's
    VirtualMachineNics::set_up_attach_nic: the next NIC_ID, ALIAS_ID 0 for a parent's
    first alias else one above every alias's, PARENT_ID, the parent's ALIAS_IDS, and a
    lease of its own."""
    nics = vm.template.get_vectors("NIC")
    aliases = vm.template.get_vectors("NIC_ALIAS")
    nic_id = 1 + max((_int(n.get("NIC_ID")) for n in [*nics, *aliases]), default=-1)
    parent_name = alias.get("PARENT") or ""
    parent = next((n for n in nics if n.get("NAME") == parent_name), None)
    if parent is None:
        raise ActionError(f"NIC named {parent_name} not found for alias", vm.id)
    ids = [i for i in (parent.get("ALIAS_IDS") or "").split(",") if i]
    alias_id = 1 + max((_int(a.get("ALIAS_ID")) for a in aliases), default=-1) if ids else 0
    pid = parent.get("NIC_ID") or ""
    alias.set("NIC_ID", str(nic_id))
    alias.set("PARENT_ID", pid)
    alias.set("ALIAS_ID", str(alias_id))
    alias.set("NAME", f"NIC{pid}_ALIAS{alias_id}")
    _leased(conn, pools, vm.id, alias, vnet_id)
    alias.remove("BRIDGE_TYPE")  # an address on its parent, not a device
    parent.set("ALIAS_IDS", ",".join([*ids, str(nic_id)]))


def marked(vm: VirtualMachine, flag: str = "ATTACH") -> list[VectorAttribute]:
    """The NICs and NIC_ALIASes a hotplug in flight marked with ``flag``."""
    return [v for kind in ("NIC", "NIC_ALIAS") for v in vm.template.get_vectors(kind)
            if (v.get(flag) or "").upper() == "YES"]


def with_aliases(vm: VirtualMachine, doomed: list[VectorAttribute]) -> list[VectorAttribute]:
    """``doomed`` and the aliases of its NICs: a NIC detached takes its aliases along
    (oned's delete_attach_alias)."""
    parents = {n.get("NIC_ID") for n in doomed if n.name == "NIC"}
    extra = [a for a in vm.template.get_vectors("NIC_ALIAS")
             if a.get("PARENT_ID") in parents and not any(a is d for d in doomed)]
    return [*doomed, *extra]


def unlink_aliases(vm: VirtualMachine, gone: list[VectorAttribute]) -> None:
    """The parents of aliases that went no longer list them in ALIAS_IDS."""
    ids = {a.get("NIC_ID") for a in gone if a.name == "NIC_ALIAS"}
    for parent in vm.template.get_vectors("NIC"):
        listed = [i for i in (parent.get("ALIAS_IDS") or "").split(",") if i]
        kept = [i for i in listed if i not in ids]
        if kept != listed:  # "" once the last goes, as oned leaves it
            parent.set("ALIAS_IDS", ",".join(kept))


def _int(text: str | None) -> int:
    try:
        return int(text or -1)
    except ValueError:
        return -1
