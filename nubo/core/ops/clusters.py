"""What the operations on hosts, datastores and networks share about clusters.

A host is in exactly one cluster (its CLUSTER_ID); a datastore or a network can
be in several (its CLUSTERS). Both sides of a membership change in one transaction.
"""
from __future__ import annotations

from sqlalchemy import Connection, delete, select

from nubo.auth import acl as A
from nubo.auth.acl import CLUSTER_ID, ID_MASK, INDIVIDUAL_ID, SELECTOR_MASK, ObjectType
from nubo.core.ops.common import Kind, authorize, authorize_create, check_name, object_auth
from nubo.core.ops.context import Call
from nubo.errors import AllocateError, ApiError
from nubo.model.infra import Cluster
from nubo.store import schema

DEFAULT_CLUSTER = 0      # ClusterPool::DEFAULT_CLUSTER_ID, where -1 sends new objects
FIRST_USER_CLUSTER = 100  # ids below are system clusters, which cannot be deleted

CLUSTER = Kind(lambda c: c.cloud.pools.clusters, ObjectType.CLUSTER, "CLUSTER", owned=False,
               unique_per_owner=False)
HOST = Kind(lambda c: c.cloud.pools.hosts, ObjectType.HOST, "HOST", owned=False,
            unique_per_owner=False)
DATASTORE = Kind(lambda c: c.cloud.pools.datastores, ObjectType.DATASTORE, "DATASTORE",
                 unique_per_owner=False)
VNET = Kind(lambda c: c.cloud.pools.vnets, ObjectType.NET, "NET")


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
