"""What OpenNebula's own client test suites assume of the server, checked against nubo.

Each test replays the calls of a test written for OpenNebula (goca's ``*_test.go``,
the Ruby OCA's pool helpers) with the same argument types and reads back what those
tests read. goca's XML-RPC library (kolo/xmlrpc) encodes Go ``int`` as ``<int>``,
``uint`` as ``<i4>``, slices as arrays (empty ones too) and escapes newlines and tabs
in strings as character references; :func:`kolo_call` sends calls that way.
"""
from __future__ import annotations

import urllib.request
import uuid
import xmlrpc.client
from xml.sax.saxutils import escape

import pyone
import pytest
from images import wait_image

from xsd import raw_call


def uniq(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


class U32(int):
    """A Go ``uint`` argument, which kolo/xmlrpc sends as ``<i4>``."""


def _kolo_value(value) -> str:
    if isinstance(value, bool):
        return f"<value><boolean>{int(value)}</boolean></value>"
    if isinstance(value, U32):
        return f"<value><i4>{int(value)}</i4></value>"
    if isinstance(value, int):
        return f"<value><int>{value}</int></value>"
    if isinstance(value, list):
        return ("<value><array><data>" + "".join(_kolo_value(v) for v in value)
                + "</data></array></value>")
    text = escape(value, {'"': "&quot;", "'": "&#39;", "\n": "&#xA;", "\t": "&#x9;",
                          "\r": "&#xD;"})
    return f"<value><string>{text}</string></value>"


def kolo_call(nubo, method: str, *args):
    """A call encoded as goca's kolo/xmlrpc encodes it; returns the decoded reply."""
    params = "".join(f"<param>{_kolo_value(a)}</param>" for a in (nubo.session, *args))
    body = (f'<?xml version="1.0" encoding="UTF-8"?><methodCall><methodName>{method}'
            f"</methodName><params>{params}</params></methodCall>")
    req = urllib.request.Request(nubo.endpoint, body.encode(), {"Content-Type": "text/xml"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        (reply,), _ = xmlrpc.client.loads(resp.read())
    return reply


def raw(nubo, method: str, *args):
    return raw_call(nubo.endpoint, method, nubo.session, *args)


# -- bootstrap objects the suites rely on -------------------------------------------
def test_bootstrap_objects_have_opennebula_ids_and_names(one):
    """goca chowns to (1, 1) and expects "serveradmin"/"users"; it updates datastores
    0 and 1 and creates images in datastore 1 ("default")."""
    assert (one.user.info(1).NAME, one.group.info(1).NAME) == ("serveradmin", "users")
    assert one.cluster.info(0).NAME == "default"
    assert [(one.datastore.info(i).NAME, one.datastore.info(i).TYPE) for i in (0, 1, 2)] == [
        ("system", 1), ("default", 0), ("files", 2)]
    # objects created later get ids from 100 on (groups, clusters, datastores)
    gid = one.group.allocate(uniq("g"))
    assert gid >= 100
    one.group.delete(gid)


def test_system_version_and_config(one, nubo):
    assert one.system.version() == "7.0.0"
    config = raw(nubo, "one.system.config")[1]
    assert config.startswith("<OPENNEBULA_CONFIGURATION>")
    assert one.system.config().DEFAULT_UMASK  # pyone parses it with its bindings


# -- argument encodings ---------------------------------------------------------------
def test_goca_argument_encodings(one, nubo):
    """Empty auth driver and empty group array (Users().Create), a uint datastore id
    (Images().Create), newlines sent as character references (every template)."""
    name = uniq("TestUser")
    ok, uid, _ = kolo_call(nubo, "one.user.allocate", name, "passwd", "", [])
    assert ok is True
    user = one.user.info(uid)
    assert (user.GNAME, user.AUTH_DRIVER, user.GROUPS.ID) == ("users", "core", [1])
    iname = uniq("test-image")
    ok, iid, _ = kolo_call(nubo, "one.image.allocate",
                           f'\nNAME = "{iname}"\nSIZE = 1\nTYPE = "DATABLOCK"\n', U32(1))
    assert ok is True
    image = wait_image(one, iid)
    assert (image.NAME, image.SIZE, image.DATASTORE_ID, image.STATE) == (iname, 1, 1, 1)
    ok, tid, _ = kolo_call(nubo, "one.template.allocate",
                           f'NAME="{uniq("tpl")}"\n\tCPU="1"\nMEMORY="64"')
    assert ok is True
    assert one.template.info(tid).TEMPLATE["MEMORY"] == "64"
    one.template.delete(tid)
    one.image.delete(iid)
    one.user.delete(uid)


def test_ruby_oca_paginated_pools_send_a_state_argument(one, nubo):
    """Pool#info_paginated/get_page call <pool>.info(who, offset, -size, state) for
    every paginated pool: oned ignores arguments it does not read, and so must nubo."""
    tids = [one.template.allocate(f'NAME = "{uniq("page")}"\nCPU = 1\nMEMORY = 8')
            for _ in range(3)]
    iid = one.image.allocate(f'NAME = "{uniq("page")}"\nSIZE = 1\nTYPE = DATABLOCK', 1)
    vnid = one.vn.allocate(f'NAME = "{uniq("page")}"\nVN_MAD = dummy\nBRIDGE = br0', -1)
    for method in ("one.templatepool.info", "one.imagepool.info", "one.vnpool.info",
                   "one.vmpool.info"):
        ok, body, _ = raw(nubo, method, -2, 0, -2, -1)
        assert ok is True, body
    seen: list[int] = []
    offset = 0
    while True:  # Pool#each_page: pages of 2 until one comes back empty
        page = one.templatepool.info(-2, offset, -2, -1)
        if not page.VMTEMPLATE:
            break
        assert len(page.VMTEMPLATE) <= 2
        seen += [t.ID for t in page.VMTEMPLATE]
        offset += 2
    assert set(tids) <= set(seen) and len(seen) == len(set(seen))
    for tid in tids:
        one.template.delete(tid)
    one.image.delete(iid)
    one.vn.delete(vnid)


# -- users and groups (goca user_test.go / group_test.go) -----------------------------
def test_user_chgrp_into_a_secondary_group_keeps_the_old_one(one):
    """TestAddChangeDelGroup: addgroup(g), chgrp(g), then delgroup(1) must succeed."""
    gid = one.group.allocate(uniq("TestGroup"))
    uid = one.user.allocate(uniq("TestUser"), "passwd", "", [])
    one.user.addgroup(uid, gid)
    one.user.chgrp(uid, gid)
    user = one.user.info(uid)
    assert (user.GID, sorted(user.GROUPS.ID)) == (gid, sorted([1, gid]))
    assert uid in one.group.info(1).USERS.ID
    one.user.delgroup(uid, 1)
    assert one.user.info(uid).GROUPS.ID == [gid]
    # into a group it was not in: the old primary group is left, as in oned
    one.user.chgrp(uid, 1)
    user = one.user.info(uid)
    assert (user.GID, user.GROUPS.ID) == (1, [1])
    assert uid not in (one.group.info(gid).USERS.ID or [])
    one.user.delete(uid)
    one.group.delete(gid)


def test_goca_user_suite_calls(one):
    uid = one.user.allocate(uniq("TestUser"), "passwd", "", [])
    one.user.update(uid, 'DESCRIPTION="Test group description"', 1)
    assert one.user.info(uid).TEMPLATE["DESCRIPTION"] == "Test group description"
    token = one.user.login(one.user.info(uid).NAME, "", 30, 1)  # egid 1: its primary group
    assert token
    one.user.chauth(uid, "dummy", "dummy_passwd")
    one.user.enable(uid, False)
    assert one.user.info(uid).ENABLED == 0
    one.user.enable(uid, True)
    one.user.passwd(uid, "new_password")
    one.user.delete(uid)


def test_goca_group_suite_calls(one):
    gid = one.group.allocate(uniq("TestGroup"))
    uid = one.user.allocate(uniq("TestUser"), "passwd", "", [])
    assert not one.group.info(gid).ADMINS.ID
    one.group.update(gid, 'DESCRIPTION="Test group description"', 1)
    assert one.group.info(gid).TEMPLATE["DESCRIPTION"] == "Test group description"
    one.user.addgroup(uid, gid)
    one.group.addadmin(gid, uid)
    assert one.group.info(gid).ADMINS.ID == [uid]
    one.group.deladmin(gid, uid)
    one.user.delgroup(uid, gid)
    one.user.delete(uid)
    one.group.delete(gid)


# -- ACL rules (goca acl_test.go) ---------------------------------------------------------
def test_acl_rules_as_goca_creates_them(one, nubo):
    """An empty zone means this zone (#0); failures are INTERNAL errors, as in oned."""
    existing = {r.STRING for r in one.acl.info().ACL}
    assert "#0 HOST/* USE #0" not in existing  # no other test adds this rule
    ok, rid, _ = kolo_call(nubo, "one.acl.addrule", "100000000", "2400000000", "1", "")
    assert ok is True
    rule = next(r for r in one.acl.info().ACL if r.ID == rid)
    assert (rule.STRING, rule.ZONE) == ("#0 HOST/* USE #0", "100000000")
    with pytest.raises(pyone.OneInternalException, match=r"Rule #0 HOST/\* USE #0 already exists"):
        one.acl.addrule("100000000", "2400000000", "1", "")
    one.acl.delrule(rid)
    with pytest.raises(pyone.OneInternalException, match=f"Rule {rid} does not exist"):
        one.acl.delrule(rid)


def test_acl_pool_is_ordered_as_oned_dumps_it(one):
    """oned dumps its rule multimap: by USER (a signed 64-bit number), then by id."""
    def signed(hex_text: str) -> int:
        value = int(hex_text, 16)
        return value - (1 << 64) if value >> 63 else value

    rules = one.acl.info().ACL
    keys = [(signed(r.USER), r.ID) for r in rules]
    assert keys == sorted(keys)


# -- locks (oned's RequestManagerLock) --------------------------------------------------------
def test_lock_levels_and_refusals(one, client_for):
    tid = one.template.allocate(f'NAME = "{uniq("lock")}"\nCPU = 1\nMEMORY = 8')
    one.template.lock(tid, 4, False)
    assert one.template.info(tid).LOCK.LOCKED == 1  # level 4 ("all") is stored as 1 (use)
    with pytest.raises(pyone.OneActionException):
        one.template.lock(tid, 2, True)  # test=True on a locked object
    with pytest.raises(pyone.OneActionException, match="Wrong lock level specified"):
        one.template.lock(tid, 5, False)
    one.template.lock(tid, 3, False)  # the owner of the lock may change its level
    assert one.template.info(tid).LOCK.LOCKED == 3
    one.template.update(tid, "A = 1", 1)  # an admin lock leaves MANAGE operations alone
    one.template.unlock(tid)
    assert one.template.info(tid).LOCK is None

    name = uniq("locker")
    uid = one.user.allocate(name, "pw", "", [])
    user = client_for(f"{name}:pw")
    mine = user.template.allocate(f'NAME = "{uniq("lock")}"\nCPU = 1\nMEMORY = 8')
    one.template.lock(mine, 2, False)  # oneadmin's lock on the user's template
    with pytest.raises(pyone.OneActionException, match="Error trying to lock the resource"):
        user.template.lock(mine, 1, False)
    with pytest.raises(pyone.OneActionException, match="Lock is owned by another user"):
        user.template.unlock(mine)
    one.template.unlock(mine)
    user.template.lock(mine, 1, False)
    one.template.lock(mine, 2, False)  # an admin may take over any lock
    assert one.template.info(mine).LOCK.OWNER == 0
    one.template.unlock(mine)
    one.template.delete(mine)
    one.template.delete(tid)
    one.user.delete(uid)


def test_locks_of_every_lockable_kind(one):
    vid = one.vm.allocate("CPU = 0.1\nMEMORY = 8", True)
    iid = one.image.allocate(f'NAME = "{uniq("lk")}"\nSIZE = 1\nTYPE = DATABLOCK', 1)
    vnid = one.vn.allocate(f'NAME = "{uniq("lk")}"\nVN_MAD = dummy\nBRIDGE = br0', -1)
    for kind, oid in (("vm", vid), ("image", iid), ("vn", vnid)):
        api = getattr(one, kind)
        api.lock(oid, 4, False)
        assert api.info(oid).LOCK.LOCKED == 1
        with pytest.raises(pyone.OneActionException):
            api.lock(oid, 1, True)
        api.unlock(oid)
    one.image.delete(iid)
    one.vn.delete(vnid)


# -- infrastructure (goca cluster/host/datastore tests) ----------------------------------------
def test_goca_cluster_suite(one, nubo):
    cid = one.cluster.allocate(uniq("cluster_test_go"))
    # Template.Get(RESERVED_CPU) must find the key with an empty value
    assert "<RESERVED_CPU><![CDATA[]]></RESERVED_CPU>" in raw(nubo, "one.cluster.info", cid)[1]
    one.cluster.update(cid, 'ATT1 = "VAL1"', 1)
    assert one.cluster.info(cid).TEMPLATE["ATT1"] == "VAL1"
    hid = one.host.allocate(uniq("dummy-cluster-test"), "dummy", "dummy", 0)
    one.cluster.addhost(cid, hid)
    assert one.cluster.info(cid).HOSTS.ID == [hid]
    one.cluster.delhost(cid, hid)
    assert not one.cluster.info(cid).HOSTS.ID
    one.host.delete(hid)
    dsid = one.datastore.allocate(f"NAME = {uniq('go_cluster_ds')}\nDS_MAD = dummy\n"
                                  "TM_MAD = dummy\nTYPE = BACKUP_DS\n", -1)
    one.cluster.adddatastore(cid, dsid)
    assert one.cluster.info(cid).DATASTORES.ID == [dsid]
    one.cluster.deldatastore(cid, dsid)
    assert not one.cluster.info(cid).DATASTORES.ID
    one.datastore.delete(dsid)
    vnid = one.vn.allocate(f"NAME = {uniq('go_cluster_vn')}\nBRIDGE = vbr0\nVN_MAD = dummy\n", -1)
    one.cluster.addvnet(cid, vnid)
    assert one.cluster.info(cid).VNETS.ID == [vnid]
    one.cluster.delvnet(cid, vnid)
    assert not one.cluster.info(cid).VNETS.ID
    assert one.vn.info(vnid).STATE == 1  # READY, what the suite waits for
    one.vn.delete(vnid)
    one.cluster.delete(cid)


def test_goca_host_suite(one, nubo):
    hid = one.host.allocate(uniq("TestHost"), "dummy", "dummy", 0)
    assert one.host.info(hid).VM_MAD == "dummy"
    one.host.update(hid, 'DESCRIPTION="Test host description"', 1)
    assert one.host.info(hid).TEMPLATE["DESCRIPTION"] == "Test host description"
    one.host.status(hid, 2)
    assert one.host.info(hid).STATE == 8  # OFFLINE
    assert raw(nubo, "one.host.monitoring", hid)[1].startswith("<MONITORING_DATA")
    assert raw(nubo, "one.hostpool.monitoring", 100)[1].startswith("<MONITORING_DATA")
    one.host.delete(hid)


def test_goca_datastore_suite(one):
    dsid = one.datastore.allocate(f"\n\t\tNAME   = {uniq('test_ds')}\n        TYPE   = system_ds"
                                  "\n        TM_MAD = dummy", -1)
    ds = one.datastore.info(dsid)
    assert (ds.TYPE, ds.TEMPLATE["TM_MAD"]) == (1, "dummy")
    one.datastore.update(dsid, 'RESTRICTED_DIRS="/tmp"', 1)
    assert one.datastore.info(dsid).TEMPLATE["RESTRICTED_DIRS"] == "/tmp"
    one.datastore.chown(dsid, 1, 1)
    one.datastore.chmod(dsid, 1, 1, 1, 1, 1, 1, 1, 1, 1)
    ds = one.datastore.info(dsid)
    assert (ds.UNAME, ds.GNAME) == ("serveradmin", "users")
    perms = ds.PERMISSIONS
    assert all(getattr(perms, f"{who}_{bit}") == 1 for who in ("OWNER", "GROUP", "OTHER")
               for bit in "UMA")
    one.datastore.enable(dsid, False)
    assert one.datastore.info(dsid).STATE == 1  # DISABLE
    one.datastore.enable(dsid, True)
    assert one.datastore.info(dsid).STATE == 0  # READY
    one.datastore.delete(dsid)


# -- images, networks, templates and VMs (goca image/vn/template/vm tests) ---------------------
def test_goca_chown_to_caller_and_to_serveradmin(one):
    iid = one.image.allocate(f'NAME = "{uniq("test-image")}"\nSIZE = 1\nTYPE = "DATABLOCK"', 1)
    vnid = one.vn.allocate(f'NAME = "{uniq("vntest")}"\nBRIDGE = "vnetbr"\nPHYDEV = "eth0"\n'
                           'SECURITY_GROUPS = "0"\nVLAN_ID = "8000042"\nVN_MAD = "vxlan"', -1)
    assert one.vn.info(vnid).VLAN_ID == "8000042"
    for kind, oid in (("image", iid), ("vn", vnid)):
        api = getattr(one, kind)
        api.chown(oid, -1, -1)  # nothing changes: still the caller's
        obj = api.info(oid)
        assert (obj.UNAME, obj.GNAME) == ("oneadmin", "oneadmin")
        api.chown(oid, 1, 1)
        obj = api.info(oid)
        assert (obj.UNAME, obj.GNAME) == ("serveradmin", "users")
    one.image.delete(iid)
    one.vn.delete(vnid)


def test_goca_template_and_vm_calls(one, nubo):
    tname = uniq("template")
    tid = one.template.allocate(f'NAME="{tname}"\nCPU="1"\nMEMORY="64"')
    one.template.update(tid, 'A="B"', 1)
    assert one.template.info(tid, False, False).TEMPLATE["A"] == "B"
    ok, held, _ = kolo_call(nubo, "one.template.instantiate", tid, "", True, "", False)
    assert ok is True
    vm = one.vm.info(held)
    assert (vm.NAME, vm.STATE) == (f"{tname}-{held}", 2)  # HOLD, named after the template
    one.vm.update(held, "A=B", 1)
    assert one.vm.info(held).USER_TEMPLATE["A"] == "B"
    pending = one.template.instantiate(tid, "", False, "", False)
    assert one.vm.info(pending).STATE == 1  # PENDING
    listed = {v.ID for v in one.vmpool.info(-2, -1, -1, -1).VM}
    assert {held, pending} <= listed
    assert {held, pending} <= {v.ID for v in one.vmpool.infoextended(-2, -1, -1, -1).VM}
    one.template.delete(tid)
