"""one.acl.addrule/delrule/info: the ACL rule set (nubo.core.ops.acls)."""
from __future__ import annotations

from nubo.api.method_table import Int, Str, api
from nubo.auth import acl as A
from nubo.core.ops import acls as ops
from nubo.core.ops.call import Call


@api("one.acl.addrule", Str("user"), Str("resource"), Str("rights"), Str("zone", ""))
def acl_addrule(call: Call, user: str, resource: str, rights: str, zone: str) -> int:
    return ops.add(call, user, resource, rights, zone)


@api("one.acl.delrule", Int("id"))
def acl_delrule(call: Call, oid: int) -> int:
    return ops.delete_rule(call, oid)


@api("one.acl.info")
def acl_info(call: Call) -> str:
    return A.pool_to_xml(ops.rules(call))
