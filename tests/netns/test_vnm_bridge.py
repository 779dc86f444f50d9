"""The network drivers for real, in namespaces: bridges made, taps plugged, traffic a
security group denies dropped and what it allows passing, and clean removing it all."""
from __future__ import annotations

import subprocess
import sys

import pytest

from lab import CLIENT_IP, SUBNET, Lab, sh
from nubo.drivers import vnm
from nubo.drivers.vnm import VnmError

GUEST_IP, GUEST_MAC = f"{SUBNET}.7", "02:00:c6:33:64:07"


def nic(nic_id: int = 0, *, bridge: str = "br-sg", vn_mad: str = "bridge", groups: str = "100",
        ip: str = GUEST_IP, mac: str = GUEST_MAC, extra: str = "", phydev: str = "uplink0") -> str:
    return (f"<NIC><NIC_ID>{nic_id}</NIC_ID><BRIDGE>{bridge}</BRIDGE><VN_MAD>{vn_mad}</VN_MAD>"
            f"<PHYDEV>{phydev}</PHYDEV><IP>{ip}</IP><MAC>{mac}</MAC>"
            f"<SECURITY_GROUPS>{groups}</SECURITY_GROUPS>{extra}</NIC>")


def rule(proto: str, kind: str, group: int = 100, **extra: str) -> str:
    more = "".join(f"<{k}>{v}</{k}>" for k, v in extra.items())
    return (f"<SECURITY_GROUP_RULE><PROTOCOL>{proto}</PROTOCOL><RULE_TYPE>{kind}</RULE_TYPE>"
            f"<SECURITY_GROUP_ID>{group}</SECURITY_GROUP_ID>{more}</SECURITY_GROUP_RULE>")


def vm(vm_id: int, *parts: str) -> str:
    return f"<VM><ID>{vm_id}</ID><TEMPLATE>{''.join(parts)}</TEMPLATE></VM>"


SSH_ONLY = (rule("TCP", "INBOUND", RANGE="22"), rule("ALL", "OUTBOUND"))


def test_bridge_taps_and_a_group_that_allows_only_ssh_in(lab: Lab):
    guest = lab.guest(7, 0, GUEST_IP, GUEST_MAC)
    xml = vm(7, nic(), *SSH_ONLY)
    vnm.run("pre", xml, netns=lab.host)
    links = lab.links()
    assert links["br-sg"]["operstate"] in ("UP", "UNKNOWN")
    assert links["uplink0"]["master"] == "br-sg"  # PHYDEV plugged into the bridge
    vnm.run("post", xml, netns=lab.host)
    assert lab.links()["one-7-0"]["master"] == "br-sg"
    for port in (22, 80):
        lab.listen(guest, GUEST_IP, port)
    assert lab.can_connect(lab.client, GUEST_IP, 22)       # allowed inbound
    assert not lab.can_connect(lab.client, GUEST_IP, 80)   # not in the group: dropped
    assert not lab.can_ping(lab.client, GUEST_IP)
    assert lab.can_ping(guest, CLIENT_IP)                  # outbound ALL, replies pass
    # New rules (as UPDATESG would bring): ICMP in, TCP 80 in, nothing out.
    vnm.run("post", vm(7, nic(), rule("ICMP", "INBOUND", ICMP_TYPE="8"),
                       rule("TCP", "INBOUND", RANGE="80:81")), netns=lab.host)
    assert lab.can_ping(lab.client, GUEST_IP) and lab.can_connect(lab.client, GUEST_IP, 80)
    assert not lab.can_connect(lab.client, GUEST_IP, 22)
    assert not lab.can_ping(guest, CLIENT_IP)              # no outbound rule: dropped
    vnm.run("clean", xml, netns=lab.host)
    assert "one_vm_7" not in lab.tables()
    links = lab.links()
    assert "br-sg" not in links and "master" not in links["one-7-0"]
    assert "master" not in links["uplink0"]


def test_remote_ranges_limit_who_may_connect(lab: Lab):
    guest = lab.guest(8, 0, GUEST_IP, GUEST_MAC)
    allowed = vm(8, nic(), rule("TCP", "INBOUND", IP=f"{SUBNET}.198", SIZE="3"))
    vnm.run("pre", allowed, netns=lab.host)
    vnm.run("post", allowed, netns=lab.host)
    lab.listen(guest, GUEST_IP, 22)
    assert lab.can_connect(lab.client, GUEST_IP, 22)       # .200 is in .198-.200
    other = vm(8, nic(), rule("TCP", "INBOUND", IP=f"{SUBNET}.201", SIZE="10"),
               rule("UDP", "INBOUND"))
    vnm.run("post", other, netns=lab.host)
    assert not lab.can_connect(lab.client, GUEST_IP, 22)
    vnm.run("clean", other, netns=lab.host)


def test_a_nic_without_groups_is_not_filtered(lab: Lab):
    guest = lab.guest(9, 0, GUEST_IP, GUEST_MAC)
    xml = vm(9, nic(groups=""), rule("TCP", "INBOUND", RANGE="22"))
    vnm.run("pre", xml, netns=lab.host)
    vnm.run("post", xml, netns=lab.host)
    assert "one_vm_9" not in lab.tables()
    assert lab.can_ping(lab.client, GUEST_IP) and lab.can_ping(guest, CLIENT_IP)
    vnm.run("clean", xml, netns=lab.host)


def readdress(ns: str, ip: str) -> None:
    sh("ip", "-n", ns, "addr", "flush", "dev", "eth0")
    sh("ip", "-n", ns, "addr", "add", f"{ip}/24", "dev", "eth0")


def test_ip_and_mac_spoofing_are_dropped_when_the_nic_asks(lab: Lab):
    guest = lab.guest(10, 0, GUEST_IP, GUEST_MAC)
    xml = vm(10, nic(groups="0", extra="<FILTER_IP_SPOOFING>YES</FILTER_IP_SPOOFING>"
                                       "<FILTER_MAC_SPOOFING>YES</FILTER_MAC_SPOOFING>"),
             rule("ALL", "INBOUND", group=0), rule("ALL", "OUTBOUND", group=0))
    vnm.run("pre", xml, netns=lab.host)
    vnm.run("post", xml, netns=lab.host)
    assert lab.can_ping(guest, CLIENT_IP)
    readdress(guest, f"{SUBNET}.99")
    assert not lab.can_ping(guest, CLIENT_IP)              # another IP: dropped
    readdress(guest, GUEST_IP)
    assert lab.can_ping(guest, CLIENT_IP)
    sh("ip", "-n", guest, "link", "set", "eth0", "address", "02:00:c6:33:64:99")
    assert not lab.can_ping(guest, CLIENT_IP)              # another MAC: dropped
    vnm.run("clean", xml, netns=lab.host)


def test_hotplug_and_a_shared_bridge(lab: Lab):
    one = lab.guest(11, 0, GUEST_IP, GUEST_MAC)
    two_ip, two_mac = f"{SUBNET}.12", "02:00:c6:33:64:0c"
    two = lab.guest(12, 0, two_ip, two_mac)
    first = vm(11, nic(), *SSH_ONLY)
    second = vm(12, nic(ip=two_ip, mac=two_mac, groups="0"), rule("ALL", "INBOUND", group=0),
                rule("ALL", "OUTBOUND", group=0))
    for xml in (first, second):
        vnm.run("pre", xml, netns=lab.host)
        vnm.run("post", xml, netns=lab.host)
    assert lab.can_ping(one, two_ip)                        # VM 11 out, VM 12 in: allowed
    assert not lab.can_ping(two, GUEST_IP)                  # VM 11 lets no ICMP in
    # A second NIC hot-plugged into VM 11, on another bridge and without groups.
    hot_ip, hot_mac = f"{SUBNET}.13", "02:00:c6:33:64:0d"
    hot_guest = lab.guest(11, 1, hot_ip, hot_mac)
    plugged = vm(11, nic(), nic(1, bridge="br-hot", ip=hot_ip, mac=hot_mac, groups="",
                                phydev="", extra="<ATTACH>YES</ATTACH>"), *SSH_ONLY)
    vnm.run("attach_nic", plugged, netns=lab.host)
    assert lab.links()["one-11-1"]["master"] == "br-hot"
    assert hot_guest and "one_vm_11" in lab.tables()
    vnm.run("detach_nic", plugged, netns=lab.host, nic_id=1)
    assert "br-hot" not in lab.links()
    vnm.run("clean", first, netns=lab.host)
    assert "br-sg" in lab.links()                           # VM 12 still on it
    assert lab.can_ping(two, CLIENT_IP)
    vnm.run("clean", second, netns=lab.host)
    assert "br-sg" not in lab.links() and lab.tables().strip() == ""


def test_failures_say_what_and_where(lab: Lab):
    with pytest.raises(VnmError, match="VN_MAD 'ovswitch'"):
        vnm.run("pre", vm(13, nic(vn_mad="ovswitch")), netns=lab.host)
    with pytest.raises(VnmError, match="failed"):           # a name Linux refuses
        vnm.run("pre", vm(13, nic(bridge="a-bridge-name-too-long")), netns=lab.host)
    with pytest.raises(VnmError, match="802.1Q needs PHYDEV and VLAN_ID"):
        vnm.run("pre", vm(13, nic(vn_mad="802.1Q")), netns=lab.host)
    assert "a-bridge-name-too-long" not in lab.links()


def test_the_module_entry_reads_the_vm_on_stdin(lab: Lab):
    lab.guest(14, 0, GUEST_IP, GUEST_MAC)
    xml = vm(14, nic(bridge="br-cli"), *SSH_ONLY)
    for step in ("pre", "post"):
        done = subprocess.run([sys.executable, "-m", "nubo.drivers.vnm", step, "--netns",
                               lab.host], input=xml, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
    assert "one_vm_14" in lab.tables()
    done = subprocess.run([sys.executable, "-m", "nubo.drivers.vnm", "clean", "--netns",
                           lab.host], input="<VM>", capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and "does not parse" in done.stderr
    vnm.run("clean", xml, netns=lab.host)
    assert "one_vm_14" not in lab.tables()


def _vlan_supported(lab: Lab) -> bool:
    done = sh("ip", "-n", lab.host, "link", "add", "link", lab.uplink, "name", "probe.5",
              "type", "vlan", "id", "5", check=False)
    sh("ip", "-n", lab.host, "link", "del", "probe.5", check=False)
    return done.returncode == 0


def test_8021q_makes_the_vlan_interface_and_its_bridge(lab: Lab):
    if not _vlan_supported(lab):
        pytest.skip("this kernel has no 802.1Q support (CONFIG_VLAN_8021Q): "
                    "`ip link add ... type vlan` fails")
    lab.guest(15, 0, GUEST_IP, GUEST_MAC)
    xml = vm(15, nic(vn_mad="802.1Q", bridge="onebr.42", groups="",
                     extra="<VLAN_ID>42</VLAN_ID><MTU>1400</MTU>"))
    vnm.run("pre", xml, netns=lab.host)
    vnm.run("post", xml, netns=lab.host)
    links = lab.links()
    assert links["uplink0.42"]["master"] == "onebr.42" and links["onebr.42"]["mtu"] == 1400
    vnm.run("clean", xml, netns=lab.host)
    assert "uplink0.42" not in lab.links() and "onebr.42" not in lab.links()
