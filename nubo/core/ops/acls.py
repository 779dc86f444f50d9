"""The ACL rule set: adding and deleting rules, for the oneadmin group only."""
from __future__ import annotations

from sqlalchemy import Connection, delete, insert, select

from nubo.auth import acl as A
from nubo.auth.acl import AclRule
from nubo.core.ops.call import Call
from nubo.errors import AuthorizationError, InternalError
from nubo.store import schema

_NEXT = "acl"


def add_rule(conn: Connection, user: int, resource: int, rights: int, zone: int) -> int:
    """Insert a rule unless an identical one exists, in the caller's transaction (a new
    group's rules, the bootstrap's); returns its id.

    A duplicate fails as oned's AclManager::add_rule does: an INTERNAL error
    "Rule <text> already exists".
    """
    t = schema.acl
    same = conn.execute(select(t.c.oid).where(t.c.user == user, t.c.resource == resource,
                                              t.c.rights == rights, t.c.zone == zone)).scalar()
    if same is not None:
        rule = A.AclRule(-1, user, resource, rights, zone)
        raise InternalError(f"Rule {rule.to_string()} already exists")
    pc = schema.pool_control
    last = conn.execute(select(pc.c.last_oid).where(pc.c.tablename == _NEXT)).scalar()
    oid = 0 if last is None else last + 1
    if last is None:
        conn.execute(insert(pc).values(tablename=_NEXT, last_oid=oid))
    else:
        conn.execute(pc.update().where(pc.c.tablename == _NEXT).values(last_oid=oid))
    conn.execute(insert(t).values(oid=oid, user=user, resource=resource, rights=rights, zone=zone))
    return oid


def delete_rules_of(conn: Connection, user: int) -> None:
    """Every rule granted to ``user`` (a deleted group's), in the caller's transaction."""
    conn.execute(delete(schema.acl).where(schema.acl.c.user == user))


def require_admin(call: Call) -> None:
    # Only the oneadmin group manages ACLs, as in OpenNebula's default rule set.
    if not call.session.is_admin:
        raise AuthorizationError(f"User [{call.uid}] : Not authorized to perform MANAGE ACL.")


def add(call: Call, user: str, resource: str, rights: str, zone: str) -> int:
    """A rule from its hexadecimal (or string) components; returns its id."""
    require_admin(call)
    key = A.parse_hex_components(user, resource, rights, zone or None)
    with call.cloud.db.write() as conn:
        return add_rule(conn, *key)


def delete_rule(call: Call, oid: int) -> int:
    require_admin(call)
    with call.cloud.db.write() as conn:
        gone = conn.execute(delete(schema.acl).where(schema.acl.c.oid == oid)).rowcount
        if not gone:
            raise A.missing_rule_error(oid)  # INTERNAL, as oned's AclManager::del_rule
    return oid


def rules(call: Call) -> tuple[AclRule, ...]:
    """The rule set, for the oneadmin group."""
    require_admin(call)
    return call.cloud.acl_index().rules
