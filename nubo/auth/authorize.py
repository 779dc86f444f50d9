"""May this requester do this to that object? OpenNebula's answer, computed fast.

The order is AuthRequest::add_auth + AclManager::authorize: a lock on the
object refuses lockable operations (even to oneadmin); uid 0 and members of
the oneadmin group (0) may do anything else; everyone else needs either the
object's permission bits (owner / one of their groups / other) or an ACL rule
naming them (``*``, ``#uid``, ``@gid``) and the object (``TYPE/*``, ``/#oid``,
``/@object-gid``, ``/%cluster``) with the right in this zone. CREATE only ever
comes from an ACL rule, since permission bits have no CREATE bit.

Many objects are checked per request, so rules are indexed once per rule set
(AclIndex) and each check is a handful of dict lookups. Pure: no I/O.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, NamedTuple

from nubo.auth.acl import (ALL_ID, CLUSTER_ID, CREATE, GROUP_ID, ID_MASK, INDIVIDUAL_ID,
                           AclRule, ObjectType, Operation)
from nubo.model.permissions import Permissions

ONEADMIN_ID = 0        # uid of oneadmin
ONEADMIN_GROUP_ID = 0  # gid of the oneadmin group
_NO_LOCK = 0x10        # Operation *_NO_LCK flag
_TYPE_BITS = 28        # object type bits live in bits 36..63
_OP_NAMES = {int(op): op.name for op in (Operation.USE, Operation.MANAGE, Operation.ADMIN,
                                         Operation.CREATE)}


@dataclass(frozen=True, slots=True)
class Requester:
    """Who is asking: user id, effective group and every group the user is in.

    The effective group is always counted as one of the groups.
    """

    uid: int
    gid: int
    group_ids: frozenset[int] = frozenset()

    def __post_init__(self) -> None:
        groups = frozenset(self.group_ids)
        if self.gid >= 0:
            groups |= {self.gid}
        object.__setattr__(self, "group_ids", groups)

    @property
    def is_admin(self) -> bool:
        """oneadmin, or a member of the oneadmin group."""
        return self.uid == ONEADMIN_ID or ONEADMIN_GROUP_ID in self.group_ids


@dataclass(frozen=True, slots=True)
class ObjectAuth:
    """What authorization needs to know about an object (OpenNebula's PoolObjectAuth).

    ``oid`` is -1 for an object still to be created; ``locked`` is the lock
    level (0 none, 1 USE, 2 MANAGE, 3 ADMIN); ``cluster_ids`` are the clusters
    of hosts, datastores and networks, matched by ``%cid`` rules.
    """

    obj_type: int
    oid: int
    uid: int
    gid: int
    perms: Permissions = Permissions()
    cluster_ids: frozenset[int] = frozenset()
    locked: int = 0

    def __post_init__(self) -> None:
        t = int(self.obj_type)
        if t <= 0 or t & (t - 1) or t & ((1 << 36) - 1):
            raise ValueError(f"obj_type must be one ObjectType bit, not {self.obj_type!r}")
        if not isinstance(self.cluster_ids, frozenset):
            object.__setattr__(self, "cluster_ids", frozenset(self.cluster_ids))


class _Grants:
    """Rights granted to one user selector on one object type, by resource selector."""

    __slots__ = ("all", "oid", "gid", "cid")

    def __init__(self) -> None:
        self.all: set[int] = set()
        self.oid: dict[int, set[int]] = {}
        self.gid: dict[int, set[int]] = {}
        self.cid: dict[int, set[int]] = {}


def _grants_op(rights: Iterable[int] | None, op: int) -> bool:
    return rights is not None and any(r & op == op for r in rights)


class AclIndex:
    """A rule set indexed for one zone; build it once per change of the rules.

    Rules are bucketed by their exact USER value and each object type bit,
    then by resource selector, which reproduces AclManager::match_rules' mask
    tests exactly (also for odd rules loaded from a database).
    """

    __slots__ = ("rules", "zone_id", "_grants", "_by_user")

    def __init__(self, rules: Iterable[AclRule], zone_id: int = 0) -> None:
        self.rules: tuple[AclRule, ...] = tuple(rules)
        self.zone_id = zone_id
        here = INDIVIDUAL_ID | zone_id
        grants: dict[tuple[int, int], _Grants] = {}
        by_user: dict[int, list[AclRule]] = {}
        for rule in self.rules:
            by_user.setdefault(rule.user, []).append(rule)
            if not (rule.zone & ALL_ID or rule.zone & (INDIVIDUAL_ID | ID_MASK) == here):
                continue
            res, rights, rid = rule.resource, rule.rights, rule.resource & ID_MASK
            bits = (res >> 36) & ((1 << _TYPE_BITS) - 1)
            while bits:
                low = bits & -bits
                bits ^= low
                g = grants.get((rule.user, low << 36))
                if g is None:
                    g = grants[(rule.user, low << 36)] = _Grants()
                if res & ALL_ID:
                    g.all.add(rights)
                if res & INDIVIDUAL_ID:
                    g.oid.setdefault(rid, set()).add(rights)
                if res & GROUP_ID:
                    g.gid.setdefault(rid, set()).add(rights)
                if res & CLUSTER_ID:
                    g.cid.setdefault(rid, set()).add(rights)
        self._grants = grants
        self._by_user = {k: tuple(v) for k, v in by_user.items()}

    def __len__(self) -> int:
        return len(self.rules)

    @staticmethod
    def _user_keys(req: Requester, ordered: bool = False) -> list[int]:
        # oned tries '*', then '#uid', then '@gid' for each group (a std::set, so ascending).
        groups = sorted(req.group_ids) if ordered else req.group_ids
        return [ALL_ID, INDIVIDUAL_ID | req.uid, *(GROUP_ID | g for g in groups)]

    def grants(self, req: Requester, op: int, obj: ObjectAuth) -> bool:
        """Does some rule give ``req`` the right ``op`` over ``obj``? (no bits, no locks)"""
        t = int(obj.obj_type)
        cids = [c for c in obj.cluster_ids if c >= 0]
        for key in self._user_keys(req):
            g = self._grants.get((key, t))
            if g is None:
                continue
            if (_grants_op(g.all, op)
                    or (obj.oid >= 0 and _grants_op(g.oid.get(obj.oid), op))
                    or (obj.gid >= 0 and _grants_op(g.gid.get(obj.gid), op))
                    or any(_grants_op(g.cid.get(c), op) for c in cids)):
                return True
        return False

    def reverse_search(self, req: Requester, obj_type: int, op: int) -> ReverseSearch:
        """Which objects of a type ``req`` may ``op`` through rules (AclManager::reverse_search).

        Used to filter pool listings: ``all`` means every object of the type;
        otherwise the ids, group ids and cluster ids named by rules. Note oned
        only takes rules whose zone is exactly ``#zone`` or ``*`` here.
        """
        t = int(obj_type)
        here = INDIVIDUAL_ID | self.zone_id
        every = False
        oids: list[int] = []
        gids: list[int] = []
        cids: list[int] = []
        for key in self._user_keys(req, ordered=True):
            for rule in self._by_user.get(key, ()):
                if rule.rights & op != op or rule.zone not in (here, ALL_ID):
                    continue
                res = rule.resource
                if res & (t | ALL_ID) == t | ALL_ID:
                    every = True
                    break
                if res & (t | GROUP_ID) == t | GROUP_ID:
                    gids.append(rule.resource_id)
                elif res & (t | CLUSTER_ID) == t | CLUSTER_ID:
                    cids.append(rule.resource_id)
                elif res & (t | INDIVIDUAL_ID) == t | INDIVIDUAL_ID:
                    oids.append(rule.resource_id)
            if every:
                oids, gids, cids = [], [], []
        return ReverseSearch(every, tuple(oids), tuple(gids), tuple(cids))


class ReverseSearch(NamedTuple):
    """Result of AclIndex.reverse_search."""

    all: bool
    oids: tuple[int, ...]
    gids: tuple[int, ...]
    cids: tuple[int, ...]


def _perm_rights(u: int, m: int, a: int) -> int:
    return u | (m << 1) | (a << 2)


def permission_bits_allow(req: Requester, op: int, obj: ObjectAuth) -> bool:
    """The object's own bits, as the owner/group/other rules of PoolObjectAuth::get_acl_rules."""
    p = obj.perms
    if _perm_rights(p.other_u, p.other_m, p.other_a) & op == op:
        return True
    if (obj.uid >= 0 and obj.uid == req.uid
            and _perm_rights(p.owner_u, p.owner_m, p.owner_a) & op == op):
        return True
    return (obj.gid >= 0 and obj.gid in req.group_ids
            and _perm_rights(p.group_u, p.group_m, p.group_a) & op == op)


def _as_index(rules: AclIndex | Iterable[AclRule], zone_id: int) -> AclIndex:
    return rules if isinstance(rules, AclIndex) else AclIndex(rules, zone_id)


def authorize(req: Requester, op: int, obj: ObjectAuth,
              rules: AclIndex | Iterable[AclRule], zone_id: int = 0) -> bool:
    """OpenNebula's verdict for one (requester, operation, object).

    Pass an AclIndex (its own zone applies); a plain rule list is indexed on
    the spot for ``zone_id``, which is fine for one-off checks only.
    """
    op = int(op)
    if op & _NO_LOCK:
        op &= 0x0F
    elif 0 < obj.locked <= op:
        return False
    if req.uid == ONEADMIN_ID or ONEADMIN_GROUP_ID in req.group_ids:
        return True
    if permission_bits_allow(req, op, obj):
        return True
    return _as_index(rules, zone_id).grants(req, op, obj)


def authorize_create(req: Requester, obj_type: int, rules: AclIndex | Iterable[AclRule],
                     zone_id: int = 0, gid: int | None = None) -> bool:
    """May ``req`` create an object of this type (owned by them, in group ``gid``)?

    ``gid`` defaults to the requester's effective group; ``TYPE/@gid CREATE``
    rules match it, as in AuthRequest::add_create_auth.
    """
    obj = ObjectAuth(obj_type, -1, req.uid, req.gid if gid is None else gid)
    return authorize(req, CREATE, obj, rules, zone_id)


def denial_message(req: Requester, op: int, obj: ObjectAuth) -> str:
    """The reason oned gives when ``authorize`` says no."""
    try:
        type_name = ObjectType(int(obj.obj_type)).name
    except ValueError:
        type_name = ""
    if req.is_admin:
        msg = f"{type_name} is locked."
    else:
        msg = f"Not authorized to perform {_OP_NAMES.get(int(op) & 0x0F, '')} {type_name}"
    return msg if obj.oid == -1 else f"{msg} [{obj.oid}]"
