"""one.cluster.* and one.clusterpool.info: groups of hosts, datastores and networks.

The rules are the cluster operations' (nubo.core.ops.clusters); each method binds
its arguments, calls one and answers the cluster's id.
"""
from __future__ import annotations

from nubo.api.methods.generic import (register_info, register_pool, register_rename,
                                      register_update)
from nubo.api.method_table import Int, Str, api
from nubo.core.ops import clusters as ops
from nubo.core.ops.clusters import CLUSTER
from nubo.core.ops.call import Call
from nubo.model.limits import HOST_NUMBERS


@api("one.cluster.allocate", Str("name"))
def cluster_allocate(call: Call, name: str) -> int:
    return ops.allocate_cluster(call, name)


@api("one.cluster.delete", Int("id"))
def cluster_delete(call: Call, cid: int) -> int:
    ops.delete_cluster(call, cid)
    return cid


@api("one.cluster.addhost", Int("id"), Int("host_id"))
def cluster_addhost(call: Call, cid: int, hid: int) -> int:
    ops.add_host(call, cid, hid)
    return cid


@api("one.cluster.delhost", Int("id"), Int("host_id"))
def cluster_delhost(call: Call, cid: int, hid: int) -> int:
    ops.del_host(call, hid)
    return cid


@api("one.cluster.adddatastore", Int("id"), Int("ds_id"))
def cluster_adddatastore(call: Call, cid: int, ds_id: int) -> int:
    ops.add_datastore(call, cid, ds_id)
    return cid


@api("one.cluster.deldatastore", Int("id"), Int("ds_id"))
def cluster_deldatastore(call: Call, cid: int, ds_id: int) -> int:
    ops.del_datastore(call, cid, ds_id)
    return cid


@api("one.cluster.addvnet", Int("id"), Int("vnet_id"))
def cluster_addvnet(call: Call, cid: int, vnet_id: int) -> int:
    ops.add_vnet(call, cid, vnet_id)
    return cid


@api("one.cluster.delvnet", Int("id"), Int("vnet_id"))
def cluster_delvnet(call: Call, cid: int, vnet_id: int) -> int:
    ops.del_vnet(call, cid, vnet_id)
    return cid


register_info("cluster", CLUSTER)
register_update("cluster", CLUSTER, numbers=HOST_NUMBERS)
register_rename("cluster", CLUSTER, after=ops.cluster_renamed)
register_pool("clusterpool", CLUSTER, "CLUSTER_POOL", filtered=False)
