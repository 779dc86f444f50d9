"""Start-up benchmark: a core restarted with many VMs awaiting a driver answers at once.

Builds --vms VMs in BOOT on --hosts dummy hosts (their DEPLOY never answers: the
first core's dummy driver holds it for an hour), kills that core with SIGKILL, and
starts a new one on the same data. Printed: the time from the new process's start
to its first answered API call (one.vm.info of a VM being reconciled), and to every
VM RUNNING (the core asked each VM's driver again and handled every answer); and,
from the core's log, when it had asked about every VM again (reconciled).

    .venv/bin/python bench/startup.py                        # 2,000 VMs, SQLite
    .venv/bin/python bench/startup.py --backend postgresql
    .venv/bin/python bench/startup.py --vms 100 --hosts 10   # a quick run
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
import xmlrpc.client
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from dbs import create_database, drop_database  # noqa: E402
from lifecycle import Calls, count_in, populate  # noqa: E402
from server import NuboServer  # noqa: E402

ACTIVE, BOOT, RUNNING = 3, 2, 3


def dummy_command(data: Path) -> list[str]:
    """The built-in dummy driver's command line (nubo.config.driver_specs)."""
    return [sys.executable, "-m", "nubo.drivers.dummy", "vmm,im,tm", "--state",
            str(data / "dummy-state")]


def wait_count(server: NuboServer, lcm: int, total: int, timeout: float, what: str) -> float:
    """Poll until ``total`` VMs are ACTIVE in ``lcm``; returns when (perf_counter)."""
    proxy = xmlrpc.client.ServerProxy(server.endpoint)
    deadline = time.monotonic() + timeout
    seen = 0
    while time.monotonic() < deadline:
        seen = count_in(proxy, server.session, ACTIVE, lcm)
        if seen >= total:
            return time.perf_counter()
        time.sleep(0.05)
    raise SystemExit(f"{what}: only {seen}/{total} after {timeout:.0f} s")


def logged_at(server: NuboServer, marker: str) -> float | None:
    """The wall time (time.time) of the core's last log line holding ``marker``."""
    for line in reversed(server.log_lines):
        if marker in line:
            stamp = datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f")
            return stamp.timestamp()
    return None


def first_answer(server: NuboServer, vm_id: int, timeout: float) -> tuple[float, int]:
    """When one.vm.info first answered (perf_counter), and the VM's LCM_STATE then."""
    proxy = xmlrpc.client.ServerProxy(server.endpoint)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            ok, body, *_ = proxy.one.vm.info(server.session, vm_id)
        except OSError:
            time.sleep(0.005)
            continue
        if ok:
            start = body.index("<LCM_STATE>") + len("<LCM_STATE>")
            return time.perf_counter(), int(body[start:body.index("<", start)])
        time.sleep(0.005)
    raise SystemExit(f"no API answer within {timeout:.0f} s")


def build(server: NuboServer, hosts: int, vms: int, threads: int, timeout: float) -> int:
    """``vms`` VMs in BOOT (their DEPLOY held by the driver); returns the first VM's id."""
    calls = Calls(server.endpoint, threads)
    host_ids, vm_ids = populate(calls, server.session, hosts, vms)
    bodies = [xmlrpc.client.dumps((server.session, vm, host_ids[i % len(host_ids)]),
                                  "one.vm.deploy").encode() for i, vm in enumerate(vm_ids)]
    failed = calls.run(bodies)
    if failed:
        raise SystemExit(f"{len(failed)} deploys failed")
    wait_count(server, BOOT, vms, timeout, "VMs in BOOT")
    return vm_ids[0]


def main(argv: list[str] | None = None) -> dict[str, float]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--backend", default="sqlite", choices=("sqlite", "postgresql", "mariadb"))
    ap.add_argument("--vms", type=int, default=2000)
    ap.add_argument("--hosts", type=int, default=20)
    ap.add_argument("--threads", type=int, default=8, help="client connections")
    ap.add_argument("--timeout", type=float, default=600.0, help="seconds per phase")
    args = ap.parse_args(argv)

    tmp = Path(tempfile.mkdtemp(prefix="nubo-bench-startup-"))
    url = create_database(args.backend, tmp)
    # The first core's dummy takes every DEPLOY at once (its default 256 in flight
    # would queue the other VMs' PROLOG behind the held DEPLOYs).
    held = (f'[drivers.dummy]\ncommand = {json.dumps(dummy_command(tmp / "data"))}\n'
            f'concurrency = {args.vms + 64}\n')
    first = NuboServer(tmp / "data", database_url=url, extra_config=held)
    try:
        os.environ["NUBO_DUMMY_LATENCY"] = "DEPLOY=3600"  # the first core's deploys hang
        try:
            first.start()
        finally:
            os.environ.pop("NUBO_DUMMY_LATENCY")
        t = time.perf_counter()
        vm0 = build(first, args.hosts, args.vms, args.threads, args.timeout)
        print(f"{args.vms} VMs in BOOT on {args.hosts} hosts ({args.backend}) "
              f"in {time.perf_counter() - t:.1f} s; killing the core (SIGKILL)")
        assert first.proc is not None
        first.proc.kill()
        first.proc.wait()

        again = NuboServer(tmp / "data", database_url=url)
        t0, wall0 = time.perf_counter(), time.time()
        again.start(timeout=args.timeout)
        try:
            listening = time.perf_counter()
            answered, lcm = first_answer(again, vm0, args.timeout)
            settled = wait_count(again, RUNNING, args.vms, args.timeout, "VMs RUNNING")
        finally:
            again.stop()
        reconciled = logged_at(again, "nubo.lcm: reconcil")
    finally:
        first.stop()
        drop_database(args.backend, url)
        shutil.rmtree(tmp, ignore_errors=True)
    figures = {"listening": listening - t0, "first_answer": answered - t0,
               "reconciled": (reconciled or wall0) - wall0, "all_running": settled - t0}
    print(f"restart with {args.vms} VMs awaiting a driver:\n"
          f"  listening after        {figures['listening']:8.2f} s\n"
          f"  first API answer after {figures['first_answer']:8.2f} s "
          f"(VM {vm0} then in LCM_STATE {lcm})\n"
          f"  all asked again after  {figures['reconciled']:8.2f} s (the core's log)\n"
          f"  all RUNNING after      {figures['all_running']:8.2f} s")
    return figures


if __name__ == "__main__":
    main()
