"""Concurrent lease benchmark: 50,000 leases from one network by racing allocations.

Creates a network with one IP4 address range of --leases addresses and has --processes
processes of --threads threads each take leases through the core's lease operation
(``nubo.core.leases.allocate``: the next free address, each lease in its own write
transaction, as a VM's NIC takes one) until the range is full. Every worker reports the
addresses it was given; the benchmark checks that no address was given twice, that the
table holds exactly one lease per address, and that one more allocation is refused;
then prints the time per lease (wall time / leases) and the allocations per second.

    .venv/bin/python bench/leases_concurrent.py                       # 50,000, SQLite
    .venv/bin/python bench/leases_concurrent.py --backend postgresql --processes 4
"""
from __future__ import annotations

import argparse
import collections
import multiprocessing as mp
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from dbs import create_database, drop_database  # noqa: E402
from leases import new_network  # noqa: E402  (bench/leases.py)

from nubo.core import leases as core_leases  # noqa: E402
from nubo.core.pool_set import make_pools  # noqa: E402
from nubo.store.db import Database  # noqa: E402
from nubo.store.outage import DatabaseUnavailable  # noqa: E402


def worker(url: str, vnet_id: int, threads: int, first_owner: int,
           out: "mp.Queue[tuple[list[str], int, int]]") -> None:
    """Take leases on ``threads`` threads until the network is full; report them."""
    db = Database(url)
    pools = make_pools()
    got: list[str] = []
    refused = retried = 0
    lock = threading.Lock()

    def run(owner: int) -> None:
        nonlocal refused, retried
        mine, busy = [], 0
        while True:
            try:
                with db.write() as conn:
                    lease = core_leases.allocate(conn, pools.vnets, vnet_id, ("VM", owner))
            except core_leases.LeaseError:
                break
            except DatabaseUnavailable:  # SQLite's writer lock held by the other process
                busy += 1  # nothing was committed: try again, as a client would
                continue
            mine.append(lease.address.ip or lease.address.mac)
        with lock:
            got.extend(mine)
            refused += 1
            retried += busy

    pool = [threading.Thread(target=run, args=(first_owner + i,)) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    db.close()
    out.put((got, refused, retried))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--backend", choices=("sqlite", "postgresql", "mariadb"), default="sqlite")
    ap.add_argument("--leases", type=int, default=50_000, help="addresses in the network")
    ap.add_argument("--processes", type=int, default=2)
    ap.add_argument("--threads", type=int, default=4, help="threads per process")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="nubo-bench-"))
    url = create_database(args.backend, tmp)
    db = Database(url)
    try:
        db.migrate()
        pools = make_pools()
        vnet_id = new_network(db, pools, args.leases)
        racers = args.processes * args.threads
        print(f"nubo on {args.backend}: {args.leases} leases of one network taken by "
              f"{args.processes} processes x {args.threads} threads ({racers} racers)")
        out: mp.Queue = mp.get_context("spawn").Queue()
        procs = [mp.get_context("spawn").Process(
            target=worker, args=(url, vnet_id, args.threads, p * args.threads, out))
            for p in range(args.processes)]
        began = time.perf_counter()
        for p in procs:
            p.start()
        results = [out.get() for _ in procs]
        took = time.perf_counter() - began
        for p in procs:
            p.join()
        handed = [a for got, _, _ in results for a in got]
        twice = [a for a, n in collections.Counter(handed).items() if n > 1]
        with db.read() as conn:
            rows = core_leases.leases(conn, vnet_id)
        distinct = {(r.ar_id, r.index) for r in rows}
        print(f"handed out {len(handed)} leases, {len(set(handed))} distinct; "
              f"{len(rows)} rows in vn_lease ({len(distinct)} distinct addresses)")
        if twice or len(handed) != args.leases or len(rows) != args.leases:
            print(f"FAILED: {len(twice)} addresses handed out twice, e.g. {twice[:5]}")
            sys.exit(1)
        print("no duplicate: every address leased exactly once; the full network refused "
              f"{sum(r for _, r, _ in results)} more; {sum(b for _, _, b in results)} "
              "allocations retried after a busy database")
        print(f"took {took:.1f} s: {took / args.leases * 1e3:.3f} ms per lease "
              f"({args.leases / took:.0f} leases/s with {racers} concurrent allocators)")
    finally:
        db.close()
        drop_database(args.backend, url)


if __name__ == "__main__":
    main()
