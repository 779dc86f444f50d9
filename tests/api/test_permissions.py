"""What a plain user of a shared group may see and change of another member's objects.

Two users share a primary group; the "owner" has one object of every owned family
with mode 600 (secret: its NAME carries a marker) and one with 640 (the group may USE
it), and two running VMs; two hosts are monitored, one of them granted to the group by
an ACL rule. Every pool method of the API registry (so a new one is walked too) is
called with every filter as the other member: nothing they may not USE may appear,
bodies and monitoring records included (OpenNebula's #6952 listed 600 objects of the
group under filter -4). Then chmod as oned: unchanged admin bits need no ADMIN.
"""
from __future__ import annotations

import re
import uuid
import xml.etree.ElementTree as ET

import pyone
import pytest

from dbs import BACKENDS, create_database, drop_database
from server import NuboServer
from waits import ACTIVE, RUNNING, wait_for, wait_state
from xsd import raw_call

import nubo.api.methods  # noqa: F401 - registers every method
from nubo.api.method_table import METHODS
from nubo.auth.acl import GROUP_ID, INDIVIDUAL_ID, ObjectType

POOL_METHOD = re.compile(r"^one\.(\w+)pool\.(\w+)$")
MONITORED = 2


def uniq(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


# How oneadmin makes an object of each family that has an owner (one.<family>.chown).
ALLOCATE = {
    "vm": lambda one, name: one.vm.allocate(f'NAME = "{name}"\nCPU = 0.1\nMEMORY = 16', True),
    "template": lambda one, name: one.template.allocate(
        f'NAME = "{name}"\nCPU = 1\nMEMORY = 64\nNOTE = "{name}"'),
    "image": lambda one, name: one.image.allocate(
        f'NAME = "{name}"\nSIZE = 1\nTYPE = DATABLOCK\nNOTE = "{name}"', 1),
    "vmgroup": lambda one, name: one.vmgroup.allocate(
        f'NAME = "{name}"\nROLE = [ NAME = "web" ]\nNOTE = "{name}"'),
    "secgroup": lambda one, name: one.secgroup.allocate(f'NAME = "{name}"\nDESCRIPTION = "{name}"'),
    "vn": lambda one, name: one.vn.allocate(
        f'NAME = "{name}"\nVN_MAD = dummy\nBRIDGE = br0\nNOTE = "{name}"', -1),
    "datastore": lambda one, name: one.datastore.allocate(
        f'NAME = "{name}"\nDS_MAD = dummy\nTM_MAD = dummy\nNOTE = "{name}"', -1),
    "vntemplate": lambda one, name: one.vntemplate.allocate(
        f'NAME = "{name}"\nVN_MAD = dummy\nBRIDGE = br0\nNOTE = "{name}"'),
}
ACL_NAMES = {"vn": "NET"}  # as in "Not authorized to perform ADMIN NET [3]"
OWNED = sorted(n.split(".")[1] for n in METHODS if n.endswith(".chown"))


@pytest.fixture(scope="module", params=BACKENDS)
def server(request, tmp_path_factory):
    base = tmp_path_factory.mktemp(f"perm-{request.param}")
    url = create_database(request.param, base)
    srv = NuboServer(base / "data", database_url=url,
                     extra_config="host_monitoring_interval = 1\n").start()
    yield srv
    code = srv.stop()
    drop_database(request.param, url)
    assert code == 0, "".join(srv.log_lines[-30:])


def team(one) -> tuple[int, dict[str, tuple[int, str]]]:
    """A new group and two users, "owner" and "peer", whose primary group it is."""
    gid = one.group.allocate(uniq("team"))
    users = {}
    for who in ("owner", "peer"):
        name = uniq(who)
        uid = one.user.allocate(name, "pw", "", [gid])
        one.user.chgrp(uid, gid)
        users[who] = (uid, f"{name}:pw")
    return gid, users


def owned_by(one, family: str, name: str, uid: int, gid: int, mode: tuple[int, ...]) -> int:
    """A new object of the family made by oneadmin, then given to uid:gid with mode."""
    assert family in ALLOCATE, f"teach this test how to make a {family}"
    oid = ALLOCATE[family](one, name)
    getattr(one, family).chown(oid, uid, gid)
    getattr(one, family).chmod(oid, *mode)
    return oid


@pytest.fixture(scope="module")
def world(server):
    """The shared group, its two members, the owner's objects and the monitored hosts."""
    one = pyone.OneServer(server.endpoint, session=server.session)
    gid, users = team(one)
    owner = users["owner"][0]
    marker = uniq("secret")
    objects: dict[str, dict[str, int]] = {"secret": {}, "shared": {}}
    for family in OWNED:
        objects["secret"][family] = owned_by(one, family, f"{marker}-{family}", owner, gid,
                                             (1, 1, 0, 0, 0, 0, 0, 0, 0))
        objects["shared"][family] = owned_by(one, family, uniq(f"shared-{family}"), owner, gid,
                                             (1, 1, 0, 1, 0, 0, 0, 0, 0))
    for rule in ET.fromstring(call(server, server.session, "one.acl.info")):
        if rule.findtext("USER") == f"{GROUP_ID + gid:x}" and rule.findtext("RIGHTS") == "1":
            one.acl.delrule(int(rule.findtext("ID")))  # the new group's NET/* and DATASTORE/*
    hosts = {k: one.host.allocate(uniq(f"h-{k}"), "dummy", "dummy", -1)
             for k in ("granted", "hidden")}
    one.acl.addrule(f"{GROUP_ID + gid:x}",
                    f"{ObjectType.HOST + INDIVIDUAL_ID + hosts['granted']:x}", "1")
    vms = {"secret": objects["secret"]["vm"], "shared": objects["shared"]["vm"]}
    for hid, vm in zip(hosts.values(), vms.values()):
        wait_for("host MONITORED", lambda: one.host.info(hid).STATE == MONITORED)
        one.vm.deploy(vm, hid)
        wait_state(one, vm, (ACTIVE, RUNNING))
    for method, args, want in (("one.hostpool.monitoring", (-1,), hosts.values()),
                               ("one.vmpool.monitoring", (-2, -1), vms.values())):
        wait_for(f"{method} records", lambda: set(map(str, want)) <= {
            rec.findtext("ID") for rec in ET.fromstring(call(server, server.session, method,
                                                             *args))})
    return {"one": one, "gid": gid, "users": users, "marker": marker, "objects": objects,
            "hosts": hosts, "vms": vms}


def call(server, session: str, method: str, *args):
    ok, value = raw_call(server.endpoint, method, session, *args)[:2]
    assert ok, f"{method}{args}: {value}"
    return value


def pool_methods() -> list[str]:
    return sorted(n for n in METHODS if POOL_METHOD.match(n))


def arguments(method: str, filters: list[int], ids: str) -> list[tuple]:
    """Every way the walk calls a pool method: each filter, each boolean, everything else
    as wide as it goes."""
    combos: list[tuple] = [()]
    for p in METHODS[method].params:
        if p.name == "filter":
            values = filters
        elif p.name in ("start", "end", "seconds"):
            values = [-1]
        elif p.name == "state":
            values = [-2]  # any state
        elif p.name == "query":
            values = [""]
        elif p.name == "ids":
            values = [ids]
        elif p.type is bool:
            values = [False, True]
        else:
            raise AssertionError(f"teach this test the parameter {p.name} of {method}")
        combos = [c + (v,) for c in combos for v in values]
    return combos


def listed(xml: str) -> list[tuple[str, int]]:
    """(element, id) of every object or monitoring record a pool answer shows."""
    root = ET.fromstring(xml)
    tag = "MONITORING" if root.tag == "MONITORING_DATA" else root.tag.removesuffix("_POOL")
    return [(tag, int(el.findtext("ID"))) for el in root if el.tag == tag]


def test_every_pool_method_shows_a_group_member_only_what_they_may_use(server, world):
    one, marker = world["one"], world["marker"]
    peer, peer_session = world["users"]["peer"]
    owner = world["users"]["owner"][0]
    filters = [-4, -3, -2, -1, peer, owner]
    may_use: dict[tuple[str, int], bool] = {}

    def allowed(family: str, oid: int) -> bool:
        if (family, oid) not in may_use:
            ok = raw_call(server.endpoint, f"one.{family}.info", peer_session, oid)[0]
            may_use[(family, oid)] = ok
        return may_use[(family, oid)]

    walked = set()
    for method in pool_methods():
        family = POOL_METHOD.match(method).group(1)
        # oneadmin lists first, so the listing cache holds the secret bodies when the peer asks
        everything = call(server, server.session, f"one.{family}pool.info",
                          *([-2] if "filter" in [p.name for p in
                                                 METHODS[f"one.{family}pool.info"].params]
                            else []))
        ids = ",".join(str(i) for _, i in listed(everything))
        for args in arguments(method, filters, ids):
            ok, xml = raw_call(server.endpoint, method, peer_session, *args)[:2]
            if not ok:
                continue  # refused outright: nothing shown
            assert marker not in xml, f"{method}{args} shows a 600 object of another user"
            shown = listed(xml)
            for _, oid in shown:
                assert allowed(family, oid), f"{method}{args} shows {family} {oid}"
            if args and args[0] == -4 and family in OWNED and method.endswith("info"):
                gids = {int(el.findtext("GID")) for el in ET.fromstring(xml)}
                assert gids <= {world["gid"]}, f"{method}{args}: groups {gids}"
            walked.add(method)
    assert {"one.vmpool.infoextended", "one.hostpool.monitoring",
            "one.vmpool.monitoring"} <= walked
    see_what_they_may_use(server, world)


def see_what_they_may_use(server, world) -> None:
    """The walk's controls: the group sees its 640 objects, oneadmin sees everything."""
    peer, peer_session = world["users"]["peer"]
    secret, shared = world["objects"]["secret"], world["objects"]["shared"]
    for flag in (-4, -2, -1, world["users"]["owner"][0]):
        for family in OWNED:
            pool = f"one.{family}pool.info"
            args = (flag, -1, -1) if len(METHODS[pool].params) >= 3 else ()
            seen = {i for _, i in listed(call(server, peer_session, pool, *args))}
            assert shared[family] in seen and secret[family] not in seen, (pool, args)
            every = {i for _, i in listed(call(server, server.session, pool,
                                               *((-2, -1, -1) if args else ())))}
            assert {shared[family], secret[family]} <= every, pool
        records = listed(call(server, peer_session, "one.vmpool.monitoring", flag, -1))
        assert {i for _, i in records} == {world["vms"]["shared"]}
    for mine in (-3, peer):
        assert not listed(call(server, peer_session, "one.vmpool.infoextended", mine, -1, -1,
                               -2, ""))
    hosts = {i for _, i in listed(call(server, peer_session, "one.hostpool.monitoring", -1))}
    assert hosts == {world["hosts"]["granted"]}
    assert {i for _, i in listed(call(server, peer_session, "one.hostpool.info"))} == hosts
    admin = {i for _, i in listed(call(server, server.session, "one.hostpool.monitoring", 0))}
    assert set(world["hosts"].values()) <= admin


BITS = ("OWNER_U", "OWNER_M", "OWNER_A", "GROUP_U", "GROUP_M", "GROUP_A", "OTHER_U", "OTHER_M",
        "OTHER_A")


def perms(one, family: str, oid: int) -> str:
    p = getattr(one, family).info(oid).PERMISSIONS
    return "".join(str(getattr(p, bit)) for bit in BITS)


def test_the_owner_chmods_with_all_nine_bits_but_no_admin_right(nubo, one, client_for):
    """oned's rule, for every family with an owner: admin bits sent with their current value
    (as clients send all nine) need no ADMIN; changing one does, and a refusal changes nothing."""
    gid, users = team(one)
    owner, session = users["owner"]
    mine, peer = client_for(session), client_for(users["peer"][1])
    for family in OWNED:
        oid = owned_by(one, family, uniq(f"chmod-{family}"), owner, gid,
                       (1, 1, 0, 0, 0, 0, 0, 0, 0))
        recursive = (False,) if len(METHODS[f"one.{family}.chmod"].params) == 11 else ()
        getattr(mine, family).chmod(oid, 1, 1, 0, 1, 0, 0, 0, 0, 0, *recursive)  # chmod 640
        assert perms(one, family, oid) == "110100000", family
        getattr(mine, family).chmod(oid, -1, -1, -1, 1, 1, -1, -1, -1, -1, *recursive)
        assert perms(one, family, oid) == "110110000", family
        for bits in ((1, 1, 1, 1, 1, 0, 0, 0, 0), (-1, -1, -1, -1, -1, 1, -1, -1, -1),
                     (1, 1, 0, 1, 1, 0, 0, 0, 1)):  # each changes an admin bit: refused
            with pytest.raises(pyone.OneAuthorizationException, match="Not authorized to "
                               f"perform ADMIN {ACL_NAMES.get(family, family.upper())}"):
                getattr(mine, family).chmod(oid, *bits, *recursive)
            assert perms(one, family, oid) == "110110000", (family, bits)  # nothing changed
        # the peer has MANAGE through the group bits: enough for the same nine bits
        getattr(peer, family).chmod(oid, 1, 1, 0, 1, 0, 0, 0, 0, 0, *recursive)
        assert perms(one, family, oid) == "110100000", family
        with pytest.raises(pyone.OneAuthorizationException, match="MANAGE"):  # not any more
            getattr(peer, family).chmod(oid, 1, 1, 0, 1, 1, 0, 0, 0, 0, *recursive)
        assert perms(one, family, oid) == "110100000", family
