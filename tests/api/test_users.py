"""one.user.*, one.userpool.info, one.group.*, one.acl.*, one.system.*: driven by pyone."""
from __future__ import annotations

import uuid

import pyone
import pytest

from xsd import assert_valid, raw_call


def uniq(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_version_and_config(one, nubo):
    assert one.system.version() == "7.0.0"
    assert_valid(raw_call(nubo.endpoint, "one.system.config", nubo.session)[1],
                 "opennebula_configuration.xsd")


def test_bootstrap_objects(one, nubo):
    users = raw_call(nubo.endpoint, "one.userpool.info", nubo.session)[1]
    assert_valid(users, "user_pool.xsd")
    assert one.user.info(0).NAME == "oneadmin"
    assert one.user.info(1).NAME == "serveradmin"
    assert one.group.info(0).NAME == "oneadmin"
    assert one.group.info(1).NAME == "users"
    assert_valid(raw_call(nubo.endpoint, "one.grouppool.info", nubo.session)[1], "group_pool.xsd")
    assert_valid(raw_call(nubo.endpoint, "one.user.info", nubo.session, 0)[1], "user.xsd")
    assert_valid(raw_call(nubo.endpoint, "one.group.info", nubo.session, 1)[1], "group.xsd")
    rules = [r.STRING for r in one.acl.info().ACL]
    assert "@1 HOST/* MANAGE #0" in rules
    assert_valid(raw_call(nubo.endpoint, "one.acl.info", nubo.session)[1], "acl_pool.xsd")


def test_reply_shapes(nubo):
    ok = raw_call(nubo.endpoint, "one.user.info", nubo.session, 0)
    assert ok[0] is True and ok[2] == 0 and len(ok) == 3
    bad = raw_call(nubo.endpoint, "one.user.info", nubo.session, 987654)
    assert bad == [False, "[one.user.info] Error getting user [987654].", 0x400, 987654, -1]
    denied = raw_call(nubo.endpoint, "one.user.info", "oneadmin:wrong", 0)
    assert denied[:3] == [False, "[one.user.info] User couldn't be authenticated, aborting call.",
                          0x100]


def test_user_lifecycle(one, client_for):
    name = uniq("alice")
    uid = one.user.allocate(name, "s3cret", "", [])
    assert uid >= 2
    info = one.user.info(uid)
    assert info.NAME == name and info.GID == 1 and info.AUTH_DRIVER == "core"
    assert info.PASSWORD == ""  # the KDF hash never leaves the server
    alice = client_for(f"{name}:s3cret")
    assert alice.user.info(-1).ID == uid
    # a user cannot see oneadmin, nor create users
    with pytest.raises(pyone.OneAuthorizationException):
        alice.user.info(0)
    with pytest.raises(pyone.OneAuthorizationException):
        alice.user.allocate(uniq("x"), "pw", "", [])
    one.user.passwd(uid, "n3w")
    with pytest.raises(pyone.OneAuthenticationException):
        client_for(f"{name}:s3cret").user.info(-1)
    assert client_for(f"{name}:n3w").user.info(-1).ID == uid
    one.user.update(uid, 'EMAIL = "a@example.org"', 1)
    assert one.user.info(uid).TEMPLATE["EMAIL"] == "a@example.org"
    one.user.enable(uid, False)
    with pytest.raises(pyone.OneAuthenticationException):
        client_for(f"{name}:n3w").user.info(-1)
    one.user.enable(uid, True)
    one.user.delete(uid)
    with pytest.raises(pyone.OneNoExistsException):
        one.user.info(uid)


def test_duplicate_and_bad_names_change_nothing(one):
    name = uniq("dup")
    one.user.allocate(name, "pw", "", [])
    before = len(one.userpool.info().USER)
    with pytest.raises(pyone.OneException, match="NAME is already taken"):
        one.user.allocate(name, "pw", "", [])
    with pytest.raises(pyone.OneException, match="Invalid NAME"):
        one.user.allocate("bad:name", "pw", "", [])
    with pytest.raises(pyone.OneException, match="password"):
        one.user.allocate(uniq("nopw"), "", "", [])
    assert len(one.userpool.info().USER) == before


def test_login_token(one, client_for):
    name = uniq("tok")
    uid = one.user.allocate(name, "pw", "", [])
    user = client_for(f"{name}:pw")
    token = user.user.login(name, "", 60, -1)
    assert token and token != "pw"
    assert client_for(f"{name}:{token}").user.info(-1).ID == uid
    assert len(one.user.info(uid).LOGIN_TOKEN) == 1
    user.user.login(name, token, 0, -1)  # revoke
    with pytest.raises(pyone.OneAuthenticationException):
        client_for(f"{name}:{token}").user.info(-1)


def test_groups(one, client_for):
    gname = uniq("grp")
    gid = one.group.allocate(gname)
    assert gid >= 100
    name = uniq("member")
    uid = one.user.allocate(name, "pw", "", [gid])
    assert one.user.info(uid).GID == gid
    assert uid in one.group.info(gid).USERS.ID
    one.user.addgroup(uid, 1)
    assert sorted(one.user.info(uid).GROUPS.ID) == sorted([1, gid])
    one.user.chgrp(uid, 1)
    assert one.user.info(uid).GID == 1
    with pytest.raises(pyone.OneActionException):
        one.user.delgroup(uid, 1)  # primary group
    one.group.addadmin(1, uid)
    assert uid in one.group.info(1).ADMINS.ID
    one.group.deladmin(1, uid)
    with pytest.raises(pyone.OneActionException):
        one.group.delete(1)
    member = client_for(f"{name}:pw")
    assert member.group.info(1).NAME == "users"
    one.user.delete(uid)
    one.group.delete(gid)
    with pytest.raises(pyone.OneNoExistsException):
        one.group.info(gid)


def test_acl_rules(one):
    rid = one.acl.addrule("200000001", "2400000000", "1")
    assert any(r.ID == rid and r.STRING.startswith("@1 HOST/* USE") for r in one.acl.info().ACL)
    with pytest.raises(pyone.OneException):
        one.acl.addrule("zz", "2400000000", "1")
    one.acl.delrule(rid)
    assert all(r.ID != rid for r in one.acl.info().ACL)
    with pytest.raises(pyone.OneInternalException, match=f"Rule {rid} does not exist"):
        one.acl.delrule(rid)  # INTERNAL, as oned's AclManager::del_rule


def test_group_update_and_user_chauth(one, client_for, nubo):
    gid = one.group.allocate(uniq("upd"))
    one.group.update(gid, 'SUNSTONE = [ DEFAULT_VIEW = "user" ]\nOWNER = "ops"', 0)
    one.group.update(gid, 'OWNER = "dev"', 1)
    tmpl = one.group.info(gid).TEMPLATE
    assert tmpl["OWNER"] == "dev" and tmpl["SUNSTONE"]["DEFAULT_VIEW"] == "user"
    assert_valid(raw_call(nubo.endpoint, "one.group.info", nubo.session, gid)[1], "group.xsd")
    with pytest.raises(pyone.OneException, match="line 1"):
        one.group.update(gid, 'BROKEN = "unterminated', 0)
    assert one.group.info(gid).TEMPLATE["OWNER"] == "dev"  # nothing changed

    name = uniq("chauth")
    uid = one.user.allocate(name, "pw1", "", [])
    one.user.chauth(uid, "ldap", "")
    assert one.user.info(uid).AUTH_DRIVER == "ldap"
    one.user.chauth(uid, "core", "pw2")
    assert one.user.info(uid).AUTH_DRIVER == "core"
    assert client_for(f"{name}:pw2").user.info(-1).ID == uid
    with pytest.raises(pyone.OneAuthorizationException):
        client_for(f"{name}:pw2").user.chauth(uid, "core", "pw3")  # needs ADMIN
    with pytest.raises(pyone.OneException):
        one.user.chauth(uid, "", "")
