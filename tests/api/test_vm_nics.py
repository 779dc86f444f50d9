"""The NIC attributes oned resolves at allocate: the network's, the lease's, NIC_ALIAS
and NIC_DEFAULT; each lease freed once when the VM goes."""
from __future__ import annotations

import uuid

import pyone
import pytest

from xsd import assert_valid, raw_call


def uniq(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


NET = """NAME = "{name}"
VN_MAD = "802.1Q"
PHYDEV = "eth9"
AUTOMATIC_VLAN_ID = "YES"
MTU = "9000"
GUEST_MTU = "1450"
GATEWAY = "198.18.7.254"
AR = [ TYPE = "IP4", IP = "198.18.7.1", SIZE = "4", INBOUND_AVG_BW = "100" ]
AR = [ TYPE = "IP4_6", IP = "198.18.8.1", SIZE = "4", GLOBAL_PREFIX = "2001:db8:7::",
       ULA_PREFIX = "fd00:7::" ]
AR = [ TYPE = "IP6_STATIC", IP6 = "2001:db8:9::10", PREFIX_LENGTH = "64", SIZE = "4" ]
"""


def vm_template(nics: str) -> str:
    return f"NAME = {uniq('nics')}\nCPU = 0.1\nMEMORY = 16\n{nics}"


def test_nic_attributes_resolved_at_allocate(one, nubo):
    vid = one.vn.allocate(NET.format(name=uniq("nicnet")), -1)
    vn = one.vn.info(vid)
    vm = one.vm.allocate(vm_template(
        f'NIC = [ NETWORK_ID = {vid} ]\n'
        f'NIC = [ NETWORK = "{vn.NAME}", IP = "198.18.8.2" ]\n'
        f'NIC = [ NETWORK_ID = {vid}, IP6 = "2001:db8:9::12", MODEL = "e1000" ]\n'
        f'NIC_ALIAS = [ NETWORK_ID = {vid}, PARENT = "NIC0" ]\n'
        'NIC_DEFAULT = [ MODEL = "virtio", FILTER = "clean-traffic" ]'), True)
    body = raw_call(nubo.endpoint, "one.vm.info", nubo.session, vm)[1]
    assert_valid(body, "vm.xsd")
    t = one.vm.info(vm).TEMPLATE
    nics, alias = t["NIC"], t["NIC_ALIAS"]
    first = nics[0]
    assert {k: first[k] for k in ("NETWORK", "NETWORK_ID", "NETWORK_UNAME", "IP", "MAC",
                                  "AR_ID", "NIC_ID", "NAME", "TARGET", "BRIDGE",
                                  "BRIDGE_TYPE", "VN_MAD", "PHYDEV", "VLAN_ID", "MTU",
                                  "GUEST_MTU", "INBOUND_AVG_BW", "MODEL", "FILTER")} == {
        "NETWORK": vn.NAME, "NETWORK_ID": str(vid), "NETWORK_UNAME": "oneadmin",
        "IP": "198.18.7.1", "MAC": "02:00:c6:12:07:01", "AR_ID": "0", "NIC_ID": "0",
        "NAME": "NIC0", "TARGET": f"one-{vm}-0", "BRIDGE": vn.BRIDGE, "BRIDGE_TYPE": "linux",
        "VN_MAD": "802.1Q", "PHYDEV": "eth9", "VLAN_ID": str(vn.VLAN_ID), "MTU": "9000",
        "GUEST_MTU": "1450", "INBOUND_AVG_BW": "100", "MODEL": "virtio",
        "FILTER": "clean-traffic"}
    assert "GATEWAY" not in first  # guest settings stay in the network (context reads them)
    dual = nics[1]
    assert (dual["IP"], dual["AR_ID"], dual["TARGET"]) == ("198.18.8.2", "1", f"one-{vm}-1")
    assert dual["IP6_GLOBAL"].startswith("2001:db8:7::") and dual["IP6_ULA"].startswith("fd00:7")
    assert dual["IP6_LINK"].startswith("fe80::") and "INBOUND_AVG_BW" not in dual
    static = nics[2]
    assert (static["IP6"], static["AR_ID"], static["MODEL"]) == ("2001:db8:9::12", "2", "e1000")
    assert (alias["PARENT"], alias["PARENT_ID"], alias["ALIAS_ID"], alias["NIC_ID"]) == (
        "NIC0", "0", "0", "3")
    assert alias["IP"] == "198.18.7.2" and alias["NETWORK_ID"] == str(vid)
    assert first["ALIAS_IDS"] == "3"
    leased = {lease.IP or lease.IP6 for ar in one.vn.info(vid).AR_POOL.AR
              for lease in (ar.LEASES.LEASE if ar.LEASES else [])}
    assert leased == {"198.18.7.1", "198.18.8.2", "2001:db8:9::12", "198.18.7.2"}
    one.vm.recover(vm, 3)
    assert one.vn.info(vid).USED_LEASES == 0


def test_alias_of_a_missing_parent_leaves_nothing(one):
    vid = one.vn.allocate(NET.format(name=uniq("nicnet")), -1)
    with pytest.raises(pyone.OneException, match="not found for alias"):
        one.vm.allocate(vm_template(f'NIC = [ NETWORK_ID = {vid} ]\n'
                                    f'NIC_ALIAS = [ NETWORK_ID = {vid}, PARENT = "NIC7" ]'), True)
    assert one.vn.info(vid).USED_LEASES == 0


def test_no_free_lease_fails_the_vm_and_keeps_the_others(one):
    vid = one.vn.allocate(NET.format(name=uniq("nicnet")), -1)
    one.vn.rm_ar(vid, 1)
    one.vn.rm_ar(vid, 2)
    vms = [one.vm.allocate(vm_template(f"NIC = [ NETWORK_ID = {vid} ]"), True)
           for _ in range(4)]
    with pytest.raises(pyone.OneException, match="Cannot get IP/MAC lease"):
        one.vm.allocate(vm_template(f"NIC = [ NETWORK_ID = {vid} ]\n"
                                    f"NIC = [ NETWORK_ID = {vid} ]"), True)
    assert one.vn.info(vid).USED_LEASES == 4
    for vm in vms:
        one.vm.recover(vm, 3)
    assert one.vn.info(vid).USED_LEASES == 0
