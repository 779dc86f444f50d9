"""Life-cycle benchmark: VMs deployed onto dummy hosts and terminated, per second.

Allocates --hosts dummy hosts (one.host.allocate(name, "dummy", "dummy", -1)) and
--vms VMs (PENDING), then places every VM itself through one.vm.deploy
(round-robin over the hosts) and waits until all are RUNNING; then terminates
every VM (one.vm.action terminate) and waits until all are DONE. Progress is
polled with one.vmpool.info and its state filter. Prints VMs per second to
RUNNING and to DONE (wall time from the first call of the phase until the last VM
got there), the core's CPU time per VM (utime+stime of the ``nubo serve``
process from /proc/PID/stat, before and after each phase; its driver
processes are shown apart), the core's RSS, and whether the API stays responsive
during the burst: the latency of a one.vm.info sent every 50 ms (p50, p99, max).

    .venv/bin/python bench/lifecycle.py                      # 10,000 VMs, 1,000 hosts, SQLite
    .venv/bin/python bench/lifecycle.py --backend postgresql
    .venv/bin/python bench/lifecycle.py --vms 1000 --hosts 100   # a quick run

With NUBO_BENCH_PROFILE=FILE the server runs under cProfile, every thread of it
(the API's, the life-cycle workers', the driver manager's), each counting its own
CPU time, and the merged stats are written to FILE when it stops
(``python -m pstats FILE``).

With NUBO_BENCH_TIMING=1 the server instead times a few functions of the write
path (CPU time of the calling thread, inclusive of what they call) and the
benchmark prints calls, ms per call and share of the core's CPU for each: a
cheaper, less distorting view than the profiler's.

The client sends pre-encoded requests over keep-alive connections from a few
threads and only checks the reply's status, so its own cost stays small next to
the server's (it still shares the cores with it).
"""
from __future__ import annotations

import argparse
import json
import os
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

from control_plane import Client, rss_mb  # noqa: E402
from dbs import create_database, drop_database  # noqa: E402
from server import NuboServer, child_pids  # noqa: E402

ACTIVE, DONE = 3, 6
RUNNING = 3
_TICKS = os.sysconf("SC_CLK_TCK")
_LCM = re.compile(rb"<LCM_STATE>(\d+)</LCM_STATE>")
_ID = re.compile(rb"<VM>\s*<ID>(\d+)</ID>")


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, from /proc/PID/stat."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


def cpu_of(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            total += cpu_seconds(pid)
        except OSError:
            pass
    return total


class Calls:
    """Pre-encoded XML-RPC calls sent from ``threads`` keep-alive connections."""

    def __init__(self, endpoint: str, threads: int) -> None:
        self.endpoint = endpoint
        self.threads = threads
        self.local = threading.local()

    def client(self) -> Client:
        if not hasattr(self.local, "c"):
            self.local.c = Client(self.endpoint)
        return self.local.c

    def run(self, bodies: list[bytes]) -> list[int]:
        """Send every body; returns the indexes of the calls that failed."""
        failed: list[int] = []

        def send(i: int) -> None:
            if not self.client().call(bodies[i]):
                failed.append(i)
        with ThreadPoolExecutor(self.threads) as pool:
            list(pool.map(send, range(len(bodies)), chunksize=64))
        return failed


def vm_template(i: int) -> str:
    return (f'NAME = "lc-{i}"\nCPU = "0.1"\nVCPU = "1"\nMEMORY = "64"\n'
            f'CONTEXT = [ NETWORK = "YES", SET_HOSTNAME = "lc{i}" ]\n')


def populate(calls: Calls, session: str, hosts: int, vms: int) -> tuple[list[int], list[int]]:
    proxy = xmlrpc.client.ServerProxy(calls.endpoint)
    host_ids = []
    for i in range(hosts):
        ok, hid, *_ = proxy.one.host.allocate(session, f"lc-node{i:04d}", "dummy", "dummy", -1)
        if not ok:
            raise SystemExit(f"host allocate failed: {hid}")
        host_ids.append(hid)
    first = proxy.one.vm.allocate(session, vm_template(0), False)
    if not first[0]:
        raise SystemExit(f"VM allocate failed: {first[1]}")
    bodies = [xmlrpc.client.dumps((session, vm_template(i), False), "one.vm.allocate").encode()
              for i in range(1, vms)]
    failed = calls.run(bodies)
    if failed:
        raise SystemExit(f"{len(failed)} VM allocations failed")
    vm_ids = [first[1] + i for i in range(vms)]  # ids are sequential on a fresh nubo
    return host_ids, vm_ids


def count_in(proxy: xmlrpc.client.ServerProxy, session: str, state: int,
             lcm: int | None) -> int:
    """VMs in STATE ``state`` (and LCM_STATE ``lcm``), from one.vmpool.info's filter."""
    ok, xml, *_ = proxy.one.vmpool.info(session, -2, -1, -1, state)
    if not ok:
        raise SystemExit(f"one.vmpool.info failed: {xml}")
    data = xml.encode()
    if lcm is None:
        return len(_ID.findall(data))
    return sum(1 for m in _LCM.findall(data) if int(m) == lcm)


def phase(name: str, calls: Calls, server: NuboServer, bodies: list[bytes], state: int,
          lcm: int | None, total: int, timeout: float) -> dict[str, float]:
    """Send the calls, then poll until ``total`` VMs are in (state, lcm)."""
    pid = server.proc.pid
    drivers = child_pids(pid)
    cpu0, dcpu0 = cpu_seconds(pid), cpu_of(drivers)
    t0 = time.perf_counter()
    done_sending: list[float] = []
    errors: list[int] = []

    def send() -> None:
        errors.extend(calls.run(bodies))
        done_sending.append(time.perf_counter() - t0)

    sender = threading.Thread(target=send)
    probe_stop = threading.Event()
    latencies: list[float] = []
    probe = threading.Thread(target=probe_latency, args=(server, probe_stop, latencies))
    sender.start()
    probe.start()
    proxy = xmlrpc.client.ServerProxy(server.endpoint)
    seen = 0
    # A listing of 10,000 VMs costs the server (and this client) a few ms: poll
    # often enough for a fine wall time, rarely enough not to slow what is measured.
    interval = min(0.5, max(0.1, total / 20000))
    while True:
        time.sleep(max(interval, 0.25) if sender.is_alive() else interval)
        if not sender.is_alive():
            seen = count_in(proxy, server.session, state, lcm)
            if seen >= total:
                break
        if time.perf_counter() - t0 > timeout:
            raise SystemExit(f"{name}: only {seen}/{total} after {timeout:.0f} s")
    wall = time.perf_counter() - t0
    probe_stop.set()
    probe.join()
    sender.join()
    if errors:
        raise SystemExit(f"{name}: {len(errors)} calls failed")
    cpu = cpu_seconds(pid) - cpu0
    dcpu = cpu_of(drivers) - dcpu0
    latencies.sort()
    return {"wall": wall, "sent": done_sending[0], "cpu": cpu, "driver_cpu": dcpu,
            "rss": rss_mb(pid), "p50": _quantile(latencies, 0.5),
            "p99": _quantile(latencies, 0.99), "max": latencies[-1] if latencies else 0.0}


def _quantile(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, int(q * len(values)))] if values else 0.0


def probe_latency(server: NuboServer, stop: threading.Event, out: list[float]) -> None:
    """Is the API responsive during the burst? one.vm.info of VM 0 every 50 ms, timed."""
    client = Client(server.endpoint)
    body = xmlrpc.client.dumps((server.session, 0), "one.vm.info").encode()
    while not stop.wait(0.05):
        t = time.perf_counter()
        client.call(body)
        out.append(time.perf_counter() - t)


def show(name: str, r: dict[str, float], vms: int) -> None:
    print(f"  {name:12} {vms / r['wall']:8.0f} VMs/s   ({vms} VMs in {r['wall']:.1f} s, calls "
          f"answered in {r['sent']:.1f} s)   core CPU {r['cpu'] / vms * 1000:.2f} ms/VM "
          f"({r['cpu'] / r['wall'] * 100:.0f} % of a core), drivers "
          f"{r['driver_cpu'] / vms * 1000:.2f} ms/VM   RSS {r['rss']:.0f} MB\n"
          f"  {'':12} one.vm.info during the burst: p50 {r['p50'] * 1000:.1f} ms, "
          f"p99 {r['p99'] * 1000:.1f} ms, max {r['max'] * 1000:.1f} ms")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--backend", choices=("sqlite", "postgresql", "mariadb"), default="sqlite")
    ap.add_argument("--hosts", type=int, default=1000)
    ap.add_argument("--vms", type=int, default=10000)
    ap.add_argument("--threads", type=int, default=8, help="client connections (default 8)")
    ap.add_argument("--timeout", type=float, default=1800, help="seconds per phase")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="nubo-lcbench-"))
    url = create_database(args.backend, tmp)
    extra = 'log_level = "WARNING"\n'
    profile = os.environ.get("NUBO_BENCH_PROFILE")
    timing = tmp / "timing.json" if os.environ.get("NUBO_BENCH_TIMING") else None
    if profile:
        _wrap_server(f"OUT = {os.path.abspath(profile)!r}\n" + _PROFILED_SERVE)
    elif timing:
        _wrap_server(f"OUT = {str(timing)!r}\n" + _TIMED_SERVE)
    server = NuboServer(tmp / "data", database_url=url, extra_config=extra).start()
    try:
        calls = Calls(server.endpoint, args.threads)
        print(f"nubo on {args.backend} (pid {server.proc.pid}): {args.hosts} dummy hosts, "
              f"{args.vms} VMs; load average {os.getloadavg()[0]:.2f}")
        t = time.perf_counter()
        host_ids, vm_ids = populate(calls, server.session, args.hosts, args.vms)
        print(f"  allocated in {time.perf_counter() - t:.1f} s; RSS "
              f"{rss_mb(server.proc.pid):.0f} MB")
        s = server.session
        deploys = [xmlrpc.client.dumps((s, vm, host_ids[n % len(host_ids)], False, -1),
                                       "one.vm.deploy").encode()
                   for n, vm in enumerate(vm_ids)]
        running = phase("deploy", calls, server, deploys, ACTIVE, RUNNING, len(vm_ids),
                        args.timeout)
        show("to RUNNING", running, len(vm_ids))
        check_hosts(server, host_ids, len(vm_ids))
        terms = [xmlrpc.client.dumps((s, "terminate", vm), "one.vm.action").encode()
                 for vm in vm_ids]
        done = phase("terminate", calls, server, terms, DONE, None, len(vm_ids), args.timeout)
        show("to DONE", done, len(vm_ids))
        print(f"  load average after: {os.getloadavg()[0]:.2f}")
        server_cpu = cpu_seconds(server.proc.pid)
    finally:
        server.stop()
        drop_database(args.backend, url)
        timings = json.loads(timing.read_text()) if timing and timing.exists() else None
        shutil.rmtree(tmp, ignore_errors=True)
    if timings is not None:
        show_timing(timings, server_cpu)


def show_timing(timings: dict[str, list[float]], server_cpu: float) -> None:
    print(f"\nwrite-path timing (server CPU {server_cpu:.1f} s, inclusive, nested):")
    for name, (calls, seconds) in sorted(timings.items(), key=lambda kv: -kv[1][1]):
        print(f"  {name:32} {int(calls):7d} calls {seconds / max(calls, 1) * 1000:7.3f} ms "
              f"{seconds / server_cpu * 100:5.1f} %")


def check_hosts(server: NuboServer, host_ids: list[int], vms: int) -> None:
    """Every VM counted once: the RUNNING_VMS of the hosts add up to the VMs."""
    ok, xml, *_ = xmlrpc.client.ServerProxy(server.endpoint).one.hostpool.info(server.session)
    counted = sum(int(m) for m in re.findall(r"<RUNNING_VMS>(\d+)</RUNNING_VMS>", xml))
    if counted != vms:
        raise SystemExit(f"hosts count {counted} running VMs, expected {vms}")


_PROFILED_SERVE = """
import atexit, cProfile, pstats, runpy, sys, threading, time
profiles = []
def profiled(run):
    def wrapper(self):
        p = cProfile.Profile(time.thread_time)  # CPU time, not waiting
        profiles.append(p)
        p.enable()
        try:
            run(self)
        finally:
            p.disable()
    return wrapper
threading.Thread._bootstrap_inner = profiled(threading.Thread._bootstrap_inner)
def dump():
    main.disable()
    stats = pstats.Stats(main)
    for p in profiles:
        p.disable()
        try:
            stats.add(p)
        except (TypeError, ValueError):
            pass
    stats.dump_stats(OUT)
atexit.register(dump)
main = cProfile.Profile(time.thread_time)
main.enable()
sys.argv = ["nubo", *sys.argv[1:]]
runpy.run_module("nubo", run_name="__main__")
"""


_TIMED_SERVE = """
import atexit, importlib, json, runpy, sys, threading, time
totals = {}
lock = threading.Lock()
def timed(name, fn):
    def wrapper(*a, **kw):
        t0 = time.thread_time()
        try:
            return fn(*a, **kw)
        finally:
            dt = time.thread_time() - t0
            with lock:
                c = totals.setdefault(name, [0, 0.0])
                c[0] += 1
                c[1] += dt
    return wrapper
def patch(module, path, label=None):
    obj = importlib.import_module(module)
    *owner, attr = path.split(".")
    for part in owner:
        obj = getattr(obj, part)
    setattr(obj, attr, timed(label or path, getattr(obj, attr)))
for spec in ("nubo.api.rm RequestManager.dispatch", "nubo.core.cloud Cloud.authenticate",
             "nubo.core.lcm LifeCycleManager.act", "nubo.core.lcm LifeCycleManager.answered",
             "nubo.core.lcm LifeCycleManager._outbound", "nubo.core.lcm LifeCycleManager._send",
             "nubo.core.lcm load", "nubo.core.lcm commit",
             "nubo.core.vm_commit _store_awaited", "nubo.store.pools Pool.update",
             "nubo.store.pools Pool.get", "nubo.store.pools Pool.find",
             "nubo.model.xmlobj parse", "nubo.model.xmlobj render"):
    module, path = spec.split()
    try:
        patch(module, path, f"{module.rsplit('.', 1)[1]}.{path}")
    except (ImportError, AttributeError) as e:
        print(f"timing: cannot wrap {spec}: {e}", file=sys.stderr)
def dump():
    with open(OUT, "w") as f:
        json.dump(totals, f)
atexit.register(dump)
sys.argv = ["nubo", *sys.argv[1:]]
runpy.run_module("nubo", run_name="__main__")
"""


def _wrap_server(code: str) -> None:
    """Make NuboServer start ``nubo serve`` through ``code`` (a profiling wrapper)."""
    import subprocess

    import server as server_module
    real = subprocess.Popen

    class Popen(real):  # type: ignore[misc,valid-type]
        def __init__(self, cmd, *a, **kw):  # type: ignore[no-untyped-def]
            if list(cmd[1:3]) == ["-m", "nubo"]:
                cmd = [cmd[0], "-c", code, *cmd[3:]]
            super().__init__(cmd, *a, **kw)
    server_module.subprocess = type(sys)("subprocess_profiled")
    server_module.subprocess.__dict__.update(subprocess.__dict__)
    server_module.subprocess.Popen = Popen


if __name__ == "__main__":
    main()
