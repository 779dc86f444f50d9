"""What the network drivers read from a VM's XML: its NICs and security group rules.

OpenNebula's vnm drivers get the VM's body and act on each NIC by its VN_MAD; a NIC's
tap is its TARGET (``one-<vmid>-<nicid>`` as the KVM driver names it), its bridge
BRIDGE, and for 802.1Q its PHYDEV and VLAN_ID. The VM's SECURITY_GROUP_RULEs
(nubo.core.secgroup_rules) apply to the NICs whose SECURITY_GROUPS name their group.
Pure: parsing only.
"""
from __future__ import annotations

import xml.etree.ElementTree as etree
from dataclasses import dataclass, field

#: The VN_MADs these drivers serve; any other is refused with its name.
DRIVERS = ("bridge", "802.1Q", "dummy")


class VnmError(RuntimeError):
    """A network step that could not be done; the message says what and where."""


@dataclass(frozen=True)
class Nic:
    vm_id: int
    nic_id: int
    vn_mad: str
    bridge: str
    mac: str = ""
    ip: str = ""
    ip6: tuple[str, ...] = ()
    phydev: str = ""
    vlan_id: str = ""
    mtu: str = ""
    target: str = ""
    groups: tuple[int, ...] = ()
    filter_mac: bool = False
    filter_ip: bool = False
    attach: bool = False

    @property
    def tap(self) -> str:
        return self.target or f"one-{self.vm_id}-{self.nic_id}"

    @property
    def vlan_device(self) -> str:
        """The 802.1Q interface on PHYDEV, named as OpenNebula's driver names it."""
        return f"{self.phydev}.{self.vlan_id}"


@dataclass(frozen=True)
class VmNetwork:
    vm_id: int
    nics: tuple[Nic, ...]
    rules: tuple[dict[str, str], ...] = field(default=())

    def rules_of(self, nic: Nic) -> list[dict[str, str]]:
        return [r for r in self.rules
                if (r.get("SECURITY_GROUP_ID") or "").isdigit()
                and int(r["SECURITY_GROUP_ID"]) in nic.groups]

    def nic(self, nic_id: int) -> Nic:
        for nic in self.nics:
            if nic.nic_id == nic_id:
                return nic
        raise VnmError(f"VM {self.vm_id} has no NIC with NIC_ID {nic_id}")

    def without(self, nic_id: int) -> VmNetwork:
        return VmNetwork(self.vm_id, tuple(n for n in self.nics if n.nic_id != nic_id),
                         self.rules)


def _yes(value: str | None) -> bool:
    return (value or "").strip().upper() == "YES"


def _groups(text: str, where: str) -> tuple[int, ...]:
    parts = [p.strip() for p in text.split(",") if p.strip()]
    if any(not p.isdigit() for p in parts):
        raise VnmError(f"{where}: SECURITY_GROUPS must be ids (\"0,100\"), not {text!r}")
    return tuple(int(p) for p in parts)


def parse_vm(xml: str | bytes) -> VmNetwork:
    """The VM's NICs (of every VN_MAD; unknown ones refused) and its rules."""
    try:
        root = etree.fromstring(xml.encode() if isinstance(xml, str) else xml)
    except etree.ParseError as e:
        raise VnmError(f"the VM XML does not parse: {e}") from None
    if root.tag != "VM" or not (root.findtext("ID") or "").strip().isdigit():
        raise VnmError("the VM XML must be a <VM> with its <ID>")
    vm_id = int(root.findtext("ID") or "")
    nics = []
    for el in root.iterfind("TEMPLATE/NIC"):
        values = {c.tag: (c.text or "").strip() for c in el}
        nic_id = values.get("NIC_ID", "")
        if not nic_id.isdigit():
            raise VnmError(f"VM {vm_id}: a NIC without a NIC_ID")
        where = f"VM {vm_id} NIC {nic_id}"
        vn_mad = values.get("VN_MAD", "")
        if vn_mad not in DRIVERS:
            raise VnmError(f"{where}: VN_MAD {vn_mad!r} is not one of {', '.join(DRIVERS)}")
        if vn_mad != "dummy" and not values.get("BRIDGE"):
            raise VnmError(f"{where}: no BRIDGE")
        if vn_mad == "802.1Q" and not (values.get("PHYDEV") and values.get("VLAN_ID")):
            raise VnmError(f"{where}: 802.1Q needs PHYDEV and VLAN_ID")
        ip6 = tuple(values[k] for k in ("IP6", "IP6_GLOBAL", "IP6_ULA") if values.get(k))
        nics.append(Nic(
            vm_id=vm_id, nic_id=int(nic_id), vn_mad=vn_mad, bridge=values.get("BRIDGE", ""),
            mac=values.get("MAC", "").lower(), ip=values.get("IP", ""), ip6=ip6,
            phydev=values.get("PHYDEV", ""), vlan_id=values.get("VLAN_ID", ""),
            mtu=values.get("MTU", ""), target=values.get("TARGET", ""),
            groups=_groups(values.get("SECURITY_GROUPS", ""), where),
            filter_mac=_yes(values.get("FILTER_MAC_SPOOFING")),
            filter_ip=_yes(values.get("FILTER_IP_SPOOFING")), attach=_yes(values.get("ATTACH"))))
    rules = tuple({c.tag: (c.text or "").strip() for c in el}
                  for el in root.iterfind("TEMPLATE/SECURITY_GROUP_RULE"))
    return VmNetwork(vm_id, tuple(nics), rules)
