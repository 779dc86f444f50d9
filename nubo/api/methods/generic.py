"""The methods every object type has, registered once per type.

info, update, rename, chown, chmod, lock/unlock and pool listings behave the
same for a VM, an image or a template; each object module registers them
with the few things that differ (its pool, ACL type, the operation level).
"""
from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

from nubo.core.ops.common import (Kind, authorize, check_lock, check_name, ensure_name_free,
                                     fetch, object_auth, updated_template)
from nubo.api.methods.filters import listing, wire_pool_xml
from nubo.api.methods.restricted import changed_restricted
from nubo.api.registry import Bool, Int, Str, api
from nubo.core.ops.context import Call
from nubo.auth import acl as A
from nubo.auth.acl import ObjectType
from nubo.auth.authorize import ObjectAuth
from nubo.auth.authorize import authorize as acl_authorize
from nubo.errors import ActionError, AllocateError, ApiError, InternalError
from nubo.model import xmlobj
from nubo.model.common import Lock
from nubo.model.limits import Bound, check_numbers
from nubo.model.permissions import Permissions

Hook = Callable[[Call, Any, Any], None]


def register_info(prefix: str, kind: Kind, *, extended: bool = False,
                  present: Callable[[str], str] | None = None) -> None:
    """``one.<prefix>.info(id, decrypt)``; with extended, ``(id, extended, decrypt)``.

    ``present`` turns the stored body into the one clients see, for objects
    that keep more in storage than their schema lets them show.
    """
    flags = (Bool("extended", False), Bool("decrypt", False)) if extended else (
        Bool("decrypt", False),)

    @api(f"one.{prefix}.info", Int("id"), *flags)
    def info(call: Call, oid: int, *_flags: bool) -> str:
        with call.cloud.db.read() as conn:
            obj_body = kind.pool(call).body(conn, oid)
            if not call.session.is_admin:
                fetch(call, conn, kind, oid, A.USE)
        return obj_body if present is None else present(obj_body)


def register_update(prefix: str, kind: Kind, *, op: int = A.MANAGE, field: str = "template",
                    validate: Hook | None = None,
                    restricted: Callable[[Call, Any], Sequence[str]] | None = None,
                    numbers: Mapping[str, Bound] | None = None) -> None:
    """``one.<prefix>.update``; ``restricted`` gives the attributes a non-admin may not
    change on that object (oned's *_RESTRICTED_ATTR), ``numbers`` their ranges."""
    @api(f"one.{prefix}.update", Int("id"), Str("template"), Int("type", 0))
    def update(call: Call, oid: int, text: str, update_type: int) -> int:
        with call.cloud.db.write() as conn:
            obj = fetch(call, conn, kind, oid, op)
            check_lock(obj, op)
            new = updated_template(getattr(obj, field), text, update_type)
            if restricted is not None:
                name = changed_restricted(call, new, getattr(obj, field),
                                          restricted(call, obj), append=update_type == 1)
                if name:
                    raise InternalError("Cannot update template. Tried to change restricted "
                                        f"attribute: {name}", oid)
            if numbers is not None:
                check_numbers(new, numbers, oid)
            if validate is not None:
                validate(call, obj, new)
            setattr(obj, field, new)
            kind.pool(call).update(conn, obj)
        return oid


def register_rename(prefix: str, kind: Kind, *, op: int = A.MANAGE,
                    after: Hook | None = None) -> None:
    @api(f"one.{prefix}.rename", Int("id"), Str("name"))
    def rename(call: Call, oid: int, name: str) -> int:
        check_name(name)
        with call.cloud.db.write() as conn:
            obj = fetch(call, conn, kind, oid, op)
            check_lock(obj, op)
            try:
                ensure_name_free(call, conn, kind, name, getattr(obj, "uid", -1), oid)
            except AllocateError as taken:
                noun = kind.pool(call).noun
                raise ActionError(f"{noun.capitalize()} cannot be renamed to {name} because it "
                                  f"collides with {noun} {taken.object_id}", oid) from None
            old = obj.name
            obj.name = name
            kind.pool(call).update(conn, obj)
            if after is not None:
                after(call, conn, (obj, old))
        return oid


def register_chown(prefix: str, kind: Kind) -> None:
    @api(f"one.{prefix}.chown", Int("id"), Int("uid"), Int("gid"))
    def chown(call: Call, oid: int, uid: int, gid: int) -> int:
        pools = call.cloud.pools
        with call.cloud.db.write() as conn:
            obj = fetch(call, conn, kind, oid, A.MANAGE)
            check_lock(obj, A.MANAGE)
            if uid >= 0 and uid != obj.uid:
                user = pools.users.get(conn, uid)
                authorize(call, A.MANAGE, ObjectAuth(ObjectType.USER, uid, uid, user.gid,
                                                     Permissions.from_octal("600")), "USER")
                if kind.unique_per_owner:
                    ensure_name_free(call, conn, kind, obj.name, uid, oid)
                obj.uid, obj.uname = uid, user.name
            elif uid < -1:
                raise ApiError(f"Wrong user id {uid}")
            if gid >= 0 and gid != obj.gid:
                group = pools.groups.get(conn, gid)
                authorize(call, A.USE, ObjectAuth(ObjectType.GROUP, gid, 0, gid,
                                                  Permissions.from_octal("600")), "GROUP")
                obj.gid, obj.gname = gid, group.name
            elif gid < -1:
                raise ApiError(f"Wrong group id {gid}")
            kind.pool(call).update(conn, obj)
        return oid


def chmod_object(call: Call, kind: Kind, oid: int, bits: list[int]) -> int:
    """one.*.chmod on one object: ADMIN only to change an ADMIN bit, else MANAGE.

    As oned, an admin bit sent with its current value (clients send all nine)
    is no change, so an owner may chmod 640 an object whose admin bits are 0.
    """
    with call.cloud.db.write() as conn:
        obj = kind.pool(call).get(conn, oid)
        op = A.ADMIN if obj.permissions.chmod_needs(*bits)[0] else A.MANAGE
        authorize(call, op, object_auth(kind, obj), kind.acl_name)
        check_lock(obj, op)
        obj.permissions = obj.permissions.chmod(*bits)
        kind.pool(call).update(conn, obj)
    return oid


_BITS = ("owner_u", "owner_m", "owner_a", "group_u", "group_m", "group_a",
         "other_u", "other_m", "other_a")


def register_chmod(prefix: str, kind: Kind, *, recursive: bool = False,
                   then: Callable[[Call, int, list[int]], None] | None = None) -> None:
    """``then`` runs after a chmod asked to be recursive (e.g. a template's images)."""
    params = [Int("id"), *[Int(b) for b in _BITS]]
    if recursive:
        @api(f"one.{prefix}.chmod", *params, Bool("recursive", False))
        def chmod_r(call: Call, oid: int, *args: Any) -> int:
            chmod_object(call, kind, oid, list(args[:9]))
            if args[9] and then is not None:
                then(call, oid, list(args[:9]))
            return oid
    else:
        @api(f"one.{prefix}.chmod", *params)
        def chmod(call: Call, oid: int, *bits: int) -> int:
            return chmod_object(call, kind, oid, list(bits))


# one.*.lock levels as oned stores them: 4 ("all") is kept as 1 (use), which locks everything.
_LOCK_LEVELS = {1: 1, 2: 2, 3: 3, 4: 1}


def register_lock(prefix: str, kind: Kind) -> None:
    """Lock/unlock as oned's RequestManagerLock: every refusal is an ACTION error."""
    @api(f"one.{prefix}.lock", Int("id"), Int("level", 4), Bool("test", False))
    def lock(call: Call, oid: int, level: int, test: bool) -> int:
        with call.cloud.db.write() as conn:
            obj = fetch(call, conn, kind, oid, A.MANAGE)
            if level not in _LOCK_LEVELS:
                raise ActionError("Wrong lock level specified", oid)
            held = obj.lock is not None and obj.lock.locked
            if held and test:
                raise ActionError(str(obj.lock.time), oid)  # oned answers the lock's time
            if held and obj.lock.owner != call.uid and not call.session.is_admin:
                raise ActionError("Error trying to lock the resource.", oid)
            obj.lock = Lock(locked=_LOCK_LEVELS[level], owner=call.uid, time=call.cloud.now(),
                            req_id=-1)
            kind.pool(call).update(conn, obj)
        return oid

    @api(f"one.{prefix}.unlock", Int("id"))
    def unlock(call: Call, oid: int) -> int:
        with call.cloud.db.write() as conn:
            obj = fetch(call, conn, kind, oid, A.MANAGE)
            if obj.lock is not None and obj.lock.owner != call.uid and not call.session.is_admin:
                raise ActionError("Cannot unlock: Lock is owned by another user", oid)
            obj.lock = None
            kind.pool(call).update(conn, obj)
        return oid


def usable_ids(call: Call, kind: Kind) -> list[int] | None:
    """The objects of an unowned type (hosts, clusters) the requester may USE.

    None means all of them: oneadmin's group or a ``TYPE/*`` rule, with no
    per-row work. Otherwise rules naming single objects or clusters decide,
    checked object by object as one.<type>.info does.
    """
    if call.session.is_admin or call.cloud.acl_index().reverse_search(
            call.session.requester, kind.acl_type, A.USE).all:
        return None
    pool = kind.pool(call)
    with call.cloud.db.read() as conn:
        objs = [xmlobj.parse(pool.cls, body) for body in pool.bodies(conn, None)]
    rules, req = call.cloud.acl_index(), call.session.requester
    return [o.id for o in objs if acl_authorize(req, A.USE, object_auth(kind, o), rules)]


def register_pool(name: str, kind: Kind, root: str, *, filtered: bool) -> None:
    """``one.<name>.info``: with (filter, start, end) for owned objects, none for the rest."""
    def dump(call: Call, flag: int, start: int, end: int) -> str:
        pool = kind.pool(call)
        if not kind.owned:
            desc = call.cloud.config.api_list_order.upper() == "DESC"
            ids = usable_ids(call, kind)
            where = None if ids is None else pool.table.c.oid.in_(ids)
            return wire_pool_xml(call, root, pool.table, where, order_desc=desc)
        ls = listing(call, pool.table, kind.acl_type, flag, start, end)
        return wire_pool_xml(call, root, pool.table, ls.where, order_desc=ls.desc,
                             offset=ls.offset, limit=ls.limit)

    if filtered:
        @api(f"one.{name}.info", Int("filter", -2), Int("start", -1), Int("end", -1))
        def pool_info(call: Call, flag: int, start: int, end: int) -> str:
            return dump(call, flag, start, end)
    else:
        @api(f"one.{name}.info")
        def pool_info_all(call: Call) -> str:
            return dump(call, -2, -1, -1)


def register_standard(prefix: str, kind: Kind, *, pool_root: str, lockable: bool = True,
                      chmod_recursive: bool = False,
                      restricted: Callable[[Call, Any], Sequence[str]] | None = None,
                      numbers: Mapping[str, Bound] | None = None) -> None:
    """info, update, rename, chown, chmod, lock/unlock and the pool of an owned object type."""
    register_info(prefix, kind)
    register_update(prefix, kind, restricted=restricted, numbers=numbers)
    register_rename(prefix, kind)
    register_chown(prefix, kind)
    register_chmod(prefix, kind, recursive=chmod_recursive)
    if lockable:
        register_lock(prefix, kind)
    register_pool(f"{prefix}pool", kind, pool_root, filtered=True)


__all__ = ["register_info", "register_update", "register_rename", "register_chown",
           "register_chmod", "chmod_object", "register_lock", "register_pool", "register_standard",
           "object_auth", "usable_ids"]
