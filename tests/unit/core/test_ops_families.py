"""Cluster, datastore, image, VM template and VM group operations, called without a front.

A second front (REST, a web console's back end) would call them as the XML-RPC
handlers do; an operation refused by its checks must leave the cloud as it was.
"""
from __future__ import annotations

from typing import Iterator

import pytest

from nubo.config import Config
from nubo.core.bootstrap import bootstrap
from nubo.core.cloud import ONEADMIN, Cloud
from nubo.core.ops import clusters, datastores, images, templates, vmgroups
from nubo.core.ops.call import Call
from nubo.errors import ActionError, AllocateError, NuboError
from nubo.model.resources import IMAGE_DISABLED, IMAGE_READY
from nubo.store.db import Database
from nubo.template import parse

DEFAULT_IMAGE_DS = 1  # made by bootstrap, as oned's "default"


@pytest.fixture
def call(tmp_path) -> Iterator[Call]:
    db = Database(f"sqlite:///{tmp_path / 'n.db'}")
    cloud = Cloud(db, Config())
    bootstrap(cloud, "secret")
    yield Call(cloud, ONEADMIN, "test")
    db.close()


def test_a_datastore_joins_and_leaves_a_cluster_on_both_sides(call: Call) -> None:
    pools, db = call.cloud.pools, call.cloud.db
    cid = clusters.allocate_cluster(call, "prod")
    ds = datastores.allocate_datastore(call, parse('NAME="img"\nDS_MAD="fs"\nTM_MAD="ssh"'), cid)
    with db.read() as conn:
        assert pools.clusters.get(conn, cid).datastores == [ds]
        assert pools.datastores.get(conn, ds).clusters == [cid]
    with pytest.raises(ActionError, match="it contains 1 datastores"):
        clusters.delete_cluster(call, cid)
    with db.read() as conn:  # refused before anything changed
        assert pools.clusters.get(conn, cid).datastores == [ds]
    clusters.del_datastore(call, cid, ds)
    with db.read() as conn:
        assert pools.clusters.get(conn, cid).datastores == []
        assert pools.datastores.get(conn, ds).clusters == []
    clusters.delete_cluster(call, cid)
    with pytest.raises(AllocateError, match="NAME is already taken by CLUSTER 0"):
        clusters.allocate_cluster(call, "default")


def test_an_image_is_cloned_disabled_and_deleted(call: Call) -> None:
    pools, db = call.cloud.pools, call.cloud.db
    iid = images.allocate_image(call, parse('NAME="disk"\nSIZE="10"'), DEFAULT_IMAGE_DS)
    copy = images.clone_image(call, iid, "disk-copy", -1)
    images.enable_image(call, iid, False)
    images.make_persistent(call, copy, True)
    with db.read() as conn:
        assert pools.images.get(conn, iid).state == IMAGE_DISABLED
        clone = pools.images.get(conn, copy)
        assert (clone.state, clone.persistent, clone.size) == (IMAGE_READY, 1, 10)
        assert pools.datastores.get(conn, DEFAULT_IMAGE_DS).images == [iid, copy]
    images.delete_image(call, copy)
    with db.read() as conn:
        assert not pools.images.exists(conn, copy)
        assert pools.datastores.get(conn, DEFAULT_IMAGE_DS).images == [iid]


def test_a_template_is_cloned_and_instantiated(call: Call) -> None:
    pools, db = call.cloud.pools, call.cloud.db
    tid = templates.allocate_template(call, parse('NAME="small"\nCPU="1"\nMEMORY="64"'))
    copy = templates.clone_template(call, tid, "small-copy", False)
    vm = templates.instantiate_template(call, copy, "web", True, parse('MEMORY="128"'), False)
    with db.read() as conn:
        made = pools.vms.get(conn, vm)
        assert (made.name, made.template.get("MEMORY")) == ("web", "128")
    with pytest.raises(NuboError, match="Virtual router templates cannot be instantiated"):
        vrouter = templates.allocate_template(call, parse('NAME="vr"\nVROUTER="YES"'))
        templates.instantiate_template(call, vrouter, "", False, None, False)
    templates.delete_template(call, copy, False)
    with db.read() as conn:
        assert not pools.templates.exists(conn, copy)


def test_a_vm_group_gains_updates_and_loses_roles(call: Call) -> None:
    pools, db = call.cloud.pools, call.cloud.db
    gid = vmgroups.allocate_vmgroup(call, parse('NAME="app"\nROLE=[NAME="web"]'))
    vmgroups.add_role(call, gid, parse('ROLE=[NAME="db"]'))
    with pytest.raises(ActionError, match="No ROLE attribute in template"):
        vmgroups.add_role(call, gid, parse('OTHER="1"'))
    vmgroups.delete_role(call, gid, 0)
    with db.read() as conn:
        assert [r.name for r in pools.vmgroups.get(conn, gid).roles] == ["db"]
    vmgroups.delete_vmgroup(call, gid)
    with db.read() as conn:
        assert not pools.vmgroups.exists(conn, gid)
