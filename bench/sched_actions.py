"""Scheduled actions benchmark: many actions falling due at the same second.

Allocates --vms VMs (PENDING), each with one ``hold`` SCHED_ACTION an hour ahead,
restarts the server (the timer reads every pending action back at start: the
start-up time is printed), then moves every action to the same second a few
seconds ahead with one.vm.schedupdate and waits until every VM is HOLD. Prints
the schedupdate rate, actions run per second once due (from the due second until
the last VM is HOLD), how late the actions ran (DONE - TIME, p50/p95/max, whole
seconds as the bodies record them) and the core's RSS.

    .venv/bin/python bench/sched_actions.py                 # 2,000 VMs, SQLite
    .venv/bin/python bench/sched_actions.py --vms 500 --backend postgresql
"""
from __future__ import annotations

import argparse
import re
import shutil
import sys
import tempfile
import threading
import time
import xmlrpc.client
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from control_plane import rss_mb  # noqa: E402
from dbs import create_database, drop_database  # noqa: E402
from server import NuboServer  # noqa: E402

HOLD = 2
_N = r"(?:<!\[CDATA\[)?(-?\d+)(?:\]\]>)?"
_SCHED = re.compile(rf"<SCHED_ACTION><ID>{_N}</ID>.*?<TIME>{_N}</TIME>.*?<DONE>{_N}</DONE>")


def calls(endpoint: str, session: str, method: str, argsets: list[tuple], threads: int = 4):
    local = threading.local()

    def one(args: tuple):
        if not hasattr(local, "p"):
            local.p = xmlrpc.client.ServerProxy(endpoint)
        reply = getattr(local.p, method)(session, *args)
        if not reply[0]:
            raise RuntimeError(f"{method}{args}: {reply[1]}")
        return reply[1]

    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(one, argsets))


def percentile(values: list[int], p: float) -> int:
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--vms", type=int, default=2000)
    ap.add_argument("--backend", default="sqlite", choices=["sqlite", "postgresql", "mariadb"])
    ap.add_argument("--lead", type=int, default=5, help="seconds between the update and due")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="nubo-bench-sched-"))
    url = create_database(args.backend, tmp)
    server = NuboServer(tmp / "data", database_url=url).start()
    try:
        later = int(time.time()) + 3600
        template = ('NAME = "bench-{i}"\nCPU = 0.1\nMEMORY = 16\n'
                    f'SCHED_ACTION = [ ACTION = "hold", TIME = "{later}" ]')
        t0 = time.perf_counter()
        vms = calls(server.endpoint, server.session, "one.vm.allocate",
                    [(template.format(i=i), False) for i in range(args.vms)])
        print(f"allocated {len(vms)} VMs with a scheduled action in "
              f"{time.perf_counter() - t0:.1f} s")
        server.stop()
        t0 = time.perf_counter()
        server = NuboServer(tmp / "data", database_url=url).start()
        print(f"restart (timer reads {len(vms)} pending actions back): "
              f"{time.perf_counter() - t0:.2f} s to listening")
        proxy = xmlrpc.client.ServerProxy(server.endpoint)
        sched_ids = {}
        for vm in vms[:1]:
            body = proxy.one.vm.info(server.session, vm)[1]
            sched_ids[vm] = int(_SCHED.search(body).group(1))
        t0 = time.perf_counter()
        due = int(time.time()) + args.lead + args.vms // 400
        # Each VM's one action: its id is the VM's first (ids are handed out in order).
        first_vm, first_sched = vms[0], sched_ids[vms[0]]
        calls(server.endpoint, server.session, "one.vm.schedupdate",
              [(vm, first_sched + (vm - first_vm), f'SCHED_ACTION = [ TIME = "{due}" ]')
               for vm in vms])
        spent = time.perf_counter() - t0
        print(f"schedupdate: {len(vms) / spent:.0f} calls/s")
        if time.time() >= due:
            print("warning: the updates took past the due time; raise --lead")
        while True:
            pool = proxy.one.vmpool.info(server.session, -2, -1, -1, HOLD)[1]
            if pool.count("<VM>") >= len(vms):
                break
            time.sleep(0.05)
        finished = time.time()
        bodies = proxy.one.vmpool.infoextended(server.session, -2, -1, -1, HOLD)[1]
        late = [int(done) - int(when) for _, when, done in _SCHED.findall(bodies)]
        print(f"{len(vms)} actions due at the same second ran in {finished - due:.2f} s "
              f"({len(vms) / max(finished - due, 1e-3):.0f} actions/s); lateness DONE-TIME "
              f"p50 {percentile(late, .5)} s, p95 {percentile(late, .95)} s, "
              f"max {max(late)} s")
        if server.proc is not None:
            print(f"core RSS {rss_mb(server.proc.pid):.0f} MB")
    finally:
        server.stop()
        drop_database(args.backend, url)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
