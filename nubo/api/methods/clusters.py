"""one.cluster.* and one.clusterpool.info: groups of hosts, datastores and networks.

A host is in exactly one cluster (its CLUSTER_ID); a datastore or a network can
be in several (its CLUSTERS). Both sides of a membership — the cluster's
HOSTS/DATASTORES/VNETS and the member's own ids — change in one transaction.
What host, datastore and network operations share about clusters is in
nubo.core.ops.clusters (re-exported here for the other API modules).
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from nubo.core.ops.common import (Kind, authorize, authorize_create, fetch, object_auth,
                                  refuse)
from nubo.api.methods.generic import (register_info, register_pool, register_rename,
                                      register_update)
from nubo.api.registry import Int, Str, api
from nubo.core.ops.clusters import (CLUSTER, DATASTORE, DEFAULT_CLUSTER,  # noqa: F401
                                    FIRST_USER_CLUSTER, HOST, VNET, allocation_problem,
                                    drop_acl_rules, leave_clusters, refuse_allocate,
                                    set_member, target_cluster)
from nubo.core.ops.context import Call
from nubo.auth import acl as A
from nubo.auth.acl import ObjectType
from nubo.model.infra import Cluster
from nubo.model.limits import HOST_NUMBERS
from nubo.template import Template


# -- one.cluster.* ---------------------------------------------------------------------------

@api("one.cluster.allocate", Str("name"))
def cluster_allocate(call: Call, name: str) -> int:
    pools = call.cloud.pools
    with call.cloud.db.write() as conn:
        authorize_create(call, CLUSTER)
        problem = allocation_problem(name)
        if problem:
            raise refuse_allocate("cluster", problem)
        taken = pools.clusters.oid_by_name(conn, name)
        if taken is not None:
            raise refuse_allocate("cluster", f"NAME is already taken by CLUSTER {taken}.", taken)
        template = Template()
        template.set("RESERVED_CPU", "")
        template.set("RESERVED_MEM", "")
        cluster = Cluster(id=pools.clusters.next_oid(conn), name=name, template=template)
        pools.clusters.insert(conn, cluster)
    return cluster.id


@api("one.cluster.delete", Int("id"))
def cluster_delete(call: Call, cid: int) -> int:
    with call.cloud.db.write() as conn:
        cluster = fetch(call, conn, CLUSTER, cid, A.ADMIN)
        if cid < FIRST_USER_CLUSTER:
            raise refuse("Cannot delete cluster. System Clusters (ID < 100) cannot be deleted.",
                         cid)
        for field in ("hosts", "datastores", "vnets"):
            count = len(getattr(cluster, field))
            if count:
                raise refuse(f"Cannot delete cluster. Cluster {cid} is not empty, it contains "
                             f"{count} {field}.", cid)
        call.cloud.pools.clusters.delete(conn, cid)
        drop_acl_rules(call, conn, ObjectType.CLUSTER, cid)
    return cid


def _move_host(call: Call, cid: int, hid: int) -> None:
    """Put a host in cluster cid, taking it out of the one it was in."""
    pools = call.cloud.pools
    with call.cloud.db.write() as conn:
        cluster = pools.clusters.get(conn, cid)
        host = pools.hosts.get(conn, hid)
        authorize(call, A.ADMIN, object_auth(CLUSTER, cluster), CLUSTER.acl_name)
        authorize(call, A.ADMIN, object_auth(HOST, host), HOST.acl_name)
        if host.cluster_id == cid:
            return
        leave_clusters(call, conn, [host.cluster_id], "hosts", hid)
        host.cluster_id, host.cluster = cid, cluster.name
        cluster.hosts = set_member(cluster.hosts, hid, True)
        pools.hosts.update(conn, host)
        pools.clusters.update(conn, cluster)


@api("one.cluster.addhost", Int("id"), Int("host_id"))
def cluster_addhost(call: Call, cid: int, hid: int) -> int:
    _move_host(call, cid, hid)
    return cid


@api("one.cluster.delhost", Int("id"), Int("host_id"))
def cluster_delhost(call: Call, cid: int, hid: int) -> int:
    """A host always has a cluster: taking it out of one puts it back in the default.

    As in OpenNebula, the cluster named in the call is not even looked at.
    """
    _move_host(call, DEFAULT_CLUSTER, hid)
    return cid


def _membership(call: Call, cid: int, kind: Kind, field: str, oid: int, add: bool) -> int:
    """Add/remove a datastore or network to/from a cluster; both sides or nothing."""
    pools = call.cloud.pools
    with call.cloud.db.write() as conn:
        cluster = pools.clusters.get(conn, cid)
        obj: Any = kind.pool(call).get(conn, oid)
        authorize(call, A.ADMIN, object_auth(CLUSTER, cluster), CLUSTER.acl_name)
        authorize(call, A.ADMIN, object_auth(kind, obj), kind.acl_name)
        if (cid in obj.clusters) == add:
            return cid  # already so: nothing to do, as in OpenNebula
        obj.clusters = set_member(obj.clusters, cid, add)
        setattr(cluster, field, set_member(getattr(cluster, field), oid, add))
        kind.pool(call).update(conn, obj)
        pools.clusters.update(conn, cluster)
    return cid


@api("one.cluster.adddatastore", Int("id"), Int("ds_id"))
def cluster_adddatastore(call: Call, cid: int, ds_id: int) -> int:
    return _membership(call, cid, DATASTORE, "datastores", ds_id, True)


@api("one.cluster.deldatastore", Int("id"), Int("ds_id"))
def cluster_deldatastore(call: Call, cid: int, ds_id: int) -> int:
    return _membership(call, cid, DATASTORE, "datastores", ds_id, False)


@api("one.cluster.addvnet", Int("id"), Int("vnet_id"))
def cluster_addvnet(call: Call, cid: int, vnet_id: int) -> int:
    return _membership(call, cid, VNET, "vnets", vnet_id, True)


@api("one.cluster.delvnet", Int("id"), Int("vnet_id"))
def cluster_delvnet(call: Call, cid: int, vnet_id: int) -> int:
    return _membership(call, cid, VNET, "vnets", vnet_id, False)


def _renamed(call: Call, conn: Connection, renamed: tuple[Cluster, str]) -> None:
    """Hosts show their cluster's name (CLUSTER): keep it current."""
    cluster, _old = renamed
    pools = call.cloud.pools
    for hid in cluster.hosts:
        host = pools.hosts.find(conn, hid)
        if host is not None and host.cluster_id == cluster.id:
            host.cluster = cluster.name
            pools.hosts.update(conn, host)


register_info("cluster", CLUSTER)
register_update("cluster", CLUSTER, numbers=HOST_NUMBERS)
register_rename("cluster", CLUSTER, after=_renamed)
register_pool("clusterpool", CLUSTER, "CLUSTER_POOL", filtered=False)
