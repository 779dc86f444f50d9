"""The object families the CLI knows: their API prefix, pool call and XML element."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Kind:
    """How one object family is reached through the API.

    ``prefix`` is the API's (``one.vn.info`` for virtual networks), ``tag`` the
    element of one object in its pool listing, ``pool_args`` what the pool call
    takes to list everything the user may see.
    """

    prefix: str
    tag: str
    label: str
    pool_args: tuple[int, ...] = (-2, -1, -1)
    pool_method: str = ""

    @property
    def pool(self) -> str:
        return self.pool_method or f"one.{self.prefix}pool.info"

    def method(self, verb: str) -> str:
        return f"one.{self.prefix}.{verb}"


VM = Kind("vm", "VM", "VM", (-2, -1, -1, -1))
HOST = Kind("host", "HOST", "host", ())
CLUSTER = Kind("cluster", "CLUSTER", "cluster", ())
DATASTORE = Kind("datastore", "DATASTORE", "datastore", ())
IMAGE = Kind("image", "IMAGE", "image")
VNET = Kind("vn", "VNET", "virtual network")
TEMPLATE = Kind("template", "VMTEMPLATE", "template")
USER = Kind("user", "USER", "user", ())
GROUP = Kind("group", "GROUP", "group", ())
ACL = Kind("acl", "ACL", "ACL rule", (), "one.acl.info")
HOOK = Kind("hook", "HOOK", "hook")
VMGROUP = Kind("vmgroup", "VM_GROUP", "VM group")
VNTEMPLATE = Kind("vntemplate", "VNTEMPLATE", "virtual network template")
SECGROUP = Kind("secgroup", "SECURITY_GROUP", "security group")
