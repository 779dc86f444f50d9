"""Security group operations (one.secgroup.*): groups of firewall rules for VM NICs.

The rules and their checks are nubo.model.secgroup's; here they are authorised (CREATE
SECGROUP to allocate or clone, USE on the source of a clone, MANAGE to change or delete)
and stored. Group 0 "default" is made with the cloud (create_default). A group used by
a virtual network (its SECURITY_GROUPS) or by a VM cannot be deleted. Changed rules are
pushed to the group's VMs after the commit (nubo.core.secgroup_updates).
"""
from __future__ import annotations

import re

from sqlalchemy import Connection, delete, insert

from nubo.auth import acl as A
from nubo.auth.acl import ObjectType
from nubo.core import secgroup_updates
from nubo.core.ops.call import Call
from nubo.core.ops.clusters import drop_acl_rules
from nubo.core.pool_set import Pools
from nubo.core.ops.common import (Kind, authorize_create, check_name, fetch, new_permissions,
                                  refuse)
from nubo.errors import InternalError
from nubo.model import secgroup as rules
from nubo.model.permissions import Permissions
from nubo.model.secgroup import SecGroupError, SecurityGroup
from nubo.store import secgroup_vms
from nubo.store import schema
from nubo.template import Template, parse

#: Ids below this are kept for system groups (oned's SecurityGroupPool).
FIRST_USER_ID = 100

SECGROUP = Kind(lambda c: c.cloud.pools.secgroups, ObjectType.SECGROUP, "SECGROUP")

_VNET_GROUPS = re.compile(r"<SECURITY_GROUPS><!\[CDATA\[([^\]]*)\]\]></SECURITY_GROUPS>|"
                          r"<SECURITY_GROUPS>([^<]*)</SECURITY_GROUPS>")


def create_default(conn: Connection, pools: Pools, uname: str = "oneadmin",
                   gname: str = "oneadmin") -> None:
    """Group 0 "default" (every protocol in and out), owned by oneadmin, USE for all;
    ids below 100 are kept for system groups, as oned's SecurityGroupPool does."""
    name, body = rules.build(parse(rules.DEFAULT_TEMPLATE))
    pools.secgroups.insert(conn, SecurityGroup(
        rules.DEFAULT_ID, 0, 0, uname, gname, name,
        Permissions.from_octal(rules.DEFAULT_PERMISSIONS), template=body))
    control = schema.pool_control
    conn.execute(delete(control).where(control.c.tablename == schema.secgroup_pool.name))
    conn.execute(insert(control).values(tablename=schema.secgroup_pool.name,
                                        last_oid=FIRST_USER_ID - 1))


def _insert(call: Call, conn: Connection, template: Template) -> int:
    try:
        name, body = rules.build(template)
    except SecGroupError as e:
        raise InternalError(str(e)) from None
    check_name(name)
    pool = call.cloud.pools.secgroups
    session = call.session
    authorize_create(call, SECGROUP)
    taken = pool.oid_by_name(conn, name, session.uid)
    if taken is not None:
        raise InternalError(f"NAME is already taken by SecurityGroup {taken}.", taken)
    group = SecurityGroup(pool.next_oid(conn), session.uid, session.gid, session.uname,
                          session.gname, name, new_permissions(call, session.uid, session.gid),
                          template=body)
    pool.insert(conn, group)
    return group.id


def allocate_secgroup(call: Call, template: Template) -> int:
    """A new group of the caller's, with the rules its template gives."""
    with call.cloud.db.write() as conn:
        return _insert(call, conn, template)


def clone_secgroup(call: Call, oid: int, name: str) -> int:
    """A copy of group ``oid`` (USE on it) named ``name``, owned by the caller."""
    with call.cloud.db.write() as conn:
        source = fetch(call, conn, SECGROUP, oid, A.USE)
        template = source.template.copy()
        template.set("NAME", name)
        return _insert(call, conn, template)


def networks_using(conn: Connection, pools: Pools, oid: int) -> list[int]:
    """The virtual networks whose SECURITY_GROUPS name the group."""
    table = pools.vnets.table
    rows = pools.vnets.select_rows(conn, table.c.body.like("%<SECURITY_GROUPS>%"),
                                   columns=[table.c.oid, table.c.body])
    out = []
    for vnet_id, body in rows:
        for match in _VNET_GROUPS.finditer(body):
            text = match.group(1) if match.group(1) is not None else match.group(2)
            if str(oid) in (p.strip() for p in text.split(",")):
                out.append(vnet_id)
    return out


def delete_secgroup(call: Call, oid: int) -> None:
    """Refused for group 0 and for a group a network or a VM uses."""
    pools = call.cloud.pools
    with call.cloud.db.write() as conn:
        group = fetch(call, conn, SECGROUP, oid, A.MANAGE)
        if oid == rules.DEFAULT_ID:
            raise refuse("The default security group (ID 0) cannot be deleted.", oid)
        vnets = networks_using(conn, pools, oid)
        if vnets:
            raise refuse(f"Cannot delete security group {oid}: virtual network(s) "
                         f"{', '.join(map(str, vnets))} use it (SECURITY_GROUPS)", oid)
        vms = sorted(v for ids in secgroup_vms.members(conn, oid).values() for v in ids)
        if vms:
            raise refuse(f"Cannot delete security group {oid}: VM(s) "
                         f"{', '.join(map(str, vms))} use it", oid)
        pools.secgroups.delete(conn, oid)
        drop_acl_rules(call, conn, ObjectType.SECGROUP, oid)


def check_update(call: Call, group: SecurityGroup, new: Template) -> None:
    """one.secgroup.update: every RULE valid (oned's post_update_template); duplicates go."""
    try:
        checked = rules.checked_rules(new)
    except SecGroupError as e:
        raise InternalError(str(e), group.id) from None
    new.remove("RULE")
    for rule in checked.get_vectors("RULE"):
        new.add(rule)


def after_update(call: Call, oid: int) -> None:
    """The group's VMs get the new rules (after the update's commit)."""
    secgroup_updates.push(call.cloud, oid)


def commit_secgroup(call: Call, oid: int, recover: bool) -> int:
    """one.secgroup.commit: push the rules to the group's VMs again; ``recover``: only to
    those not UPDATED (OUTDATED, UPDATING, ERROR)."""
    with call.cloud.db.read() as conn:
        fetch(call, conn, SECGROUP, oid, A.MANAGE)
    secgroup_updates.push(call.cloud, oid, only_pending=recover)
    return oid


__all__ = ["SECGROUP", "allocate_secgroup", "clone_secgroup", "delete_secgroup",
           "commit_secgroup", "check_update", "after_update", "create_default",
           "networks_using"]
