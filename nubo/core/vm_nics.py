"""A VM NIC's lease: what a NIC of a virtual network gets at allocate and on attach.

Kept apart from the disks (nubo.core.vm_resources) because networks grow on their own:
address-range types, NIC aliases, security groups and the NIC attributes oned resolves.
"""
from __future__ import annotations

from sqlalchemy import Connection

from nubo.core import leases
from nubo.core import secgroup_rules
from nubo.core.pool_set import Pools
from nubo.errors import NoExistsError
from nubo.template import VectorAttribute


def lease_nic(conn: Connection, pools: Pools, vm_id: int, nic: VectorAttribute, vnet_id: int,
              nic_id: int) -> None:
    """Give the NIC a lease of network ``vnet_id`` (its IP or MAC if it asks for one)."""
    vnet = pools.vnets.find(conn, vnet_id)
    if vnet is None:
        raise NoExistsError(f"Error getting virtual network [{vnet_id}].", vnet_id)
    lease = leases.allocate(conn, pools.vnets, vnet.id, ("VM", vm_id), ip=nic.get("IP"),
                            mac=nic.get("MAC"))
    for key, value in lease.attributes().items():
        nic.set(key, value)
    nic.set("NETWORK", vnet.name)
    nic.set("NETWORK_ID", str(vnet.id))
    for key, value in (("BRIDGE", vnet.bridge), ("BRIDGE_TYPE", vnet.bridge_type),
                       ("VN_MAD", vnet.vn_mad)):
        if value and not nic.get(key):
            nic.set(key, value)
    nic.set("NIC_ID", str(nic_id))
    secgroup_rules.join_nic(conn, pools, nic, vnet)
    if not nic.get("NAME"):
        nic.set("NAME", f"NIC{nic_id}")
