"""Users: accounts, passwords, authentication drivers, login tokens, group membership.

Users and groups own no objects' permissions of their own: a user is USEd and MANAGEd
by itself, a group USEd by its members; both kinds are defined here, where a user's
groups are changed (nubo.core.ops.groups creates and deletes groups).
"""
from __future__ import annotations

from sqlalchemy import Connection, delete, insert, select

from nubo.auth import acl as A
from nubo.auth import passwords
from nubo.auth.acl import ObjectType
from nubo.auth.authorize import ObjectAuth
from nubo.core.ops.common import Kind, authorize, authorize_create, check_name
from nubo.core.ops.call import Call
from nubo.errors import ActionError, AllocateError, ApiError
from nubo.model.permissions import Permissions
from nubo.model.user import Group, LoginToken, User
from nubo.store import schema

_SELF = Permissions()  # a user owns itself: use and manage


def user_auth(user: User) -> ObjectAuth:
    return ObjectAuth(ObjectType.USER, user.id, user.id, user.gid, _SELF)


def group_auth(group: Group) -> ObjectAuth:
    # Members may see their group.
    return ObjectAuth(ObjectType.GROUP, group.id, -1, group.id, Permissions(0, 0, 0, 1, 0, 0, 0, 0, 0))


USER = Kind(lambda c: c.cloud.pools.users, ObjectType.USER, "USER", owned=False,
            unique_per_owner=False, auth=user_auth)
GROUP = Kind(lambda c: c.cloud.pools.groups, ObjectType.GROUP, "GROUP", owned=False,
             unique_per_owner=False, auth=group_auth)


def get_user(call: Call, conn: Connection, uid: int, op: int) -> User:
    user = call.cloud.pools.users.get(conn, uid)
    authorize(call, op, user_auth(user), "USER")
    return user


def get_group(call: Call, conn: Connection, gid: int, op: int) -> Group:
    group = call.cloud.pools.groups.get(conn, gid)
    authorize(call, op, group_auth(group), "GROUP")
    return group


def _check_password(password: str) -> None:
    if not password:
        raise ApiError("Invalid password, it cannot be empty")
    if any(c.isspace() for c in password):
        raise ApiError("Invalid password, it cannot contain spaces")


def _store_password(call: Call, conn: Connection, user: User, password: str) -> None:
    call.cloud.credentials.invalidate_user(user.name)
    # The version moves too: sessions authenticated with the old password are dropped.
    conn.execute(schema.user_pool.update().where(schema.user_pool.c.oid == user.id)
                 .values(password_hash=passwords.hash_password(password),
                         version=schema.user_pool.c.version + 1))


def create_user(call: Call, conn: Connection, name: str, password: str, driver: str,
                gids: list[int]) -> User:
    """Insert a user and add it to its groups, in the caller's transaction (the
    bootstrap creates oneadmin with it)."""
    pools = call.cloud.pools
    check_name(name)
    if pools.users.oid_by_name(conn, name) is not None:
        raise AllocateError("Error allocating a new user. NAME is already taken by USER "
                            f"{pools.users.oid_by_name(conn, name)}.")
    groups = [pools.groups.get(conn, g) for g in gids]
    user = User(id=pools.users.next_oid(conn), gid=groups[0].id,
                groups=sorted({g.id for g in groups}), gname=groups[0].name, name=name,
                password="", auth_driver=driver or "core", enabled=1)
    pools.users.insert(conn, user)
    conn.execute(schema.user_pool.update().where(schema.user_pool.c.oid == user.id)
                 .values(password_hash=passwords.hash_password(password) if password else ""))
    for g in groups:
        if user.id not in g.users:
            g.users = sorted({*g.users, user.id})
            pools.groups.update(conn, g)
    return user


def allocate_user(call: Call, name: str, password: str, driver: str, gids: list[int]) -> int:
    """A new user in ``gids`` (the first its primary group; none: "users")."""
    if not all(isinstance(g, int) and not isinstance(g, bool) for g in gids):
        raise ApiError("group_ids must be an array of integers")
    if (driver or "core") == "core":
        _check_password(password)
    with call.cloud.db.write() as conn:
        authorize_create(call, USER)
        gids = list(gids) or [1]
        for g in gids:
            get_group(call, conn, g, A.MANAGE)
        return create_user(call, conn, name, password, driver, gids).id


def delete_user(call: Call, uid: int) -> int:
    """Drop a user (never oneadmin), its group memberships and its login tokens."""
    pools = call.cloud.pools
    with call.cloud.db.write() as conn:
        user = get_user(call, conn, uid, A.ADMIN)
        if uid == 0:
            raise ActionError("Cannot delete oneadmin", uid)
        for gid in user.groups:
            g = pools.groups.find(conn, gid)
            if g is not None:
                g.users = [u for u in g.users if u != uid]
                g.admins = [u for u in g.admins if u != uid]
                pools.groups.update(conn, g)
        conn.execute(delete(schema.user_token).where(schema.user_token.c.uid == uid))
        pools.users.delete(conn, uid)
    call.cloud.credentials.invalidate_user(user.name)
    return uid


def set_password(call: Call, uid: int, password: str) -> int:
    _check_password(password)
    with call.cloud.db.write() as conn:
        user = get_user(call, conn, uid, A.MANAGE)
        _store_password(call, conn, user, password)
    return uid


def change_auth(call: Call, uid: int, driver: str, password: str) -> int:
    """A new authentication driver, and with a password, a new password."""
    if not driver:
        raise ApiError("Invalid auth driver, it cannot be empty")
    with call.cloud.db.write() as conn:
        user = get_user(call, conn, uid, A.ADMIN)
        user.auth_driver = driver
        call.cloud.pools.users.update(conn, user)
        if password:
            _check_password(password)
            _store_password(call, conn, user, password)
    return uid


def enable_user(call: Call, uid: int, enable: bool) -> int:
    with call.cloud.db.write() as conn:
        user = get_user(call, conn, uid, A.ADMIN)
        user.enabled = int(enable)
        call.cloud.pools.users.update(conn, user)
    call.cloud.credentials.invalidate_user(user.name)
    return uid


def login(call: Call, username: str, token: str, valid: int, egid: int) -> str:
    """Create (or, with valid 0, revoke) a login token; -1 never expires."""
    pools = call.cloud.pools
    with call.cloud.db.write() as conn:
        uid = pools.users.oid_by_name(conn, username)
        if uid is None:
            raise ApiError(f"Error getting user {username}")
        user = get_user(call, conn, uid, A.MANAGE)
        t = schema.user_token
        if valid == 0:
            q = delete(t).where(t.c.uid == uid)
            if token:
                q = q.where(t.c.digest == passwords.token_digest(token))
            conn.execute(q)
            _refresh_tokens(call, conn, user)
            return token
        if egid != -1 and egid not in user.groups:
            raise ApiError(f"EGID {egid} is not one of the user's groups")
        token = token or passwords.new_token()
        expiration = -1 if valid < 0 else call.cloud.now() + valid
        digest = passwords.token_digest(token)
        conn.execute(delete(t).where(t.c.digest == digest))
        conn.execute(insert(t).values(digest=digest, uid=uid, expiration=expiration, egid=egid))
        _refresh_tokens(call, conn, user)
    return token


def _refresh_tokens(call: Call, conn: Connection, user: User) -> None:
    """Show the live tokens (as digests) in the user's body, dropping expired ones."""
    t = schema.user_token
    now = call.cloud.now()
    conn.execute(delete(t).where(t.c.uid == user.id, t.c.expiration >= 0, t.c.expiration <= now))
    rows = conn.execute(select(t).where(t.c.uid == user.id).order_by(t.c.expiration)).all()
    user.login_tokens = [LoginToken(r.digest, r.expiration, r.egid) for r in rows]
    call.cloud.pools.users.update(conn, user)


def change_groups(call: Call, uid: int, gid: int, mode: str) -> int:
    """``chgrp`` (a new primary group), ``add`` or ``del`` (a secondary group)."""
    pools = call.cloud.pools
    with call.cloud.db.write() as conn:
        user = get_user(call, conn, uid, A.MANAGE)
        group = get_group(call, conn, gid, A.MANAGE)
        if mode == "del":
            if gid == user.gid:
                raise ActionError("Cannot remove user from primary group", uid)
            if gid not in user.groups:
                raise ActionError(f"User is not part of group {gid}", uid)
            user.groups = [g for g in user.groups if g != gid]
            group.users = [u for u in group.users if u != uid]
            group.admins = [u for u in group.admins if u != uid]
        else:
            was_member = gid in user.groups
            if mode == "add" and was_member:
                raise ActionError(f"User is already in group {gid}", uid)
            user.groups = sorted({*user.groups, gid})
            group.users = sorted({*group.users, uid})
            if mode == "chgrp":
                old = user.gid
                user.gid, user.gname = gid, group.name
                # As oned: the old primary group is left only when the new one was not
                # already a secondary group (goca's user test does addgroup, chgrp, then
                # delgroup of the old group).
                if old != gid and not was_member:
                    user.groups = sorted({*[g for g in user.groups if g != old], gid})
                    og = pools.groups.find(conn, old)
                    if og is not None:
                        og.users = [u for u in og.users if u != uid]
                        pools.groups.update(conn, og)
        pools.users.update(conn, user)
        pools.groups.update(conn, group)
    call.cloud.credentials.invalidate_user(user.name)
    return uid


def user_body(call: Call, uid: int) -> str:
    """The stored body of a user (-1: the requester), once the requester may USE it."""
    uid = call.uid if uid == -1 else uid
    with call.cloud.db.read() as conn:
        get_user(call, conn, uid, A.USE)
        return call.cloud.pools.users.body(conn, uid)


def group_body(call: Call, gid: int) -> str:
    """The stored body of a group (-1: the requester's), once the requester may USE it."""
    gid = call.session.gid if gid == -1 else gid
    with call.cloud.db.read() as conn:
        get_group(call, conn, gid, A.USE)
        return call.cloud.pools.groups.body(conn, gid)
