"""Authorization: oneadmin, permission bits, ACL rules, locks; and a naive reference."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nubo.auth.acl import (ADMIN, ALL_ID, CLUSTER_ID, CREATE, GROUP_ID, INDIVIDUAL_ID, MANAGE,
                           USE, AclRule, ObjectType, Operation, default_rules, parse_rule)
from nubo.auth.authorize import (AclIndex, ObjectAuth, Requester, authorize, authorize_create,
                                 denial_message)
from nubo.model.permissions import Permissions

VM, HOST, NET, IMAGE, DS = (ObjectType.VM, ObjectType.HOST, ObjectType.NET, ObjectType.IMAGE,
                            ObjectType.DATASTORE)
ALICE = Requester(uid=5, gid=100, group_ids=frozenset({100, 101}))
BOB = Requester(uid=6, gid=1)


def obj(t: int = VM, oid: int = 10, uid: int = 7, gid: int = 200, octal: str = "000",
        cids: frozenset[int] = frozenset(), locked: int = 0) -> ObjectAuth:
    return ObjectAuth(t, oid, uid, gid, Permissions.from_octal(octal), cids, locked)


def rules(*texts: str) -> AclIndex:
    return AclIndex([parse_rule(t, i) for i, t in enumerate(texts)])


NO_RULES = AclIndex([])


def test_requester_includes_primary_group() -> None:
    assert BOB.group_ids == frozenset({1})
    assert not ALICE.is_admin and Requester(0, 5).is_admin and Requester(9, 0).is_admin
    assert Requester(9, 3, frozenset({0, 3})).is_admin


@pytest.mark.parametrize("req", [Requester(0, 1), Requester(9, 0),
                                 Requester(9, 5, frozenset({5, 0}))])
@pytest.mark.parametrize("op", [USE, MANAGE, ADMIN, CREATE])
def test_oneadmin_bypass(req: Requester, op: Operation) -> None:
    assert authorize(req, op, obj(), NO_RULES)
    assert authorize_create(req, HOST, NO_RULES)


# owner / group / other bits: (octal, who, op) -> allowed
@pytest.mark.parametrize("octal,who,op,allowed", [
    ("100", "owner", ADMIN, True), ("600", "owner", ADMIN, False),
    ("400", "owner", USE, True), ("400", "owner", MANAGE, False),
    ("200", "owner", MANAGE, True), ("070", "owner", USE, False),
    ("040", "group", USE, True), ("020", "group", MANAGE, True), ("010", "group", ADMIN, True),
    ("040", "group", MANAGE, False), ("700", "group", USE, False),
    ("004", "other", USE, True), ("002", "other", MANAGE, True), ("001", "other", ADMIN, True),
    ("770", "other", USE, False), ("004", "owner", USE, True), ("004", "group", USE, True),
    ("777", "owner", CREATE, False), ("777", "other", CREATE, False),
])
def test_permission_bits(octal: str, who: str, op: Operation, allowed: bool) -> None:
    target = {"owner": obj(uid=5, gid=300, octal=octal),
              "group": obj(uid=7, gid=101, octal=octal),  # 101 is a secondary group of ALICE
              "other": obj(uid=7, gid=300, octal=octal)}[who]
    assert authorize(ALICE, op, target, NO_RULES) is allowed


@pytest.mark.parametrize("text,target,op,allowed", [
    ("#5 VM/#10 USE", obj(), USE, True),
    ("#5 VM/#10 USE", obj(oid=11), USE, False),
    ("#5 VM/#10 USE", obj(), MANAGE, False),
    ("#5 VM/#10 USE+MANAGE", obj(), MANAGE, True),
    ("#5 IMAGE/#10 USE", obj(), USE, False),           # wrong type
    ("#6 VM/#10 USE", obj(), USE, False),              # another user
    ("@101 VM/* USE", obj(), USE, True),               # secondary group
    ("@102 VM/* USE", obj(), USE, False),
    ("* VM/* MANAGE", obj(), MANAGE, True),
    ("* VM+IMAGE/@200 ADMIN", obj(), ADMIN, True),     # objects of group 200
    ("* VM/@201 ADMIN", obj(), ADMIN, False),
    ("#5 HOST/%3 MANAGE", obj(HOST, cids=frozenset({2, 3})), MANAGE, True),
    ("#5 HOST/%4 MANAGE", obj(HOST, cids=frozenset({2, 3})), MANAGE, False),
    ("#5 DATASTORE+NET/%0 USE", obj(NET, cids=frozenset({0})), USE, True),
    ("#5 VM/* USE #1", obj(), USE, False),             # other zone
    ("#5 VM/* USE *", obj(), USE, True),
])
def test_acl_rules(text: str, target: ObjectAuth, op: Operation, allowed: bool) -> None:
    assert authorize(ALICE, op, target, rules(text)) is allowed


def test_acl_zone_of_index() -> None:
    index = AclIndex([parse_rule("#5 VM/* USE #1")], zone_id=1)
    assert authorize(ALICE, USE, obj(), index)
    assert authorize(ALICE, USE, obj(), [parse_rule("#5 VM/* USE #1")], zone_id=1)
    assert not authorize(ALICE, USE, obj(), [parse_rule("#5 VM/* USE #1")])


def test_create_only_via_acl() -> None:
    assert not authorize_create(ALICE, VM, NO_RULES)
    assert authorize_create(BOB, VM, AclIndex(default_rules()))
    assert authorize_create(BOB, ObjectType.BACKUPJOB, AclIndex(default_rules()))
    assert not authorize_create(BOB, NET, AclIndex(default_rules()))
    assert not authorize_create(BOB, HOST, AclIndex(default_rules()))
    assert not authorize_create(ALICE, VM, AclIndex(default_rules()))
    # TYPE/@gid CREATE matches the new object's group.
    r = rules("#5 IMAGE/@100 CREATE")
    assert authorize_create(ALICE, IMAGE, r)
    assert not authorize_create(ALICE, IMAGE, r, gid=101)
    assert not authorize_create(ALICE, IMAGE, rules("#5 IMAGE/@100 USE+MANAGE+ADMIN"))


def test_default_rules_for_users_group() -> None:
    index = AclIndex(default_rules())
    assert authorize(BOB, MANAGE, obj(HOST), index)
    assert not authorize(BOB, ADMIN, obj(HOST), index)
    assert authorize(BOB, USE, obj(NET), index) and authorize(BOB, USE, obj(DS), index)
    assert authorize(ALICE, USE, obj(ObjectType.ZONE), index)
    assert authorize(ALICE, USE, obj(ObjectType.MARKETPLACEAPP), index)
    assert not authorize(ALICE, MANAGE, obj(ObjectType.ZONE), index)
    assert not authorize(ALICE, USE, obj(HOST), index)


@pytest.mark.parametrize("locked,op,allowed", [
    (1, USE, False), (1, MANAGE, False), (2, USE, True), (2, MANAGE, False),
    (2, ADMIN, False), (3, MANAGE, True), (3, ADMIN, False),
    (1, Operation.USE_NO_LCK, True), (3, Operation.ADMIN_NO_LCK, True),
])
def test_locks(locked: int, op: Operation, allowed: bool) -> None:
    target = obj(uid=5, octal="700", locked=locked)
    assert authorize(ALICE, op, target, NO_RULES) is allowed
    assert authorize(Requester(0, 0), op, target, NO_RULES) is allowed  # oneadmin too


def test_denial_messages() -> None:
    assert denial_message(ALICE, USE, obj()) == "Not authorized to perform USE VM [10]"
    assert denial_message(ALICE, Operation.MANAGE_NO_LCK, obj(IMAGE, oid=3)) == \
        "Not authorized to perform MANAGE IMAGE [3]"
    assert denial_message(ALICE, CREATE, obj(oid=-1)) == "Not authorized to perform CREATE VM"
    assert denial_message(Requester(0, 0), ADMIN, obj()) == "VM is locked. [10]"


def test_object_type_must_be_one_bit() -> None:
    with pytest.raises(ValueError):
        ObjectAuth(VM | HOST, 1, 1, 1)
    with pytest.raises(ValueError):
        ObjectAuth(ALL_ID, 1, 1, 1)


def test_reverse_search() -> None:
    index = rules("#5 VM/#1 USE", "@101 VM/@7 USE", "* VM/#2 MANAGE", "#5 NET/%3 USE",
                  "#5 VM/#4 USE #1")
    assert index.reverse_search(ALICE, VM, USE) == (False, (1,), (7,), ())
    assert index.reverse_search(ALICE, VM, MANAGE) == (False, (2,), (), ())
    assert index.reverse_search(ALICE, NET, USE) == (False, (), (), (3,))
    assert index.reverse_search(BOB, VM, USE).all is False
    assert AclIndex(default_rules()).reverse_search(BOB, HOST, MANAGE) == (True, (), (), ())


# -- a naive transcription of AclManager::authorize, to compare against ---------
_MASK = 0xFFFFFFFF
_NONE_ID = 0x1000000000000000


def reference(req: Requester, op: int, o: ObjectAuth, rule_list: list[AclRule],
              zone_id: int) -> bool:
    op = int(op)
    if op & 0x10:
        op &= 0x0F
    elif 0 < o.locked <= op:
        return False
    if req.uid == 0 or 0 in req.group_ids:
        return True
    t = int(o.obj_type)
    oid_req = t | INDIVIDUAL_ID | o.oid if o.oid >= 0 else _NONE_ID
    gid_req = t | GROUP_ID | o.gid if o.gid >= 0 else _NONE_ID
    cid_reqs = [t | CLUSTER_ID | c for c in o.cluster_ids]
    all_req = t | ALL_ID
    oid_mask, gid_mask, cid_mask = (t | INDIVIDUAL_ID | _MASK, t | GROUP_ID | _MASK,
                                    t | CLUSTER_ID | _MASK)
    p = o.perms
    perm_res = t | INDIVIDUAL_ID | o.oid  # all ones when oid is -1, as in C++
    here = INDIVIDUAL_ID | zone_id
    tmp = [(INDIVIDUAL_ID | o.uid, perm_res, p.owner_u | p.owner_m << 1 | p.owner_a << 2, here),
           (GROUP_ID | o.gid, perm_res, p.group_u | p.group_m << 1 | p.group_a << 2, here),
           (ALL_ID, perm_res, p.other_u | p.other_m << 1 | p.other_a << 2, here)]
    every = tmp + [r.key for r in rule_list]
    for user_req in [ALL_ID, INDIVIDUAL_ID | req.uid, *(GROUP_ID | g for g in req.group_ids)]:
        for user, res, rights, zone in every:
            if user != user_req:
                continue
            zone_ok = zone & ALL_ID == ALL_ID or zone & (INDIVIDUAL_ID | _MASK) == here
            res_ok = (res & all_req == all_req or res & gid_mask == gid_req
                      or res & oid_mask == oid_req or any(res & cid_mask == c for c in cid_reqs))
            if zone_ok and rights & op == op and res_ok:
                return True
    return False


TYPES = [VM, HOST, NET, IMAGE, DS, ObjectType.USER, ObjectType.ZONE]
_ids = st.integers(0, 2)  # few ids, so rules and objects often meet
_user = st.one_of(st.just(ALL_ID), _ids.map(lambda i: INDIVIDUAL_ID | i),
                  _ids.map(lambda i: GROUP_ID | i), st.integers(-(1 << 63), (1 << 63) - 1))
_selectors = st.sets(st.sampled_from([INDIVIDUAL_ID, GROUP_ID, ALL_ID, CLUSTER_ID]), max_size=3)
_resource = st.one_of(
    st.builds(lambda ts, sels, i: sum(ts) | sum(sels) | i,
              st.sets(st.sampled_from(TYPES), min_size=1, max_size=3), _selectors,
              st.integers(0, 4)),
    st.integers(-(1 << 63), (1 << 63) - 1))
_zone = st.one_of(st.just(ALL_ID), st.sampled_from([INDIVIDUAL_ID, INDIVIDUAL_ID | 1]),
                  st.integers(-(1 << 63), (1 << 63) - 1))
_odd_rule = st.builds(lambda u, r, ri, z: (u, r, ri, z), _user, _resource,
                     st.one_of(st.integers(0, 15), st.integers(-(1 << 63), (1 << 63) - 1)), _zone)
_likely_rule = st.builds(  # well-formed rules aimed at the ids the objects use
    lambda u, t, sel, i, ri, z: (u, t | sel | (0 if sel == ALL_ID else i), ri, z),
    st.one_of(st.just(ALL_ID), _ids.map(lambda i: INDIVIDUAL_ID | i),
              _ids.map(lambda i: GROUP_ID | i)),
    st.sampled_from(TYPES[:2]), st.sampled_from([INDIVIDUAL_ID, GROUP_ID, ALL_ID, CLUSTER_ID]),
    _ids, st.integers(1, 15), st.sampled_from([ALL_ID, INDIVIDUAL_ID, INDIVIDUAL_ID | 1]))
_rules = st.builds(lambda a, b: a + b, st.lists(_likely_rule, min_size=1, max_size=6),
                   st.lists(_odd_rule, max_size=3))
_requester = st.one_of(  # mostly non-admins: the bypass has its own table tests
    st.builds(Requester, st.integers(1, 2), st.integers(1, 2),
              st.frozensets(st.integers(1, 2), max_size=2)),
    st.builds(Requester, st.integers(0, 4), st.integers(-1, 4),
              st.frozensets(st.integers(0, 4), max_size=3)))
_object = st.builds(
    lambda t, oid, uid, gid, bits, cids, locked: ObjectAuth(
        t, oid, uid, gid, Permissions.from_tuple(bits), cids, locked),
    st.one_of(st.sampled_from(TYPES[:2]), st.sampled_from(TYPES)),
    st.integers(-1, 2), st.integers(-1, 2), st.integers(-1, 2),
    st.sampled_from([(0,) * 9, (0,) * 9, None]).flatmap(  # mostly no bits: exercise the ACLs
        lambda b: st.just(b) if b else st.tuples(*[st.integers(0, 1)] * 9)),
    st.frozensets(_ids, max_size=2), st.one_of(st.just(0), st.integers(0, 3)))
_op = st.one_of(st.sampled_from(list(Operation)), st.integers(0, 0x1F))  # also multi-bit


@settings(max_examples=600, deadline=None)
@given(_rules, _requester, _op, _object, st.integers(0, 1))
def test_matches_reference(raw: list[tuple[int, int, int, int]], req: Requester, op: int,
                           o: ObjectAuth, zone_id: int) -> None:
    rule_list = [AclRule(i, *r) for i, r in enumerate(raw)]
    expected = reference(req, op, o, rule_list, zone_id)
    assert authorize(req, op, o, AclIndex(rule_list, zone_id)) is expected
    assert authorize(req, op, o, rule_list, zone_id) is expected
