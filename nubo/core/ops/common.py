"""What every object's methods share: look-up with authorisation, names, update, chown, chmod.

Each step has one home here, so ``one.vm.rename`` and ``one.image.rename``
check names, authorise and commit the same way.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable

from sqlalchemy import Connection

from nubo.core.ops.call import Call
from nubo.auth import acl as A
from nubo.auth.authorize import ObjectAuth
from nubo.auth.authorize import authorize as acl_authorize
from nubo.auth.authorize import authorize_create as acl_authorize_create
from nubo.errors import (ActionError, AllocateError, ApiError, AuthorizationError, LockedError,
                         NoExistsError)
from nubo.model.permissions import Permissions, apply_umask
from nubo.store.pools import Pool
from nubo.template import Template, apply_update, parse_str_or_xml

OP_NAMES = {A.USE: "USE", A.MANAGE: "MANAGE", A.ADMIN: "ADMIN", A.CREATE: "CREATE"}

_INVALID_NAME = re.compile(r"[&|:\\\";/'#{}$<>\x00-\x1f\x7f]")


@dataclass(frozen=True)
class Kind:
    """An object type as the API sees it: its pool, ACL type and names."""

    pool: Callable[[Call], Pool[Any]]
    acl_type: int
    acl_name: str  # as in "Not authorized to perform USE VM [3]"
    owned: bool = True  # has UID/GID/PERMISSIONS
    unique_per_owner: bool = True  # names unique per owner (else globally, or not at all)
    unique_names: bool = True  # False: names may repeat (VMs)
    auth: Callable[[Any], ObjectAuth] | None = None  # for objects without PERMISSIONS


def object_auth(kind: Kind, obj: Any) -> ObjectAuth:
    if kind.auth is not None:
        return kind.auth(obj)
    if kind.owned:
        return ObjectAuth(kind.acl_type, obj.id, obj.uid, obj.gid, obj.permissions,
                          frozenset(getattr(obj, "clusters", None) or ()))
    cluster = getattr(obj, "cluster_id", None)
    return ObjectAuth(kind.acl_type, obj.id, -1, -1, Permissions(),
                      frozenset() if cluster is None else frozenset({cluster}))


def authorize(call: Call, op: int, target: ObjectAuth, acl_name: str) -> None:
    """Raise OpenNebula's AUTHORIZATION error unless the requester may do op on target."""
    if call.session.is_admin:
        return
    if not acl_authorize(call.session.requester, op, target, call.cloud.acl_index()):
        oid = f" [{target.oid}]" if target.oid >= 0 else ""
        raise AuthorizationError(
            f"User [{call.uid}] : Not authorized to perform {OP_NAMES[op]} {acl_name}{oid}.")


def authorize_create(call: Call, kind: Kind) -> None:
    if call.session.is_admin:
        return
    if not acl_authorize_create(call.session.requester, kind.acl_type, call.cloud.acl_index()):
        raise AuthorizationError(
            f"User [{call.uid}] : Not authorized to perform CREATE {kind.acl_name}.")


def fetch(call: Call, conn: Connection, kind: Kind, oid: int, op: int) -> Any:
    """Load an object and check the requester may perform op on it."""
    obj = kind.pool(call).get(conn, oid)
    authorize(call, op, object_auth(kind, obj), kind.acl_name)
    return obj


def new_permissions(call: Call, uid: int, gid: int) -> Permissions:
    """Permissions of an object being created, from the configured umask."""
    return apply_umask(call.cloud.config.default_umask, uid, gid)


def check_name(name: str, what: str = "NAME") -> str:
    """OpenNebula's name rules: not empty, at most 128 chars, no shell/XML metacharacters."""
    if not name or not name.strip():
        raise ApiError(f"Invalid {what}, it cannot be empty")
    if len(name) > 128:
        raise ApiError(f"Invalid {what}, max length is 128 chars")
    bad = _INVALID_NAME.search(name)
    if bad:
        raise ApiError(f"Invalid {what}, it cannot contain the character {bad.group()!r}")
    return name


def ensure_name_free(call: Call, conn: Connection, kind: Kind, name: str, uid: int,
                     oid: int = -1) -> None:
    if not kind.unique_names:
        return
    pool = kind.pool(call)
    other = pool.oid_by_name(conn, name, uid if kind.unique_per_owner else None)
    if other is not None and other != oid:
        raise AllocateError(f"NAME is already taken by {pool.tag} {other}.", other)


def parse_template(text: str) -> Template:
    return parse_str_or_xml(text)


def updated_template(current: Template, text: str, update_type: int) -> Template:
    """one.*.update: type 0 replaces the template, type 1 merges into it."""
    if update_type not in (0, 1):
        raise ApiError(f"Wrong update type {update_type}: use 0 (replace) or 1 (merge)")
    return apply_update(current, parse_template(text), update_type)


def check_lock(obj: Any, op: int) -> None:
    """A lock at level L blocks operations of level >= L (1 use, 2 manage, 3 admin)."""
    lock = getattr(obj, "lock", None)
    if lock is None:
        return
    level = {A.USE: 1, A.MANAGE: 2, A.ADMIN: 3, A.CREATE: 3}[op]
    if lock.locked and (lock.locked == 4 or level >= lock.locked):
        raise LockedError(f"The resource {type(obj).__name__} is locked. [{obj.id}].", obj.id)


def not_found(noun: str, oid: int) -> NoExistsError:
    return NoExistsError(f"Error getting {noun} [{oid}].", oid)


def refuse(message: str, oid: int = -1) -> ActionError:
    return ActionError(message, oid)
