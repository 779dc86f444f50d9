"""A VM's security groups: the groups of its NICs and their rules in its template.

As oned: a NIC of a network uses the network's SECURITY_GROUPS plus its own
(VirtualNetwork::nic_attribute); the VM's TEMPLATE holds one SECURITY_GROUP_RULE per
rule of each group its NICs use (SecurityGroup::get_rules: the rule's attributes plus
SECURITY_GROUP_ID and SECURITY_GROUP_NAME), a rule naming a NETWORK_ID becoming one
rule per address range of that network with the range's AR_ID, TYPE, SIZE, MAC, IP and
IP6 (AddressRangePool::process_security_rule). The network drivers read them back per
NIC (nubo.drivers.vnm). Each group lists the VM among its UPDATED_VMS once its rules
are rendered. Everything runs in the caller's transaction.
"""
from __future__ import annotations

from lxml import etree
from sqlalchemy import Connection

from nubo.core.pool_set import Pools
from nubo.model import secgroup as sg
from nubo.model.resources import VirtualNetwork
from nubo.model.vm import VirtualMachine, order_system_template
from nubo.model.vm_template import VmTemplateError
from nubo.store import secgroup_vms
from nubo.template import Template, VectorAttribute

RULE = "SECURITY_GROUP_RULE"
#: What an address range gives a NETWORK_ID rule (oned's SG_RULE_ATTRIBUTES).
_AR_ATTRIBUTES = ("AR_ID", "TYPE", "SIZE", "MAC", "IP", "IP6")


def join_nic(conn: Connection, pools: Pools, nic: VectorAttribute, vnet: VirtualNetwork) -> None:
    """The NIC's SECURITY_GROUPS: its own and its network's, as one sorted list."""
    try:
        ids = set(sg.ids_of(nic.get("SECURITY_GROUPS")))
        ids |= set(sg.ids_of(vnet.template.get("SECURITY_GROUPS")))
    except sg.SecGroupError as e:
        raise VmTemplateError(str(e)) from None
    if ids:
        nic.set("SECURITY_GROUPS", ",".join(map(str, sorted(ids))))


def group_ids(template: Template) -> list[int]:
    """The groups the VM's NICs use, each once, in NIC order."""
    out: list[int] = []
    for nic in template.get_vectors("NIC"):
        for gid in sg.ids_of(nic.get("SECURITY_GROUPS")):
            if gid not in out:
                out.append(gid)
    return out


def network_rules(rule: VectorAttribute, vnet: VirtualNetwork) -> list[VectorAttribute]:
    """A NETWORK_ID rule as one rule per address range of the network."""
    out = []
    for ar in etree.fromstring(vnet.ar_pool.encode()).iterfind("AR"):
        copy = rule.copy()
        for key in _AR_ATTRIBUTES:
            value = ar.findtext(key) or ""
            if value:
                copy.set(key, value)
        out.append(copy)
    return out


def group_rules(conn: Connection, pools: Pools, group: sg.SecurityGroup) -> list[VectorAttribute]:
    """The group's rules as a VM's SECURITY_GROUP_RULEs (NETWORK_IDs expanded)."""
    out: list[VectorAttribute] = []
    for rule in group.rules():
        vm_rule = VectorAttribute(RULE, dict(rule.items()))
        vm_rule.set("SECURITY_GROUP_ID", str(group.id))
        vm_rule.set("SECURITY_GROUP_NAME", group.name)
        vnet_id = (rule.get("NETWORK_ID") or "").strip()
        if vnet_id.isdigit() and not rule.get("IP"):
            vnet = pools.vnets.find(conn, int(vnet_id))
            out += network_rules(vm_rule, vnet) if vnet is not None else []  # oned drops it
        else:
            out.append(vm_rule)
    return out


def render(conn: Connection, pools: Pools, vm: VirtualMachine, state: str = "updated") -> list[int]:
    """Rewrite the VM's SECURITY_GROUP_RULEs from its NICs' groups and list the VM in
    each group's UPDATED_VMS (``state``: UPDATING_VMS); answers the group ids."""
    ids = group_ids(vm.template)
    vm.template.remove(RULE)
    for gid in ids:
        group = pools.secgroups.find(conn, gid)
        if group is None:
            continue
        for rule in group_rules(conn, pools, group):
            vm.template.add(rule)
        secgroup_vms.put(conn, gid, vm.id, state)
        pools.secgroups.update(conn, group)  # its version moves with its VMs: listings
    vm.template = order_system_template(vm.template)  # the rules' place in vm.xsd's order
    return ids


def refresh(conn: Connection, pools: Pools, vm: VirtualMachine) -> None:
    """After a NIC went (detach): the rules rendered from the NICs left, and the VM out of
    the groups whose rules it no longer has."""
    old = {int(r.get("SECURITY_GROUP_ID") or -1) for r in vm.template.get_vectors(RULE)}
    now = render(conn, pools, vm)
    forget(conn, pools, vm.id, sorted(old - set(now) - {-1}))


def leave(conn: Connection, pools: Pools, vm: VirtualMachine) -> None:
    """Take the VM out of every group it uses (a VM DONE)."""
    forget(conn, pools, vm.id, group_ids(vm.template))


def forget(conn: Connection, pools: Pools, vm_id: int, ids: list[int]) -> None:
    """Take the VM out of groups ``ids`` (it no longer uses them)."""
    for gid in ids:
        group = pools.secgroups.find(conn, gid)
        if group is not None and secgroup_vms.remove(conn, gid, vm_id):
            pools.secgroups.update(conn, group)
