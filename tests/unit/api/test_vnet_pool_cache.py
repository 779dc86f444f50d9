"""one.vnpool.info and one.vn.info keep each network's rendered XML (its body with its
leases) by row version: an unchanged network's leases are not read again, and every lease
taken or freed shows at once, since each writes the network's row."""
from __future__ import annotations

from typing import Iterator

import pytest

from nubo.api.listings import ListingCache
from nubo.api.methods.vnets import vn_info, vnpool_info
from nubo.api.wire import escape_text
from nubo.config import Config
from nubo.core import leases
from nubo.core.bootstrap import bootstrap
from nubo.core.cloud import ONEADMIN, Cloud
from nubo.core.ops import vnets as ops
from nubo.core.ops.call import Call
from nubo.store.db import Database
from nubo.template import parse

NET = 'NAME="{name}"\nVN_MAD="bridge"\nAR=[TYPE="IP4", IP="10.{n}.0.1", SIZE="8"]'


@pytest.fixture
def call(tmp_path) -> Iterator[Call]:
    db = Database(f"sqlite:///{tmp_path / 'n.db'}")
    cloud = Cloud(db, Config())
    bootstrap(cloud, "secret")
    yield Call(cloud, ONEADMIN, "one.vnpool.info", ListingCache(escape_text))
    db.close()


@pytest.fixture
def renders(monkeypatch) -> list[list[int]]:
    """The network ids whose leases each rendering read."""
    seen: list[list[int]] = []
    by_range = leases.by_range

    def counted(conn, vnet_ids):
        seen.append(sorted(vnet_ids))
        return by_range(conn, vnet_ids)
    monkeypatch.setattr(leases, "by_range", counted)
    return seen


def listing(call: Call) -> bytes:
    return b"".join(vnpool_info(call, -2, -1, -1))


def uncached(call: Call) -> bytes:
    return listing(Call(call.cloud, call.session, call.method))


def info(call: Call, oid: int) -> bytes:
    return b"".join(vn_info(call, oid, False))


def test_an_unchanged_network_is_not_rendered_again(call: Call, renders) -> None:
    a = ops.allocate_vnet(call, parse(NET.format(name="a", n=1)), -1)
    b = ops.allocate_vnet(call, parse(NET.format(name="b", n=2)), -1)
    ops.hold_lease(call, a, 'LEASES=[IP="10.1.0.3"]')
    first = listing(call)
    assert renders == [[a, b]] and b"ALLOCATED&gt; 2 " in first
    assert listing(call) == first and renders == [[a, b]]
    ops.hold_lease(call, b, 'LEASES=[IP="10.2.0.1"]')
    again = listing(call)
    assert renders == [[a, b], [b]] and again != first
    assert again == uncached(call)
    shown, rendered = info(call, a), len(renders)
    assert renders[-1] == [a] and b"&lt;USED_LEASES&gt;1&lt;/USED_LEASES&gt;" in shown
    assert info(call, a) == shown and len(renders) == rendered
    ops.release_lease(call, a, 'LEASES=[IP="10.1.0.3"]')
    assert b"&lt;USED_LEASES&gt;0&lt;/USED_LEASES&gt;" in info(call, a)
    assert len(renders) == rendered + 1


def test_every_lease_change_shows_at_once(call: Call) -> None:
    pools, db = call.cloud.pools, call.cloud.db
    net = ops.allocate_vnet(call, parse(NET.format(name="net", n=3)), -1)

    def same() -> bytes:
        cached = listing(call)
        assert cached == uncached(call)
        shown = info(call, net)
        assert shown == info(Call(call.cloud, call.session, call.method), net)
        return cached + shown

    seen = [same()]

    def changed() -> None:
        seen.append(same())
        assert seen[-1] != seen[-2]
    ops.hold_lease(call, net, 'LEASES=[IP="10.3.0.2"]')
    changed()
    ops.release_lease(call, net, 'LEASES=[IP="10.3.0.2"]')
    changed()
    with db.write() as conn:  # a VM's NIC lease, given back when the VM is DONE
        leases.allocate(conn, pools.vnets, net, ("VM", 7))
    changed()
    with db.write() as conn:
        leases.free_owner(conn, pools.vnets, ("VM", 7))
    changed()
    rid = ops.reserve(call, net, 'SIZE=2\nNAME="res"')
    changed()
    ops.free_address_range(call, rid, 0)  # the parent's addresses come back
    changed()
    ops.add_address_range(call, net, 'AR=[TYPE="IP4", IP="10.3.1.1", SIZE="4"]')
    changed()
    ops.hold_lease(call, net, 'LEASES=[IP="10.3.1.2"]')
    changed()
    ops.remove_address_range(call, net, 1, force=True)
    changed()
