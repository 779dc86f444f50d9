"""The methods every object type has, registered once per type.

info, update, rename, chown, chmod, lock/unlock and pool listings behave the
same for a VM, an image or a template: each is a core operation
(nubo.core.ops.generic); each object module registers them here with the few
things that differ (its pool, ACL type, the operation level).
"""
from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

from nubo.api.methods.listing_wire import wire_pool_xml
from nubo.api.method_table import Bool, Int, Str, api
from nubo.auth import acl as A
from nubo.core.ops import generic as ops
from nubo.core.ops.common import Kind
from nubo.core.ops.call import Call
from nubo.core.ops.listing import listing, order_desc, unowned_where
from nubo.model.limits import Bound

Hook = ops.Hook


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
        body = ops.info(call, kind, oid)
        return body if present is None else present(body)


def register_update(prefix: str, kind: Kind, *, op: int = A.MANAGE, field: str = "template",
                    validate: Hook | None = None,
                    restricted: Callable[[Call, Any], Sequence[str]] | None = None,
                    numbers: Mapping[str, Bound] | None = None) -> None:
    """``one.<prefix>.update``; ``restricted`` gives the attributes a non-admin may not
    change on that object (oned's *_RESTRICTED_ATTR), ``numbers`` their ranges."""
    @api(f"one.{prefix}.update", Int("id"), Str("template"), Int("type", 0))
    def update(call: Call, oid: int, text: str, update_type: int) -> int:
        return ops.update(call, kind, oid, text, update_type, op=op, field=field,
                          validate=validate, restricted=restricted, numbers=numbers)


def register_rename(prefix: str, kind: Kind, *, op: int = A.MANAGE,
                    after: Hook | None = None) -> None:
    @api(f"one.{prefix}.rename", Int("id"), Str("name"))
    def rename(call: Call, oid: int, name: str) -> int:
        return ops.rename(call, kind, oid, name, op=op, after=after)


def register_chown(prefix: str, kind: Kind) -> None:
    @api(f"one.{prefix}.chown", Int("id"), Int("uid"), Int("gid"))
    def chown(call: Call, oid: int, uid: int, gid: int) -> int:
        return ops.chown(call, kind, oid, uid, gid)


#: one.*.chmod on one object (the core operation), for methods that chmod more.

_BITS = ("owner_u", "owner_m", "owner_a", "group_u", "group_m", "group_a",
         "other_u", "other_m", "other_a")


def register_chmod(prefix: str, kind: Kind, *, recursive: bool = False,
                   then: Callable[[Call, int, list[int]], None] | None = None) -> None:
    """``then`` runs after a chmod asked to be recursive (e.g. a template's images)."""
    params = [Int("id"), *[Int(b) for b in _BITS]]
    if recursive:
        @api(f"one.{prefix}.chmod", *params, Bool("recursive", False))
        def chmod_r(call: Call, oid: int, *args: Any) -> int:
            ops.chmod(call, kind, oid, list(args[:9]))
            if args[9] and then is not None:
                then(call, oid, list(args[:9]))
            return oid
    else:
        @api(f"one.{prefix}.chmod", *params)
        def chmod(call: Call, oid: int, *bits: int) -> int:
            return ops.chmod(call, kind, oid, list(bits))


def register_lock(prefix: str, kind: Kind) -> None:
    """Lock/unlock as oned's RequestManagerLock: every refusal is an ACTION error."""
    @api(f"one.{prefix}.lock", Int("id"), Int("level", 4), Bool("test", False))
    def lock(call: Call, oid: int, level: int, test: bool) -> int:
        return ops.lock(call, kind, oid, level, test)

    @api(f"one.{prefix}.unlock", Int("id"))
    def unlock(call: Call, oid: int) -> int:
        return ops.unlock(call, kind, oid)


def register_pool(name: str, kind: Kind, root: str, *, filtered: bool) -> None:
    """``one.<name>.info``: with (filter, start, end) for owned objects, none for the rest."""
    def dump(call: Call, flag: int, start: int, end: int) -> str:
        table = kind.pool(call).table
        if not kind.owned:
            return wire_pool_xml(call, root, table, unowned_where(call, kind),
                                 order_desc=order_desc(call))
        ls = listing(call, table, kind.acl_type, flag, start, end)
        return wire_pool_xml(call, root, table, ls.where, order_desc=ls.desc,
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
           "register_chmod", "register_lock", "register_pool", "register_standard"]
