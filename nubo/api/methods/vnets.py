"""one.vn.* and one.vnpool.info: bind the wire arguments, call ``nubo.core.ops.vnets``,
shape the reply.

A network's leases are kept in their own table, not in its body: its XML (one.vn.info,
and its one.vnpool.info entry) is rendered from the stored body and its leases, and the
listing cache keeps what was rendered while the network's row version stands.
"""
from __future__ import annotations

from nubo.core.ops.listing import listing
from nubo.api.methods.generic import (register_chmod, register_chown, register_lock,
                                      register_rename)
from nubo.api.method_table import Bool, Int, Str, api
from nubo.api.methods.listing_wire import wire_object_xml, wire_pool_xml
from nubo.core.ops import vnet_states, vnets as ops
from nubo.core.ops.clusters import VNET
from nubo.core.ops.generic import info
from nubo.core.ops.call import Call
from nubo.template import parse_str_or_xml


@api("one.vn.allocate", Str("template"), Int("cluster_id", -1))
def vn_allocate(call: Call, text: str, cluster_id: int) -> int:
    return ops.allocate_vnet(call, parse_str_or_xml(text), cluster_id)


@api("one.vn.delete", Int("id"))
def vn_delete(call: Call, oid: int) -> int:
    return ops.delete_vnet(call, oid)


@api("one.vn.info", Int("id"), Bool("decrypt", False))
def vn_info(call: Call, oid: int, _decrypt: bool) -> str:
    info(call, VNET, oid)  # exists, and the requester may USE it
    return wire_object_xml(call, call.cloud.pools.vnets, oid, ops.info_bodies)


@api("one.vn.add_ar", Int("id"), Str("template"))
def vn_add_ar(call: Call, oid: int, text: str) -> int:
    return ops.add_address_range(call, oid, text)


@api("one.vn.rm_ar", Int("id"), Int("ar_id"), Bool("force", False))
def vn_rm_ar(call: Call, oid: int, ar_id: int, force: bool) -> int:
    return ops.remove_address_range(call, oid, ar_id, force)


@api("one.vn.free_ar", Int("id"), Int("ar_id"))
def vn_free_ar(call: Call, oid: int, ar_id: int) -> int:
    return ops.free_address_range(call, oid, ar_id)


@api("one.vn.update_ar", Int("id"), Str("template"))
def vn_update_ar(call: Call, oid: int, text: str) -> int:
    return ops.update_address_range(call, oid, text)


@api("one.vn.hold", Int("id"), Str("template"))
def vn_hold(call: Call, oid: int, text: str) -> int:
    return ops.hold_lease(call, oid, text)


@api("one.vn.release", Int("id"), Str("template"))
def vn_release(call: Call, oid: int, text: str) -> int:
    return ops.release_lease(call, oid, text)


@api("one.vn.reserve", Int("id"), Str("template"))
def vn_reserve(call: Call, oid: int, text: str) -> int:
    return ops.reserve(call, oid, text)


@api("one.vn.recover", Int("id"), Int("operation"))
def vn_recover(call: Call, oid: int, operation: int) -> int:
    return vnet_states.recover(call, oid, operation)


@api("one.vnpool.info", Int("filter", -2), Int("start", -1), Int("end", -1))
def vnpool_info(call: Call, flag: int, start: int, end: int) -> str:
    """The short bodies (ARs with ALLOCATED, without LEASES) of vnet_pool.xsd."""
    table = call.cloud.pools.vnets.table
    ls = listing(call, table, VNET.acl_type, flag, start, end)
    return wire_pool_xml(call, "VNET_POOL", table, ls.where, column="short_body",
                         order_desc=ls.desc, offset=ls.offset, limit=ls.limit,
                         render=ops.pool_entries)


@api("one.vn.update", Int("id"), Str("template"), Int("type", 0))
def vn_update(call: Call, oid: int, text: str, update_type: int) -> int:
    return ops.update_vnet(call, oid, text, update_type)


register_rename("vn", VNET)
register_chown("vn", VNET)
register_chmod("vn", VNET)
register_lock("vn", VNET)
