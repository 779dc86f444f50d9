"""one.vn.* and one.vnpool.info, driven by pyone on every backend.

The server is shared by every test of a backend: names are unique, and pools are
compared before/after instead of assuming ids or sizes.
"""
from __future__ import annotations

import re
import threading
import uuid
import xmlrpc.client

import pyone
import pytest

from xsd import assert_valid, raw_call

INTERNAL, ACTION, NO_EXISTS, AUTHORIZATION = 0x2000, 0x800, 0x400, 0x200

# Several ARs of each kind whose attributes are all in vnet.xsd.
NET = """NAME = "{name}"
VN_MAD = "bridge"
DESCRIPTION = "front & back"
DNS = "10.0.0.53"
GATEWAY = "10.{n}.0.254"
AR = [ TYPE = "IP4", IP = "10.{n}.0.1", SIZE = "16" ]
AR = [ TYPE = "IP6", MAC = "02:aa:{h}:00:00:00", SIZE = "8", GLOBAL_PREFIX = "2001:db8:{h}::",
       ULA_PREFIX = "fd00:{h}::" ]
AR = [ TYPE = "IP4_6", IP = "10.{n}.1.1", SIZE = "4", GLOBAL_PREFIX = "2001:db8:1:{h}::" ]
AR = [ TYPE = "ETHER", SIZE = "3" ]
"""


def uniq(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def raw(nubo, method: str, *args):
    return raw_call(nubo.endpoint, method, nubo.session, *args)


_nets = iter(range(10, 250))


def new_net(one, extra: str = "", cluster: int = -1) -> int:
    n = next(_nets)
    return one.vn.allocate(NET.format(name=uniq("net"), n=n, h=f"{n:x}") + extra, cluster)


def simple(name: str, extra: str = "", mad: str = "bridge") -> str:
    return f'NAME = "{name}"\nVN_MAD = "{mad}"\n{extra}'


def mine(one) -> set[int]:
    return {v.ID for v in one.vnpool.info(-3, -1, -1).VNET}


def cluster_vnets(one, cid: int = 0) -> set[int]:
    return set(one.cluster.info(cid).VNETS.ID)


def leases_of(one, vid: int) -> dict[str, int]:
    """{IP or MAC: owner} as one.vn.info shows them."""
    out = {}
    for ar in one.vn.info(vid).AR_POOL.AR:
        for lease in (ar.LEASES.LEASE if ar.LEASES else []):
            out[lease.IP or lease.MAC] = lease.VM if lease.VM is not None else lease.VNET
    return out


def new_user(one, client_for):
    name = uniq("vn-user")
    uid = one.user.allocate(name, "pw", "", [])
    return uid, client_for(f"{name}:pw")


# -- allocation and XML ------------------------------------------------------------------------

def test_allocate_and_validate(one, nubo):
    before = cluster_vnets(one)
    vid = new_net(one)
    one.vn.hold(vid, 'LEASES = [ IP = "10.{}.0.5" ]'.format(one.vn.info(vid).AR_POOL.AR[0].IP
                                                           .split(".")[1]))
    mac = one.vn.info(vid).AR_POOL.AR[3].MAC
    one.vn.hold(vid, f'LEASES = [ MAC = "{mac}", AR_ID = 3 ]')
    body = raw(nubo, "one.vn.info", vid)[1]
    assert_valid(body, "vnet.xsd")
    assert_valid(raw(nubo, "one.vnpool.info", -2, -1, -1)[1], "vnet_pool.xsd")
    assert_valid(raw(nubo, "one.vnpool.info", -2, vid, vid)[1], "vnet_pool.xsd")
    vn = one.vn.info(vid)
    assert (vn.BRIDGE, vn.BRIDGE_TYPE, vn.STATE, vn.VN_MAD, vn.USED_LEASES) == (
        f"onebr{vid}", "linux", 1, "bridge", 2)
    assert (vn.PARENT_NETWORK_ID, list(vn.CLUSTERS.ID)) == ("", [0])
    t = vn.TEMPLATE
    assert (t["VN_MAD"], t["BRIDGE"], t["SECURITY_GROUPS"], t["DNS"]) == (
        "bridge", f"onebr{vid}", "0", "10.0.0.53")
    assert "AR" not in t and "NAME" not in t
    ars = vn.AR_POOL.AR
    assert [a.AR_ID for a in ars] == ["0", "1", "2", "3"]
    assert [a.TYPE for a in ars] == ["IP4", "IP6", "IP4_6", "ETHER"]
    assert (ars[0].SIZE, ars[0].USED_LEASES, ars[1].USED_LEASES, ars[3].USED_LEASES) == (
        16, "1", "0", "1")
    assert ars[1].IP6_ULA.startswith("fd00:") and ars[2].IP_END.endswith(".1.4")
    assert [lease.VM for lease in ars[0].LEASES.LEASE] == [-1]
    pool = raw(nubo, "one.vnpool.info", -2, vid, vid)[1]
    assert "<LEASES>" not in pool and "<ALLOCATED> 4 73014444031</ALLOCATED>" in pool
    assert "<USED_LEASES>2</USED_LEASES>" in pool
    assert cluster_vnets(one) == before | {vid}


def test_ar_attributes_outside_the_schema_are_kept_but_not_shown(one, nubo):
    """PREFIX_LENGTH, per-AR GATEWAY...: vnet.xsd's AR has no place for them, so nubo keeps
    them in storage (leases and static IPv6 need them) and shows schema-valid bodies."""
    vid = one.vn.allocate(simple(uniq("v6"), 'AR = [ TYPE = IP6_STATIC, IP6 = "2001:db8::10", '
                                             'PREFIX_LENGTH = 64, SIZE = 8, GATEWAY6 = '
                                             '"2001:db8::1" ]'), -1)
    one.vn.hold(vid, 'LEASES = [ IP6 = "2001:db8::12" ]')
    ar = one.vn.info(vid).AR_POOL.AR[0]
    assert (ar.IP6, ar.IP6_END, ar.USED_LEASES, ar.LEASES.LEASE[0].IP6) == (
        "2001:db8::10", "2001:db8::17", "1", "2001:db8::12")
    for method, args, xsd in (("one.vn.info", (vid,), "vnet.xsd"),
                              ("one.vnpool.info", (-2, vid, vid), "vnet_pool.xsd")):
        body = raw(nubo, method, *args)[1]
        assert "PREFIX_LENGTH" not in body and "GATEWAY6" not in body
        assert_valid(body, xsd)
    # the range still works: the next lease comes from the same prefix
    one.vn.hold(vid, 'LEASES = [ IP6 = "2001:db8::13" ]')
    assert one.vn.info(vid).AR_POOL.AR[0].USED_LEASES == "2"


BAD = [
    ('VN_MAD = "bridge"', "No NAME in template for Virtual Network."),
    ('NAME = "{n}"', "No VN_MAD in template for Virtual Network."),
    ('NAME = "{n}"\nVN_MAD = "dummy"', "BRIDGE is mandatory for driver dummy"),
    ('NAME = "{n}"\nVN_MAD = "802.1Q"\nVLAN_ID = 7', "PHYDEV is mandatory for driver 802.1Q"),
    ('NAME = "{n}"\nVN_MAD = "vxlan"\nPHYDEV = eth0',
     "VLAN_ID (or AUTOMATIC_VLAN_ID) is mandatory for driver vxlan"),
    ('NAME = "{n}"\nVN_MAD = "ovswitch_vxlan"',
     "OUTER_VLAN_ID (or AUTOMATIC) is mandatory for driver ovswitch_vxlan"),
    ('NAME = "{n}"\nVN_MAD = "magic"', 'VN_MAD named "magic" is not defined in oned.conf'),
    ('NAME = "a|b"\nVN_MAD = "bridge"', "Invalid NAME"),
    ('NAME = "{n}"\nVN_MAD = "bridge"\nAR = [ SIZE = 4 ]', "Unknown or missing address range TYPE"),
    ('NAME = "{n}"\nVN_MAD = "bridge"\nAR = [ TYPE = IP4, SIZE = 4 ]', "Wrong or empty IP"),
    ('NAME = "{n}"\nVN_MAD = "bridge"\nAR = [ TYPE = IP4, IP = 10.0.0.1, SIZE = 0 ]',
     "Wrong SIZE"),
    ('NAME = "{n}"\nVN_MAD = "bridge"\nAR = [ TYPE = IP4, IP = 10.0.0.1, SIZE = 10 ]\n'
     'AR = [ TYPE = IP4, IP = 10.0.0.8, SIZE = 2 ]', "Address ranges cannot overlap"),
    ('NAME = "{n}"\nVN_MAD = "bridge"\nAR = [ TYPE = ETHER, MAC = "01:00:00:00:00:01", SIZE = 1 ]',
     "multicast"),
    ('NAME = "{n}" VN_MAD', "syntax error"),
]


@pytest.mark.parametrize(("text", "message"), BAD)
def test_bad_templates_change_nothing(one, nubo, text, message):
    before, members = mine(one), cluster_vnets(one)
    reply = raw(nubo, "one.vn.allocate", text.replace("{n}", uniq("bad")), -1)
    assert reply[0] is False and reply[2] == INTERNAL, reply
    assert message in reply[1] and reply[1].startswith("[one.vn.allocate] ")
    assert mine(one) == before and cluster_vnets(one) == members


def test_duplicate_name_and_unknown_cluster(one, nubo):
    name = uniq("dup")
    vid = one.vn.allocate(simple(name), -1)
    reply = raw(nubo, "one.vn.allocate", simple(name), -1)
    assert reply[:3] == [False, f"[one.vn.allocate] NAME is already taken by NET {vid}.",
                         INTERNAL]
    reply = raw(nubo, "one.vn.allocate", simple(uniq("nocl")), 987654)
    assert reply[:4] == [False, "[one.vn.allocate] Error getting cluster [987654].", NO_EXISTS,
                         987654]


def test_cluster_given(one):
    cid = one.cluster.allocate(uniq("vn-cl"))
    vid = one.vn.allocate(simple(uniq("incl")), cid)
    assert list(one.vn.info(vid).CLUSTERS.ID) == [cid]
    assert cluster_vnets(one, cid) == {vid} and vid not in cluster_vnets(one)
    one.vn.delete(vid)
    assert cluster_vnets(one, cid) == set()
    one.cluster.delete(cid)


def test_automatic_vlans(one, nubo):
    auto = "PHYDEV = eth0\nAUTOMATIC_VLAN_ID = YES"
    a = one.vn.allocate(simple(uniq("q1"), auto, "802.1Q"), -1)
    b = one.vn.allocate(simple(uniq("q2"), auto, "802.1Q"), -1)
    x = one.vn.allocate(simple(uniq("x"), auto, "vxlan"), -1)
    fixed = one.vn.allocate(simple(uniq("f"), "PHYDEV = eth0\nVLAN_ID = 42", "802.1Q"), -1)
    plain = one.vn.allocate(simple(uniq("p"), "AUTOMATIC_VLAN_ID = YES"), -1)
    va, vb, vx, vf = (one.vn.info(i) for i in (a, b, x, fixed))
    assert va.VLAN_ID_AUTOMATIC == "1" and 2 <= int(va.VLAN_ID) <= 4094
    assert vb.VLAN_ID != va.VLAN_ID and "AUTOMATIC_VLAN_ID" not in va.TEMPLATE
    assert (vx.VLAN_ID, vx.VLAN_ID_AUTOMATIC) == (str(2 + x), "1")
    assert (vf.VLAN_ID, vf.VLAN_ID_AUTOMATIC, vf.BRIDGE, vf.PHYDEV) == ("42", "0", "onebr.42",
                                                                         "eth0")
    assert one.vn.info(plain).VLAN_ID in ("", None)  # bridge networks get no VLAN
    for vid in (a, fixed):
        assert_valid(raw(nubo, "one.vn.info", vid)[1], "vnet.xsd")


# -- address ranges -----------------------------------------------------------------------------

def test_add_update_rm_ar(one, nubo):
    vid = one.vn.allocate(simple(uniq("ars"), 'AR = [ TYPE = IP4, IP = 192.168.5.1, SIZE = 4 ]'),
                          -1)
    assert one.vn.add_ar(vid, 'AR = [ TYPE = "IP4", IP = "192.168.6.1", SIZE = 10, '
                              'GATEWAY = "192.168.6.254" ]') == vid
    one.vn.add_ar(vid, '<TEMPLATE><AR><TYPE>ETHER</TYPE><SIZE>2</SIZE></AR></TEMPLATE>')
    assert [a.AR_ID for a in one.vn.info(vid).AR_POOL.AR] == ["0", "1", "2"]
    for text, message in (("SIZE = 2", "Wrong AR definition. AR vector attribute is missing."),
                          ("AR = [ TYPE = IP4, SIZE = 2 ]", "Wrong or empty IP"),
                          ("AR = [ TYPE = IP4, IP = 192.168.6.5, SIZE = 2 ]", "overlap")):
        reply = raw(nubo, "one.vn.add_ar", vid, text)
        assert reply[0] is False and reply[2] == INTERNAL and message in reply[1], reply
    assert len(one.vn.info(vid).AR_POOL.AR) == 3
    one.vn.hold(vid, 'LEASES = [ IP = "192.168.6.8" ]')
    one.vn.update_ar(vid, 'AR = [ AR_ID = 1, SIZE = 12, GATEWAY = "192.168.6.1", '
                          'TYPE = IP6, IP = 1.2.3.4 ]')
    ar = one.vn.info(vid).AR_POOL.AR[1]
    assert (ar.SIZE, ar.TYPE, ar.IP, ar.USED_LEASES) == (12, "IP4", "192.168.6.1", "1")
    assert_valid(raw(nubo, "one.vn.info", vid)[1], "vnet.xsd")
    for text, message in (("AR = [ SIZE = 3 ]", "AR/AR_ID attribute is missing."),
                          ("AR = [ AR_ID = 9, SIZE = 3 ]",
                           "Address Range with ID 9 was not found."),
                          ("AR = [ AR_ID = 1, SIZE = 5 ]", "New SIZE cannot be applied"),
                          ("AR = [ AR_ID = 0, SIZE = 300 ]", "overlap"),
                          ("NOTHING = 1", "AR vector attribute is missing")):
        reply = raw(nubo, "one.vn.update_ar", vid, text)
        assert reply[0] is False and reply[2] == INTERNAL and message in reply[1], reply
    for ar_id, message in ((7, "Address Range does not exist"),
                           (1, "Address Range has leases in use")):
        reply = raw(nubo, "one.vn.rm_ar", vid, ar_id)
        assert reply[:3] == [False, f"[one.vn.rm_ar] {message}", INTERNAL]
    one.vn.rm_ar(vid, 0)
    one.vn.rm_ar(vid, 1, True)  # force: its held lease goes with it
    vn = one.vn.info(vid)
    assert ([a.AR_ID for a in vn.AR_POOL.AR], vn.USED_LEASES) == (["2"], 0)
    one.vn.add_ar(vid, 'AR = [ TYPE = IP4, IP = 192.168.5.1, SIZE = 1 ]')
    assert [a.AR_ID for a in one.vn.info(vid).AR_POOL.AR] == ["2", "3"]
    assert_valid(raw(nubo, "one.vn.info", vid)[1], "vnet.xsd")


# -- holds --------------------------------------------------------------------------------------

def test_hold_and_release(one, nubo):
    vid = one.vn.allocate(simple(uniq("hold"), 'AR = [ TYPE = IP4, IP = 172.16.0.1, SIZE = 8 ]\n'
                                               'AR = [ TYPE = ETHER, MAC = "02:bb:00:00:00:01", '
                                               'SIZE = 2 ]'), -1)
    one.vn.hold(vid, 'LEASES = [ IP = "172.16.0.3" ]')
    one.vn.hold(vid, '<TEMPLATE><LEASES><MAC>02:bb:00:00:00:02</MAC><AR_ID>1</AR_ID></LEASES>'
                     '</TEMPLATE>')
    assert leases_of(one, vid) == {"172.16.0.3": -1, "02:bb:00:00:00:02": -1}
    before = raw(nubo, "one.vn.info", vid)[1]
    for text, message in (('LEASES = [ IP = "172.16.0.3" ]',
                           "Address is not part of the address range or in use."),
                          ('LEASES = [ IP = "172.16.9.9" ]', "not part of the address range"),
                          ('LEASES = [ IP = "172.16.0.4", AR_ID = 1 ]', "not part of"),
                          ('NOTHING = 1', "Empty lease description."),
                          ('LEASES = [ AR_ID = 0 ]', "Missing MAC, IP or IP6."),
                          ('LEASES = [ IP = "172.16.0.4", MAC = "02:bb:00:00:00:01" ]',
                           "Only one attribute MAC, IP or IP6 can be set."),
                          ('LEASES = [ IP = ', "syntax error")):
        reply = raw(nubo, "one.vn.hold", vid, text)
        assert reply[0] is False and reply[2] == INTERNAL and message in reply[1], reply
    assert raw(nubo, "one.vn.info", vid)[1] == before
    one.vn.release(vid, 'LEASES = [ IP = "172.16.0.3" ]')
    one.vn.release(vid, 'LEASES = [ IP = "172.16.0.3" ]')  # not held any more: no error
    one.vn.release(vid, 'LEASES = [ IP = "10.9.9.9" ]')
    assert leases_of(one, vid) == {"02:bb:00:00:00:02": -1}
    one.vn.hold(vid, 'LEASES = [ IP = "172.16.0.3" ]')  # free again, so it can be held again
    assert one.vn.info(vid).USED_LEASES == 2
    reply = raw(nubo, "one.vn.release", vid, 'LEASES = [ MAC = "x", IP = "y" ]')
    assert reply[:3] == [False, "[one.vn.release] Only one attribute MAC, IP or IP6 can be set.",
                         INTERNAL]


def test_concurrent_holds_of_one_address(one, nubo):
    vid = one.vn.allocate(simple(uniq("race"), 'AR = [ TYPE = IP4, IP = 172.17.0.1, SIZE = 4 ]'),
                          -1)
    replies: list = []
    barrier = threading.Barrier(6)

    def hold() -> None:
        barrier.wait()
        replies.append(raw(nubo, "one.vn.hold", vid, 'LEASES = [ IP = "172.17.0.2" ]'))

    threads = [threading.Thread(target=hold) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r[0] for r in replies) == [False] * 5 + [True]
    assert all(r[2] == INTERNAL and "in use" in r[1] for r in replies if not r[0])
    assert leases_of(one, vid) == {"172.17.0.2": -1} and one.vn.info(vid).USED_LEASES == 1


# -- reservations and delete --------------------------------------------------------------------

def test_reservations(one, nubo):
    parent = one.vn.allocate(simple(uniq("parent"), 'AR = [ TYPE = IP4, IP = 172.18.0.1, '
                                                    'SIZE = 10, GATEWAY = "172.18.0.254" ]'), -1)
    one.vn.hold(parent, 'LEASES = [ IP = "172.18.0.1" ]')
    name = uniq("resv")
    rid = one.vn.reserve(parent, f'SIZE = 3\nNAME = "{name}"')
    r = one.vn.info(rid)
    assert (r.NAME, r.PARENT_NETWORK_ID, r.VN_MAD, list(r.CLUSTERS.ID)) == (
        name, str(parent), "bridge", [0])
    ar = r.AR_POOL.AR[0]
    assert (ar.IP, ar.SIZE, ar.PARENT_NETWORK_AR_ID, ar.USED_LEASES) == ("172.18.0.2", 3, "0",
                                                                         "0")
    assert leases_of(one, parent) == {"172.18.0.1": -1, "172.18.0.2": rid, "172.18.0.3": rid,
                                      "172.18.0.4": rid}
    assert rid in cluster_vnets(one)
    assert one.vn.reserve(parent, f'SIZE = 2\nNETWORK_ID = {rid}\nAR_ID = 0\n'
                                  'IP = "172.18.0.8"') == rid
    assert [(a.AR_ID, a.IP, a.SIZE) for a in one.vn.info(rid).AR_POOL.AR] == [
        ("0", "172.18.0.2", 3), ("1", "172.18.0.8", 2)]
    for method, id_ in (("one.vn.info", rid), ("one.vn.info", parent)):
        body = raw(nubo, method, id_)[1]
        assert_valid(re.sub(r"<GATEWAY>[^<]*</GATEWAY>", "", body), "vnet.xsd")
    one.vn.hold(rid, 'LEASES = [ IP = "172.18.0.3" ]')  # the owner manages its reservation
    for text, message in (("SIZE = 0\nNAME = x", "Reservation SIZE must be a greater than 0"),
                          ("SIZE = 1", "NAME for reservation has to be set"),
                          ("SIZE = 1\nNAME = x\nAR_ID = -1", "AR_ID must be equal or greater"),
                          ("SIZE = 1\nNAME = x\nIP = 172.18.0.9",
                           "AR_ID must be specified for IP/MAC based reservations"),
                          (f"SIZE = 1\nNETWORK_ID = {parent}", "from the same network"),
                          (f"SIZE = 9\nNAME = {uniq('big')}",
                           "Not enough free addresses in an address range"),
                          (f"SIZE = 1\nNAME = {uniq('x')}\nAR_ID = 0\nIP = 172.18.0.2",
                           "Not enough free addresses in address range 0"),
                          ("SIZE = [", "syntax error")):
        before = mine(one)
        reply = raw(nubo, "one.vn.reserve", parent, text)
        assert reply[0] is False and reply[2] == ACTION and message in reply[1], reply
        assert mine(one) == before
    reply = raw(nubo, "one.vn.reserve", rid, f"SIZE = 1\nNAME = {uniq('x')}")
    assert reply[:3] == [False, "[one.vn.reserve] Cannot reserve addresses from a reserved VNET",
                         ACTION]
    reply = raw(nubo, "one.vn.delete", parent)
    assert reply[:3] == [False, "[one.vn.delete] Cannot delete virtual network. Can not remove "
                                "a virtual network with leases in use", ACTION]
    one.vn.free_ar(rid, 1)
    assert "172.18.0.8" not in leases_of(one, parent)
    one.vn.delete(rid)  # its held lease goes, its block returns to the parent
    assert leases_of(one, parent) == {"172.18.0.1": -1}
    assert rid not in cluster_vnets(one)
    one.vn.delete(parent)  # only a hold left: deleted, and the hold freed
    with pytest.raises(pyone.OneNoExistsException):
        one.vn.info(parent)


def test_delete(one, nubo):
    vid = new_net(one)
    assert vid in cluster_vnets(one)
    assert one.vn.delete(vid) == vid
    assert vid not in cluster_vnets(one) and vid not in mine(one)
    reply = raw(nubo, "one.vn.delete", vid)
    assert reply[:4] == [False, f"[one.vn.delete] Error getting virtual network [{vid}].",
                         NO_EXISTS, vid]


# -- the generic methods, users and errors ------------------------------------------------------

def test_update_rename_chmod_chown_lock(one, nubo, client_for):
    vid = one.vn.allocate(simple(uniq("meta"), 'AR = [ TYPE = IP4, IP = 172.19.0.1, SIZE = 4 ]'),
                          -1)
    one.vn.update(vid, 'NOTES = "n"\nBRIDGE = "br7"', 1)
    vn = one.vn.info(vid)
    assert (vn.BRIDGE, vn.TEMPLATE["BRIDGE"], vn.TEMPLATE["NOTES"], vn.VN_MAD) == (
        "br7", "br7", "n", "bridge")
    one.vn.update(vid, 'ONLY = "this"\nPHYDEV = "eth1"', 0)
    vn = one.vn.info(vid)
    assert (vn.TEMPLATE["ONLY"], vn.PHYDEV, vn.TEMPLATE["VN_MAD"], vn.BRIDGE) == (
        "this", "eth1", "bridge", "br7")
    assert len(vn.AR_POOL.AR) == 1
    new = uniq("renamed")
    one.vn.rename(vid, new)
    assert one.vn.info(vid).NAME == new
    uid, user = new_user(one, client_for)
    assert user.vn.info(vid).ID == vid  # the default VDC lets "users" USE every network
    one.vn.chmod(vid, 1, 1, 0, 0, 0, 0, 1, 0, 0)
    assert one.vn.info(vid).PERMISSIONS.OTHER_U == 1
    assert vid in {v.ID for v in user.vnpool.info(-2, -1, -1).VNET}
    with pytest.raises(pyone.OneAuthorizationException, match=rf"MANAGE NET \[{vid}\]"):
        user.vn.hold(vid, 'LEASES = [ IP = "172.19.0.2" ]')
    one.vn.chown(vid, uid, 1)
    vn = one.vn.info(vid)
    assert (vn.UID, vn.UNAME, vn.GID) == (uid, one.user.info(uid).NAME, 1)
    user.vn.hold(vid, 'LEASES = [ IP = "172.19.0.2" ]')
    with pytest.raises(pyone.OneAuthorizationException, match=rf"ADMIN NET \[{vid}\]"):
        user.vn.add_ar(vid, 'AR = [ TYPE = ETHER, SIZE = 1 ]')
    one.vn.lock(vid, 2, False)
    assert_valid(raw(nubo, "one.vn.info", vid)[1], "vnet.xsd")
    with pytest.raises(pyone.OneException, match="locked"):
        one.vn.hold(vid, 'LEASES = [ IP = "172.19.0.3" ]')
    one.vn.unlock(vid)
    one.vn.hold(vid, 'LEASES = [ IP = "172.19.0.3" ]')


def test_non_admin_users(one, nubo, client_for):
    uid, user = new_user(one, client_for)
    reply = raw_call(nubo.endpoint, "one.vn.allocate", f"{one.user.info(uid).NAME}:pw",
                     simple(uniq("u")), -1)
    assert reply[:3] == [False, f"[one.vn.allocate] User [{uid}] : Not authorized to perform "
                                "CREATE NET.", AUTHORIZATION]  # users may not create networks
    parent = one.vn.allocate(simple(uniq("shared"), 'AR = [ TYPE = IP4, IP = 172.20.0.1, '
                                                    'SIZE = 8 ]'), -1)
    rid = user.vn.reserve(parent, f'SIZE = 2\nNAME = "{uniq("r")}"')
    r = one.vn.info(rid)
    assert (r.UID, r.PARENT_NETWORK_ID) == (uid, str(parent))
    user.vn.hold(rid, 'LEASES = [ IP = "172.20.0.2" ]')
    with pytest.raises(pyone.OneAuthorizationException):
        user.vn.delete(parent)
    with pytest.raises(pyone.OneAuthorizationException, match=r"ADMIN NET"):
        user.vn.rm_ar(rid, 0)
    with pytest.raises(pyone.OneInternalException, match="Address Range has leases in use"):
        user.vn.free_ar(rid, 0)
    user.vn.release(rid, 'LEASES = [ IP = "172.20.0.2" ]')
    user.vn.free_ar(rid, 0)  # MANAGE is enough to give a reserved range back
    assert one.vn.info(parent).USED_LEASES == 0
    user.vn.delete(rid)


def test_unknown_ids(nubo):
    for method, args in (("one.vn.info", ()), ("one.vn.delete", ()),
                         ("one.vn.add_ar", ("AR = [ TYPE = ETHER, SIZE = 1 ]",)),
                         ("one.vn.rm_ar", (0,)), ("one.vn.free_ar", (0,)),
                         ("one.vn.update_ar", ("AR = [ AR_ID = 0 ]",)),
                         ("one.vn.hold", ('LEASES = [ IP = "1.2.3.4" ]',)),
                         ("one.vn.release", ('LEASES = [ IP = "1.2.3.4" ]',)),
                         ("one.vn.reserve", ("SIZE = 1\nNAME = x",)),
                         ("one.vn.update", ("A = 1", 1)), ("one.vn.rename", (uniq("r"),)),
                         ("one.vn.chmod", (1, 1, 1, 0, 0, 0, 0, 0, 0)),
                         ("one.vn.chown", (0, 0)), ("one.vn.lock", (1, False)),
                         ("one.vn.unlock", ())):
        reply = raw(nubo, method, 987654, *args)
        assert reply[:4] == [False, f"[{method}] Error getting virtual network [987654].",
                             NO_EXISTS, 987654], method


def test_wrong_argument_types_are_faults(nubo):
    for method, args in (("one.vn.allocate", (7, -1)), ("one.vn.info", ("1",)),
                         ("one.vn.hold", (1, 2)), ("one.vn.rm_ar", (1, "0")),
                         ("one.vnpool.info", ("-2", -1, -1))):
        with pytest.raises(xmlrpc.client.Fault):
            raw(nubo, method, *args)


def test_pool_filters_and_pages(one, nubo, client_for):
    ids = [one.vn.allocate(simple(uniq("page")), -1) for _ in range(3)]
    page = one.vnpool.info(-2, ids[0], ids[-1]).VNET
    assert sorted(v.ID for v in page) == ids
    assert len(one.vnpool.info(-2, 0, -2).VNET) == 2
    uid, user = new_user(one, client_for)
    assert user.vnpool.info(-3, -1, -1).VNET == []
    with pytest.raises(pyone.OneApiException, match="Incorrect filter_flag"):
        one.vnpool.info(-5, -1, -1)
