"""The network driver steps for one VM on its host, as OpenNebula's vnm drivers do them.

* ``pre`` (before boot): each NIC's bridge made if missing (with PHYDEV enslaved for
  ``bridge`` when given; for ``802.1Q`` the VLAN interface PHYDEV.VLAN_ID made and
  enslaved to the VLAN's bridge), MTU set.
* ``post`` (after boot): the VM's taps (TARGET, ``one-<vmid>-<nicid>``) attached to
  their bridges and brought up, and the VM's security groups applied (nubo.drivers
  .vnm.firewall).
* ``clean`` (after shutdown): the VM's rules removed, its taps detached, and each bridge
  (and VLAN interface) it used deleted once nothing else is plugged into it.
* ``attach_nic`` / ``detach_nic`` (hotplug): the same for one NIC, the VM's rules
  re-rendered with or without it.

``dummy`` NICs need nothing. Every step can be run again: what exists is left alone.
"""
from __future__ import annotations

from nubo.drivers.vnm import firewall
from nubo.drivers.vnm.host import Host
from nubo.drivers.vnm.nics import Nic, VmNetwork

_BRIDGE_SYSCTLS = ("net.bridge.bridge-nf-call-iptables", "net.bridge.bridge-nf-call-ip6tables")


def _wired(vm: VmNetwork) -> list[Nic]:
    return [n for n in vm.nics if n.vn_mad != "dummy"]


def _bridge(host: Host, nic: Nic) -> None:
    if not host.exists(nic.bridge):
        host.ip("add", "name", nic.bridge, "type", "bridge")
    host.set_mtu(nic.bridge, nic.mtu)
    host.ip("set", "dev", nic.bridge, "up")


def _uplink(host: Host, nic: Nic) -> str | None:
    """The device the NIC's bridge reaches the wire through (made for 802.1Q)."""
    if nic.vn_mad == "802.1Q":
        if not host.exists(nic.vlan_device):
            host.ip("add", "link", nic.phydev, "name", nic.vlan_device, "type", "vlan", "id",
                    nic.vlan_id)
        return nic.vlan_device
    return nic.phydev or None


def pre_nic(host: Host, nic: Nic) -> None:
    _bridge(host, nic)
    uplink = _uplink(host, nic)
    if uplink is None:
        return
    if host.links().get(uplink, {}).get("master") != nic.bridge:
        host.ip("set", "dev", uplink, "master", nic.bridge)
    host.set_mtu(uplink, nic.mtu)
    host.ip("set", "dev", uplink, "up")


def post_nic(host: Host, nic: Nic) -> None:
    host.ip("set", "dev", nic.tap, "master", nic.bridge)
    host.set_mtu(nic.tap, nic.mtu)
    host.ip("set", "dev", nic.tap, "up")


def apply_firewall(host: Host, vm: VmNetwork) -> None:
    """The VM's tables replaced by what its NICs and rules say now."""
    if firewall.filtered(vm):
        for key in _BRIDGE_SYSCTLS:  # bridged traffic through the inet hooks
            host.sysctl(key, "1")
    host.nft(firewall.replace_script(vm))


def clean_nic(host: Host, nic: Nic, others: list[Nic]) -> None:
    """Unplug the tap; drop the bridge (and VLAN interface) if only uplinks are left."""
    links = host.links()
    if nic.tap in links and links[nic.tap].get("master") == nic.bridge:
        host.ip("set", "dev", nic.tap, "nomaster")
    if nic.bridge not in links or any(o.bridge == nic.bridge for o in others):
        return
    uplink = nic.vlan_device if nic.vn_mad == "802.1Q" else nic.phydev
    if [p for p in host.ports(nic.bridge) if p != uplink]:
        return  # another VM's tap (or anything not ours) still uses it
    if nic.vn_mad == "802.1Q" and uplink in links:
        host.ip("delete", "dev", uplink)
    host.ip("delete", "dev", nic.bridge)


def pre(host: Host, vm: VmNetwork) -> None:
    for nic in _wired(vm):
        pre_nic(host, nic)


def post(host: Host, vm: VmNetwork) -> None:
    for nic in _wired(vm):
        post_nic(host, nic)
    apply_firewall(host, vm)


def clean(host: Host, vm: VmNetwork) -> None:
    host.nft(firewall.replace_script(VmNetwork(vm.vm_id, (), ())))
    wired = _wired(vm)
    for i, nic in enumerate(wired):
        clean_nic(host, nic, wired[i + 1:])


def attach_nic(host: Host, vm: VmNetwork, nic_id: int) -> None:
    nic = vm.nic(nic_id)
    if nic.vn_mad != "dummy":
        pre_nic(host, nic)
        post_nic(host, nic)
    apply_firewall(host, vm)


def detach_nic(host: Host, vm: VmNetwork, nic_id: int) -> None:
    nic = vm.nic(nic_id)
    rest = vm.without(nic_id)
    apply_firewall(host, rest)
    if nic.vn_mad != "dummy":
        clean_nic(host, nic, _wired(rest))
