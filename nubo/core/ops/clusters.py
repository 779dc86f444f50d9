"""Cluster operations: groups of hosts, datastores and virtual networks.

A host is in exactly one cluster (its CLUSTER_ID); a datastore or a virtual network
can be in several (its CLUSTERS). Both sides of a membership (the cluster's
HOSTS/DATASTORES/VNETS and the member's own ids) change in one transaction. The
helpers at the top are shared with the host, datastore and virtual network operations,
which create and delete cluster members.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, delete, select

from nubo.auth import acl as A
from nubo.auth.acl import CLUSTER_ID, ID_MASK, INDIVIDUAL_ID, SELECTOR_MASK, ObjectType
from nubo.core.ops.common import (Kind, authorize, authorize_create, check_name, fetch,
                                  object_auth, refuse)
from nubo.core.ops.call import Call
from nubo.errors import AllocateError, ApiError
from nubo.model.infra import Cluster
from nubo.store import schema
from nubo.store.pools import Pool
from nubo.template import Template

DEFAULT_CLUSTER = 0      # ClusterPool::DEFAULT_CLUSTER_ID, where -1 sends new objects
FIRST_USER_CLUSTER = 100  # ids below are system clusters, which cannot be deleted

CLUSTER = Kind(lambda c: c.cloud.pools.clusters, ObjectType.CLUSTER, "CLUSTER", owned=False,
               unique_per_owner=False)
HOST = Kind(lambda c: c.cloud.pools.hosts, ObjectType.HOST, "HOST", owned=False,
            unique_per_owner=False)
DATASTORE = Kind(lambda c: c.cloud.pools.datastores, ObjectType.DATASTORE, "DATASTORE",
                 unique_per_owner=False)
VNET = Kind(lambda c: c.cloud.pools.vnets, ObjectType.NET, "NET")


# -- helpers shared with the host, datastore and virtual network operations ------------------

def allocation_problem(name: str) -> str | None:
    """Why name cannot be a new object's NAME (OpenNebula's name rules), or None."""
    try:
        check_name(name)
    except ApiError as e:
        return e.message
    return None


def refuse_allocate(noun: str, message: str, oid: int = -1) -> AllocateError:
    """OpenNebula's ALLOCATE failure: "Error allocating a new <noun>. <why>"."""
    return AllocateError(f"Error allocating a new {noun}. {message}", oid)


def refuse_new_name(conn: Connection, pool: Pool[Any], noun: str, name: str,
                    problem: str | None = None) -> None:
    """oned's ALLOCATE refusals of a new host's or cluster's NAME: invalid (problem, or
    the name rules), or already taken by another object of the pool."""
    problem = problem or allocation_problem(name)
    if problem:
        raise refuse_allocate(noun, problem)
    taken = pool.oid_by_name(conn, name)
    if taken is not None:
        raise refuse_allocate(noun, f"NAME is already taken by {pool.tag} {taken}.", taken)


def target_cluster(call: Call, conn: Connection, cluster_id: int, kind: Kind) -> Cluster:
    """The cluster a new host/datastore/network goes to (-1: the default one).

    As one.*.allocate checks it: the cluster must exist, then the requester
    needs CREATE on the kind of object and ADMIN on the cluster.
    """
    cid = DEFAULT_CLUSTER if cluster_id == -1 else cluster_id
    cluster = call.cloud.pools.clusters.get(conn, cid)
    authorize_create(call, kind)
    authorize(call, A.ADMIN, object_auth(CLUSTER, cluster), CLUSTER.acl_name)
    return cluster


def set_member(ids: list[int], oid: int, present: bool) -> list[int]:
    """ids with oid added or removed, sorted like OpenNebula's id collections."""
    return sorted({*ids, oid}) if present else [i for i in ids if i != oid]


def leave_clusters(call: Call, conn: Connection, cluster_ids: list[int], field: str,
                   oid: int) -> None:
    """Drop a deleted member from the HOSTS/DATASTORES/VNETS (field) of its clusters."""
    pools = call.cloud.pools
    for cid in cluster_ids:
        cluster = pools.clusters.find(conn, cid)
        if cluster is not None and oid in getattr(cluster, field):
            setattr(cluster, field, set_member(getattr(cluster, field), oid, False))
            pools.clusters.update(conn, cluster)


def drop_acl_rules(call: Call, conn: Connection, obj_type: int, oid: int) -> bool:
    """Delete the ACL rules naming a deleted object (``TYPE/#oid``; ``%cid`` for clusters).

    Returns whether any went; the ACL cache notices the change once it is committed.
    """
    t = schema.acl
    mine = int(obj_type) | INDIVIDUAL_ID | oid
    gone = []
    for rid, resource in conn.execute(select(t.c.oid, t.c.resource)):
        res = resource & 0xFFFF_FFFF_FFFF_FFFF
        if res == mine or (obj_type == ObjectType.CLUSTER and res & SELECTOR_MASK == CLUSTER_ID
                           and res & ID_MASK == oid):
            gone.append(rid)
    if gone:
        conn.execute(delete(t).where(t.c.oid.in_(gone)))
    return bool(gone)


# -- the cluster operations ------------------------------------------------------------------

def allocate_cluster(call: Call, name: str) -> int:
    """A new, empty cluster; its RESERVED_CPU/RESERVED_MEM start blank, as oned's."""
    pools = call.cloud.pools
    with call.cloud.db.write() as conn:
        authorize_create(call, CLUSTER)
        refuse_new_name(conn, pools.clusters, "cluster", name)
        template = Template()
        template.set("RESERVED_CPU", "")
        template.set("RESERVED_MEM", "")
        cluster = Cluster(id=pools.clusters.next_oid(conn), name=name, template=template)
        pools.clusters.insert(conn, cluster)
    return cluster.id


def delete_cluster(call: Call, cid: int) -> None:
    """Only an empty user cluster goes; the ACL rules naming it go with it."""
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


def add_host(call: Call, cid: int, hid: int) -> None:
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


def del_host(call: Call, hid: int) -> None:
    """A host always has a cluster: taking it out of one puts it back in the default.

    As in OpenNebula, the cluster the request names is not even looked at, so it is
    not an argument here.
    """
    add_host(call, DEFAULT_CLUSTER, hid)


def _membership(call: Call, cid: int, kind: Kind, field: str, oid: int, add: bool) -> None:
    """Add/remove a datastore or network to/from a cluster; both sides or nothing."""
    pools = call.cloud.pools
    with call.cloud.db.write() as conn:
        cluster = pools.clusters.get(conn, cid)
        obj: Any = kind.pool(call).get(conn, oid)
        authorize(call, A.ADMIN, object_auth(CLUSTER, cluster), CLUSTER.acl_name)
        authorize(call, A.ADMIN, object_auth(kind, obj), kind.acl_name)
        if (cid in obj.clusters) == add:
            return  # already so: nothing to do, as in OpenNebula
        obj.clusters = set_member(obj.clusters, cid, add)
        setattr(cluster, field, set_member(getattr(cluster, field), oid, add))
        kind.pool(call).update(conn, obj)
        pools.clusters.update(conn, cluster)


def add_datastore(call: Call, cid: int, ds_id: int) -> None:
    _membership(call, cid, DATASTORE, "datastores", ds_id, True)


def del_datastore(call: Call, cid: int, ds_id: int) -> None:
    _membership(call, cid, DATASTORE, "datastores", ds_id, False)


def add_vnet(call: Call, cid: int, vnet_id: int) -> None:
    _membership(call, cid, VNET, "vnets", vnet_id, True)


def del_vnet(call: Call, cid: int, vnet_id: int) -> None:
    _membership(call, cid, VNET, "vnets", vnet_id, False)


def cluster_renamed(call: Call, conn: Connection, renamed: tuple[Cluster, str]) -> None:
    """After a rename, in its transaction: hosts show their cluster's name (CLUSTER)."""
    cluster, _old = renamed
    pools = call.cloud.pools
    for hid in cluster.hosts:
        host = pools.hosts.find(conn, hid)
        if host is not None and host.cluster_id == cluster.id:
            host.cluster = cluster.name
            pools.hosts.update(conn, host)
