"""one.host.* and one.hostpool.*: the hypervisors VMs run on.

Each handler binds its wire arguments and calls the host operation of the core
(nubo.core.ops.hosts), where the rules live.
"""
from __future__ import annotations

from nubo.api.methods.generic import (register_info, register_pool, register_rename,
                                      register_update)
from nubo.api.method_table import Int, Str, api
from nubo.auth import acl as A
from nubo.core.ops import hosts as ops
from nubo.core.ops.clusters import HOST
from nubo.core.ops.call import Call
from nubo.model.infra import Host
from nubo.model.limits import HOST_NUMBERS
from nubo.template import Template


@api("one.host.allocate", Str("hostname"), Str("im_mad"), Str("vmm_mad"),
     Int("cluster_id", -1))
def host_allocate(call: Call, name: str, im_mad: str, vmm_mad: str, cluster_id: int) -> int:
    return ops.allocate_host(call, name, im_mad, vmm_mad, cluster_id)


@api("one.host.delete", Int("id"))
def host_delete(call: Call, hid: int) -> int:
    return ops.delete_host(call, hid)


@api("one.host.status", Int("id"), Int("status"))
def host_status(call: Call, hid: int, status: int) -> int:
    """Enable (0), disable (1) or set offline (2)."""
    return ops.set_host_status(call, hid, status)


def _post_update(_call: Call, host: Host, template: Template) -> None:
    ops.drivers_from_template(host, template)


register_info("host", HOST)
register_update("host", HOST, op=A.ADMIN, validate=_post_update, numbers=HOST_NUMBERS)
register_rename("host", HOST, op=A.ADMIN)
register_pool("hostpool", HOST, "HOST_POOL", filtered=False)
