"""The operations every object kind shares: info, update, rename, chown, chmod, lock, unlock.

They behave the same for a VM, an image or a template; a kind passes the few things that
differ (its pool, ACL type, the operation level, a check of its own). Each follows the
operation's shape: authorise, check against the current state, apply in one transaction.
"""
from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

from nubo.auth import acl as A
from nubo.auth.acl import ObjectType
from nubo.auth.authorize import ObjectAuth
from nubo.auth.restricted import first_restricted
from nubo.core.ops.common import (Kind, authorize, check_lock, check_name, ensure_name_free,
                                  fetch, object_auth, updated_template)
from nubo.core.ops.call import Call
from nubo.errors import ActionError, AllocateError, ApiError, InternalError
from nubo.model.parts import Lock
from nubo.model.limits import Bound, check_numbers
from nubo.model.permissions import Permissions

#: A kind's own check or effect, given the call, the object and the new value.
Hook = Callable[[Call, Any, Any], None]
#: The attributes a non-admin may not change on an object (oned's *_RESTRICTED_ATTR).
Restricted = Callable[[Call, Any], Sequence[str]]

# one.*.lock levels as oned stores them: 4 ("all") is kept as 1 (use), which locks everything.
LOCK_LEVELS = {1: 1, 2: 2, 3: 3, 4: 1}


def info(call: Call, kind: Kind, oid: int) -> str:
    """The object's stored body, once the requester may USE it."""
    with call.cloud.db.read() as conn:
        body = kind.pool(call).body(conn, oid)
        if not call.session.is_admin:
            fetch(call, conn, kind, oid, A.USE)
    return body


def update(call: Call, kind: Kind, oid: int, text: str, update_type: int, *,
           op: int = A.MANAGE, field: str = "template", validate: Hook | None = None,
           restricted: Restricted | None = None,
           numbers: Mapping[str, Bound] | None = None) -> int:
    """Replace (type 0) or merge into (type 1) the object's template ``field``."""
    with call.cloud.db.write() as conn:
        obj = fetch(call, conn, kind, oid, op)
        check_lock(obj, op)
        current = getattr(obj, field)
        new = updated_template(current, text, update_type)
        if restricted is not None and not call.session.is_admin:
            name = first_restricted(new, restricted(call, obj), current,
                                    append=update_type == 1)
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


def rename(call: Call, kind: Kind, oid: int, name: str, *, op: int = A.MANAGE,
           after: Hook | None = None) -> int:
    """A new name, free among the owner's (or all) objects of the kind; ``after`` runs in
    the same transaction with (obj, old name), for names copied elsewhere."""
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


def chown(call: Call, kind: Kind, oid: int, uid: int, gid: int) -> int:
    """A new owner and/or group (-1 keeps it): MANAGE on the object and on the new user,
    USE on the new group."""
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


def chmod(call: Call, kind: Kind, oid: int, bits: list[int]) -> int:
    """New permission bits: ADMIN only to change an ADMIN bit, else MANAGE.

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


def lock(call: Call, kind: Kind, oid: int, level: int, test: bool) -> int:
    """Lock as oned's RequestManagerLock: every refusal is an ACTION error."""
    with call.cloud.db.write() as conn:
        obj = fetch(call, conn, kind, oid, A.MANAGE)
        if level not in LOCK_LEVELS:
            raise ActionError("Wrong lock level specified", oid)
        held = obj.lock is not None and obj.lock.locked
        if held and test:
            raise ActionError(str(obj.lock.time), oid)  # oned answers the lock's time
        if held and obj.lock.owner != call.uid and not call.session.is_admin:
            raise ActionError("Error trying to lock the resource.", oid)
        obj.lock = Lock(locked=LOCK_LEVELS[level], owner=call.uid, time=call.cloud.now(),
                        req_id=-1)
        kind.pool(call).update(conn, obj)
    return oid


def unlock(call: Call, kind: Kind, oid: int) -> int:
    """Unlock: only the lock's owner, or an admin."""
    with call.cloud.db.write() as conn:
        obj = fetch(call, conn, kind, oid, A.MANAGE)
        if obj.lock is not None and obj.lock.owner != call.uid and not call.session.is_admin:
            raise ActionError("Cannot unlock: Lock is owned by another user", oid)
        obj.lock = None
        kind.pool(call).update(conn, obj)
    return oid
