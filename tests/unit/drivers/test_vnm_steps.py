"""The driver steps against a recorded host: what 802.1Q does where the kernel of the
test machine has no VLAN support, and what clean keeps (tests/netns does it for real)."""
from __future__ import annotations

from nubo.drivers.vnm import nics, steps
from nubo.drivers.vnm.host import Host


class RecordedHost(Host):
    """Links as a dict; every ``ip link`` and ``nft`` call recorded and applied to it."""

    def __init__(self, links: dict[str, dict]) -> None:
        object.__setattr__(self, "state", links)
        object.__setattr__(self, "calls", [])

    def links(self) -> dict[str, dict]:
        return {k: dict(v) for k, v in self.state.items()}

    def ip(self, *args: str) -> None:
        self.calls.append(("ip", *args))
        if args[0] == "add":
            name = args[args.index("name") + 1]
            self.state[name] = {"ifname": name}
        elif args[0] == "delete":
            self.state.pop(args[2])
        elif args[0] == "set" and "master" in args:
            self.state[args[2]]["master"] = args[args.index("master") + 1]
        elif args[0] == "set" and "nomaster" in args:
            self.state[args[2]].pop("master", None)

    def nft(self, script: str) -> None:
        self.calls.append(("nft", script))

    def sysctl(self, key: str, value: str) -> None:
        self.calls.append(("sysctl", key, value))


def vlan_vm(vm_id: int, tap: str = "") -> nics.VmNetwork:
    return nics.parse_vm(
        f"<VM><ID>{vm_id}</ID><TEMPLATE><NIC><NIC_ID>0</NIC_ID><VN_MAD>802.1Q</VN_MAD>"
        f"<BRIDGE>onebr.42</BRIDGE><PHYDEV>eth1</PHYDEV><VLAN_ID>42</VLAN_ID><MTU>1400</MTU>"
        f"<TARGET>{tap}</TARGET></NIC></TEMPLATE></VM>")


def test_8021q_makes_the_vlan_interface_on_phydev_and_its_bridge():
    host = RecordedHost({"eth1": {"ifname": "eth1"}, "one-5-0": {"ifname": "one-5-0"}})
    vm = vlan_vm(5)
    steps.pre(host, vm)
    assert ("ip", "add", "link", "eth1", "name", "eth1.42", "type", "vlan", "id", "42") in \
        host.calls
    assert host.state["eth1.42"]["master"] == "onebr.42"
    assert ("ip", "set", "dev", "onebr.42", "mtu", "1400") in host.calls
    steps.pre(host, vm)  # again: nothing made twice
    assert sum(c[:2] == ("ip", "add") for c in host.calls) == 2
    steps.post(host, vm)
    assert host.state["one-5-0"]["master"] == "onebr.42"
    steps.clean(host, vm)
    assert "eth1.42" not in host.state and "onebr.42" not in host.state
    assert "eth1" in host.state  # PHYDEV is the host's: never deleted


def test_clean_keeps_a_bridge_another_vm_uses():
    host = RecordedHost({"eth1": {"ifname": "eth1"}, "one-5-0": {"ifname": "one-5-0"},
                         "one-6-0": {"ifname": "one-6-0"}})
    for vm in (vlan_vm(5), vlan_vm(6)):
        steps.pre(host, vm)
        steps.post(host, vm)
    steps.clean(host, vlan_vm(5))
    assert "onebr.42" in host.state and "master" not in host.state["one-5-0"]
    steps.clean(host, vlan_vm(6))
    assert "onebr.42" not in host.state


def test_dummy_nics_touch_nothing_but_the_firewall_tables():
    host = RecordedHost({})
    vm = nics.parse_vm("<VM><ID>7</ID><TEMPLATE><NIC><NIC_ID>0</NIC_ID><VN_MAD>dummy</VN_MAD>"
                       "</NIC></TEMPLATE></VM>")
    for step in (steps.pre, steps.post, steps.clean):
        step(host, vm)
    assert all(c[0] == "nft" for c in host.calls)


def test_bridge_plugs_phydev_in_and_clean_leaves_it_on_the_host():
    """A host the VM left (live migration): its bridge goes, the shared wire stays."""
    host = RecordedHost({"eth1": {"ifname": "eth1"}, "one-8-0": {"ifname": "one-8-0"}})
    vm = nics.parse_vm("<VM><ID>8</ID><TEMPLATE><NIC><NIC_ID>0</NIC_ID><VN_MAD>bridge</VN_MAD>"
                       "<BRIDGE>br0</BRIDGE><PHYDEV>eth1</PHYDEV></NIC></TEMPLATE></VM>")
    steps.pre(host, vm)
    assert host.state["eth1"]["master"] == "br0"
    steps.pre(host, vm)  # again: plugged in once
    assert sum("master" in c for c in host.calls) == 1
    steps.post(host, vm)
    steps.clean(host, vm)
    assert "br0" not in host.state and "eth1" in host.state
