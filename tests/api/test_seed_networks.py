"""The source documents' RANGED and FIXED networks, allocated as written (issue 11, item 9).

Each runs as a fresh user of the oneadmin group (creating networks is an admin's right),
so the documents' own names ("Private LAN", "Public LAN") can be used on the shared server.
"""
from __future__ import annotations

import uuid

import pyone
import pytest

from xsd import assert_valid, raw_call

RANGED = """NAME =\t"Private\tLAN"
TYPE =\tRANGED\t
BRIDGE =\teth0\t
NETWORK_SIZE =\t250\t
NETWORK_ADDRESS=\t10.0.0.0\t
"""

FIXED = """NAME = "Public LAN"
TYPE = FIXED
BRIDGE= eth1
LEASES= [IP=130.10.0.1,MAC=50:20:20:20:20]
LEASES= [IP=130.10.0.2]
"""


@pytest.fixture
def user(one, client_for):
    name = f"seed-{uuid.uuid4().hex[:8]}"
    uid = one.user.allocate(name, "pw", "", [0])
    yield client_for(f"{name}:pw"), f"{name}:pw"
    one.user.delete(uid)


def test_ranged_network_as_written(one, nubo, user):
    client, session = user
    vid = client.vn.allocate(RANGED, -1)
    vn = client.vn.info(vid)
    # the documents' tab inside the name stands for the space their VMs refer to
    assert (vn.NAME, vn.BRIDGE, vn.VN_MAD, vn.STATE) == ("Private LAN", "eth0", "dummy", 1)
    (ar,) = vn.AR_POOL.AR
    assert (ar.TYPE, ar.IP, ar.IP_END, ar.SIZE) == ("IP4", "10.0.0.1", "10.0.0.250", 250)
    assert ar.MAC == "02:00:0a:00:00:01"  # MAC_PREFIX + the IPv4 address, as oned
    t = vn.TEMPLATE
    assert (t["NETWORK_ADDRESS"], t["NETWORK_MASK"]) == ("10.0.0.0", "255.255.255.0")
    assert "TYPE" not in t and "NETWORK_SIZE" not in t
    assert_valid(raw_call(nubo.endpoint, "one.vn.info", session, vid)[1], "vnet.xsd")
    # a VM of the documents' form takes an address from it, by name
    vm = client.vm.allocate('NAME = seed\nCPU = 0.1\nMEMORY = 16\n'
                            'NIC = [ NETWORK = "Private LAN" ]', True)
    nic = client.vm.info(vm).TEMPLATE["NIC"]
    assert (nic["IP"], nic["NETWORK_ID"], nic["BRIDGE"]) == ("10.0.0.1", str(vid), "eth0")
    one.vm.recover(vm, 3)  # delete: the lease is freed
    assert client.vn.info(vid).USED_LEASES == 0


def test_fixed_network_as_written(one, nubo, user):
    client, session = user
    vid = client.vn.allocate(FIXED, -1)
    vn = client.vn.info(vid)
    assert (vn.NAME, vn.BRIDGE, vn.VN_MAD) == ("Public LAN", "eth1", "dummy")
    ars = vn.AR_POOL.AR
    assert [(a.TYPE, a.IP, a.SIZE) for a in ars] == [("IP4", "130.10.0.1", 1),
                                                     ("IP4", "130.10.0.2", 1)]
    # the documents' five-byte MAC, completed on the left from MAC_PREFIX (02:00)
    assert ars[0].MAC == "02:50:20:20:20:20"
    assert ars[1].MAC == "02:00:82:0a:00:02"
    assert "LEASES" not in vn.TEMPLATE and "TYPE" not in vn.TEMPLATE
    assert_valid(raw_call(nubo.endpoint, "one.vn.info", session, vid)[1], "vnet.xsd")
    vms = [client.vm.allocate(f'NAME = fixed{i}\nCPU = 0.1\nMEMORY = 16\n'
                              'NIC = [ NETWORK = "Public LAN" ]', True) for i in range(2)]
    assert sorted(client.vm.info(v).TEMPLATE["NIC"]["IP"] for v in vms) == [
        "130.10.0.1", "130.10.0.2"]
    with pytest.raises(pyone.OneException, match="Cannot get IP/MAC lease"):
        client.vm.allocate('NAME = fixed3\nCPU = 0.1\nMEMORY = 16\n'
                           'NIC = [ NETWORK = "Public LAN" ]', True)
    for v in vms:
        one.vm.recover(v, 3)
    assert client.vn.info(vid).USED_LEASES == 0


@pytest.mark.parametrize(("extra", "ar"), [
    ("NETWORK_ADDRESS = 10.1.0.0/30", ("10.1.0.1", 2)),
    ("NETWORK_ADDRESS = 10.1.0.0\nNETWORK_MASK = 255.255.255.128", ("10.1.0.1", 126)),
    ("NETWORK_ADDRESS = 10.1.0.0\nNETWORK_SIZE = C", ("10.1.0.1", 254)),
    ("NETWORK_ADDRESS = 10.1.0.0/24\nIP_START = 10.1.0.100\nIP_END = 10.1.0.109",
     ("10.1.0.100", 10)),
])
def test_ranged_forms(user, extra, ar):
    client, _ = user
    vid = client.vn.allocate(f"NAME = r\nTYPE = RANGED\nBRIDGE = br0\n{extra}", -1)
    got = client.vn.info(vid).AR_POOL.AR[0]
    assert (got.IP, got.SIZE) == ar


@pytest.mark.parametrize(("template", "message"), [
    ("TYPE = RANGED\nNETWORK_ADDRESS = 10.0.0.0", "needs NETWORK_SIZE"),
    ("TYPE = RANGED\nNETWORK_ADDRESS = ten\nNETWORK_SIZE = 9", "Wrong NETWORK_ADDRESS 'ten'"),
    ("TYPE = RANGED\nNETWORK_ADDRESS = 10.0.0.0\nNETWORK_MASK = 255.0.255.0",
     "Wrong NETWORK_MASK"),
    ("TYPE = FIXED\nLEASES = [ IP = 10.0.0.300 ]", "LEASES number 1 of a FIXED network"),
    ("TYPE = FIXED\nLEASES = [ FOO = 1 ]", "has no IP or MAC"),
])
def test_bad_legacy_networks_are_refused(user, template, message):
    client, _ = user
    before = client.vnpool.info(-3, -1, -1)
    with pytest.raises(pyone.OneException, match=message):
        client.vn.allocate(f"NAME = bad\nBRIDGE = br0\n{template}", -1)
    assert len(client.vnpool.info(-3, -1, -1).VNET) == len(before.VNET)
