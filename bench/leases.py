"""Lease benchmark: every address of one /16 virtual network taken, one lease at a time.

Creates a network with one IP4 address range of --size leases (65,536: a /16) and takes
them one by one through the core's lease operation (``nubo.core.leases.allocate``, the
next free address from NEXT_INDEX, as a VM's NIC takes it), each in its own write
transaction. Prints the time per lease over the first and the last thousand (the same
when taking a lease costs constant time, growing when it costs what the network already
holds), then how long one.vn.info and one.vnpool.info take to render the full network,
and what one.vnpool.info and one.vn.info cost through the API's handlers and listing
cache: first, again with nothing changed, and after one lease freed and taken again.

    .venv/bin/python bench/leases.py                          # 65,536 leases, SQLite
    .venv/bin/python bench/leases.py --size 4096 --backend postgresql
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from dbs import create_database, drop_database  # noqa: E402

from nubo.core import leases  # noqa: E402
from nubo.core.pool_set import Pools, make_pools  # noqa: E402
from nubo.model.address_range import AddressRange  # noqa: E402
from nubo.model.address_range_xml import listed_with_leases  # noqa: E402
from nubo.model.permissions import Permissions  # noqa: E402
from nubo.model.resources import (VNET_READY, VirtualNetwork, set_address_ranges,  # noqa: E402
                                  vnet_info_body)
from nubo.api.listings import ListingCache  # noqa: E402
from nubo.api.methods.vnets import vn_info, vnpool_info  # noqa: E402
from nubo.api.wire import escape_text  # noqa: E402
from nubo.config import Config  # noqa: E402
from nubo.core.cloud import ONEADMIN, Cloud  # noqa: E402
from nubo.core.ops.call import Call  # noqa: E402
from nubo.store.db import Database  # noqa: E402

WINDOW = 1000


def new_network(db: Database, pools: Pools, size: int) -> int:
    """A network of one IP4 AR from 10.0.0.0, inserted straight into the store."""
    ar = AddressRange.from_attributes(0, {"TYPE": "IP4", "IP": "10.0.0.0", "SIZE": str(size)})
    vnet = VirtualNetwork(
        id=0, uid=0, gid=0, uname="oneadmin", gname="oneadmin", name="bench-net", lock=None,
        permissions=Permissions(), clusters=[0], bridge="br0", bridge_type="linux",
        state=VNET_READY, prev_state=VNET_READY, parent_network_id="", template_id="-1",
        vn_mad="bridge", phydev="", vlan_id="", outer_vlan_id="", vlan_id_automatic="0",
        outer_vlan_id_automatic="0", used_leases=0)
    set_address_ranges(vnet, [(ar, [])])
    with db.write() as conn:
        pools.vnets.insert(conn, vnet)
    return vnet.id


def take_all(db: Database, pools: Pools, vnet_id: int, count: int) -> list[float]:
    """Seconds per lease, in order; VM ids stand in for the NICs' owners."""
    took = []
    for vm in range(count):
        began = time.perf_counter()
        with db.write() as conn:
            leases.allocate(conn, pools.vnets, vnet_id, ("VM", vm))
        took.append(time.perf_counter() - began)
        if (vm + 1) % 8192 == 0:
            print(f"  {vm + 1} leases taken ({sum(took):.0f} s)", file=sys.stderr)
    return took


def info(db: Database, pools: Pools, vnet_id: int) -> str:
    """one.vn.info's body: the stored network with the leases of the table."""
    with db.read() as conn:
        return vnet_info_body(pools.vnets.body(conn, vnet_id),
                              leases.by_range(conn, [vnet_id]).get(vnet_id, {}))


def pool_entry(db: Database, pools: Pools, vnet_id: int) -> str:
    """The network's entry in one.vnpool.info: ALLOCATED per AR."""
    t = pools.vnets.table
    with db.read() as conn:
        short = pools.vnets.bodies(conn, t.c.oid == vnet_id, short=True)[0]
        return listed_with_leases(short, leases.by_range(conn, [vnet_id]).get(vnet_id, {}))


def api_calls(db: Database, pools: Pools, vnet_id: int, spare: int) -> None:
    """one.vnpool.info and one.vn.info as the request manager runs them (one listing
    cache for all calls)."""
    call = Call(Cloud(db, Config(), pools=pools), ONEADMIN, "bench",
                ListingCache(escape_text))
    calls = (("one.vnpool.info", lambda: vnpool_info(call, -2, -1, -1)),
             ("one.vn.info", lambda: vn_info(call, vnet_id, False)))
    for what in ("first", "again, unchanged", "after a lease freed and taken"):
        if what.startswith("after"):
            with db.write() as conn:
                leases.free_rows(conn, vnet_id, index=0)
                leases.save(conn, pools.vnets, pools.vnets.get(conn, vnet_id),
                            leases.ranges_of(pools.vnets.get(conn, vnet_id)))
            with db.write() as conn:
                leases.allocate(conn, pools.vnets, vnet_id, ("VM", spare))
        for name, fn in calls:
            began = time.perf_counter()
            reply = fn()
            size = sum(map(len, reply)) if isinstance(reply, list) else len(reply)
            print(f"  {name} ({what}): {(time.perf_counter() - began) * 1e3:.1f} ms "
                  f"({size / 1e6:.1f} MB)")


def timed(fn, *args) -> tuple[float, int]:
    began = time.perf_counter()
    size = len(fn(*args))
    return time.perf_counter() - began, size


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--backend", choices=("sqlite", "postgresql", "mariadb"), default="sqlite")
    ap.add_argument("--size", type=int, default=65536, help="leases in the network's AR")
    ap.add_argument("--take", type=int, default=0, help="leases to take (default: all)")
    args = ap.parse_args()
    count = args.take or args.size
    tmp = Path(tempfile.mkdtemp(prefix="nubo-bench-"))
    url = create_database(args.backend, tmp)
    db = Database(url)
    try:
        db.migrate()
        pools = make_pools()
        vnet_id = new_network(db, pools, args.size)
        print(f"nubo on {args.backend}: taking {count} leases of a network of {args.size}")
        began = time.perf_counter()
        took = take_all(db, pools, vnet_id, count)
        total = time.perf_counter() - began
        window = min(WINDOW, count)
        first, last = took[:window], took[-window:]
        print(f"took {count} leases in {total:.1f} s ({count / total:.0f} leases/s)")
        print(f"  per lease, first {window}: mean {statistics.fmean(first) * 1e3:.2f} ms, "
              f"median {statistics.median(first) * 1e3:.2f} ms")
        print(f"  per lease, last {window}:  mean {statistics.fmean(last) * 1e3:.2f} ms, "
              f"median {statistics.median(last) * 1e3:.2f} ms")
        for name, fn in (("one.vn.info", info), ("one.vnpool.info entry", pool_entry)):
            seconds, size = timed(fn, db, pools, vnet_id)
            print(f"  {name} of the full network: {seconds * 1e3:.0f} ms "
                  f"({size / 1e6:.1f} MB)")
        api_calls(db, pools, vnet_id, count)
    finally:
        db.close()
        drop_database(args.backend, url)


if __name__ == "__main__":
    main()
