"""Driver benchmark: actions per second through the DriverManager to one dummy driver process.

Deploys --vms VMs spread over --hosts dummy hosts (each DEPLOY carries a VM
document of --payload-kb KB), polls every VM, monitors every host, and shuts
every VM down, keeping --window actions outstanding (the callback form, as the
life-cycle manager would use it). Prints actions/s per phase and the CPU time
spent per action in the core (this process) and in the driver.

    .venv/bin/python bench/dummy_driver.py
    .venv/bin/python bench/dummy_driver.py --vms 50000 --hosts 5000 --window 2000
"""
from __future__ import annotations

import argparse
import os
import resource
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nubo.drivers import DriverManager, DriverResult, DriverSpec  # noqa: E402


def vm_document(oid: int, kb: int) -> bytes:
    filler = "<CONTEXT><BLOB><![CDATA[" + "x" * max(0, kb * 1024 - 300) + "]]></BLOB></CONTEXT>"
    return (f"<VM><ID>{oid}</ID><NAME>bench-{oid}</NAME><TEMPLATE><CPU>0.5</CPU>"
            f"<MEMORY>512</MEMORY>{filler}</TEMPLATE><USER_TEMPLATE/></VM>").encode()


def cpu_seconds(pid: int) -> float:
    """User+system CPU of a process from /proc (the driver is still running)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def self_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def phase(manager: DriverManager, name: str, jobs: list[tuple[str, int, str, bytes]],
          window: int) -> None:
    slots = threading.Semaphore(window)
    done = threading.Event()
    failures: list[DriverResult] = []
    remaining = [len(jobs)]
    lock = threading.Lock()

    def on_result(r: DriverResult) -> None:
        slots.release()
        with lock:
            if not r.success:
                failures.append(r)
            remaining[0] -= 1
            if remaining[0] == 0:
                done.set()

    pid = manager.pid("dummy")
    assert pid is not None
    core0, drv0, t0 = self_cpu(), cpu_seconds(pid), time.perf_counter()
    for action, oid, host, payload in jobs:
        slots.acquire()
        manager.submit_callback("dummy", action, oid, host, payload, on_result)
    done.wait()
    elapsed = time.perf_counter() - t0
    core, drv = self_cpu() - core0, cpu_seconds(pid) - drv0
    n = len(jobs)
    print(f"{name:<9} {n:>7} actions  {elapsed:6.2f} s  {n / elapsed:>8.0f} actions/s  "
          f"core {core / n * 1e6:5.0f} us/action  driver {drv / n * 1e6:5.0f} us/action"
          + (f"  FAILED {len(failures)}: {failures[0].info}" if failures else ""))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--vms", type=int, default=20_000)
    ap.add_argument("--hosts", type=int, default=2_000)
    ap.add_argument("--window", type=int, default=1_000, help="actions outstanding at once")
    ap.add_argument("--concurrency", type=int, default=1_000, help="the driver's concurrency")
    ap.add_argument("--payload-kb", type=int, default=2, help="size of each DEPLOY document")
    args = ap.parse_args()

    spec = DriverSpec("dummy", [sys.executable, "-m", "nubo.drivers.dummy", "vmm,im"],
                      concurrency=args.concurrency)
    with DriverManager([spec]) as manager:
        if not manager.wait_ready(30):
            print("the dummy driver did not start", file=sys.stderr)
            return 1
        print(f"{args.vms} VMs on {args.hosts} hosts, window {args.window}, "
              f"driver concurrency {args.concurrency}, DEPLOY payload {args.payload_kb} KB")
        host = [f"host{i % args.hosts}" for i in range(args.vms)]
        phase(manager, "DEPLOY", [("DEPLOY", i, host[i], vm_document(i, args.payload_kb))
                                  for i in range(args.vms)], args.window)
        phase(manager, "POLL", [("POLL", i, host[i], b"") for i in range(args.vms)], args.window)
        phase(manager, "MONITOR", [("MONITOR", h, f"host{h}", b"") for h in range(args.hosts)],
              args.window)
        phase(manager, "SHUTDOWN", [("SHUTDOWN", i, host[i], b"") for i in range(args.vms)],
              args.window)
        stats = manager.stats()["dummy"]
        print(f"driver: {stats.succeeded} succeeded, {stats.failed} failed, "
              f"{stats.timeouts} timeouts, {stats.starts} start(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
