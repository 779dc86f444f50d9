"""Scheduler benchmark: 2,500 dummy hosts, 10,000 PENDING VMs with 3-5 clause requirements.

1. Allocates --hosts dummy hosts with varied attributes (ZONE, RACK, CPU_MHZ, TIER,
   SSD, GPU) and capacities (DUMMY_TOTALCPU / DUMMY_TOTALMEMORY), lets host
   monitoring make them MONITORED, then restarts ``nubo serve`` with monitoring
   off (states and capacities are kept) so that probes do not compete with deploys.
2. Idle cloud: starts ``nubo sched`` (packing) and times one VM from one.vm.allocate
   until it is ACTIVE (dispatched) and RUNNING; stops the scheduler.
3. Allocates --vms VMs from --templates distinct templates (requirements of 3 to 5
   clauses, sizes from 0.1 CPU / 128 MB to 1 CPU / 2 GB), all PENDING.
4. One full matchmaking cycle, no deploys, in this process: the pools fetched over
   XML-RPC, parsed into records (nubo.sched.snapshot) and placed (nubo.sched.cycle);
   best of --cycles runs, each phase timed. Placement quality: hosts used against a
   first-fit-decreasing placement of the same VMs under the same requirements.
5. Starts ``nubo sched`` again and times until every VM is RUNNING (one.vmpool.info,
   state filter), checking the hosts' RUNNING_VMS add up.

    .venv/bin/python bench/scheduler.py                        # 2,500 hosts, 10,000 VMs
    .venv/bin/python bench/scheduler.py --hosts 250 --vms 1000  # a quick run
"""
from __future__ import annotations

import argparse
import copy
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import xmlrpc.client
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from lifecycle import ACTIVE, RUNNING, Calls, check_hosts, count_in  # noqa: E402
from dbs import create_database, drop_database  # noqa: E402
from server import NuboServer  # noqa: E402

from nubo.expr import requirements  # noqa: E402
from nubo.sched import snapshot  # noqa: E402
from nubo.sched.cycle import run_cycle  # noqa: E402
from nubo.sched.records import HostView  # noqa: E402
from nubo.sched.policies import SchedConfig  # noqa: E402

MONITORED = 2
ZONES, RACKS, SPEEDS = ["z1", "z2", "z3", "z4"], 50, [1800, 2200, 2600, 3000, 3400]
CLAUSES = ['CPU_MHZ > 2000', 'CPU_MHZ > 2500', 'CPU_MHZ < 3200', 'ZONE = "z1"',
           'ZONE = "z[12]"', 'ZONE != "z4"', 'TIER = "gold"', 'TIER = "silver"',
           'TIER != "bronze"', 'SSD = "yes"', '!(GPU = "yes")', 'RACK > 10', 'RACK < 40',
           'NAME = "sb-node1*"', 'HYPERVISOR = "dummy"', 'FREE_CPU > 200']


def host_spec(i: int, rnd: random.Random) -> dict[str, str]:
    return {"NAME": f"sb-node{i:04d}", "ZONE": ZONES[i % 4], "RACK": str(i % RACKS),
            "CPU_MHZ": str(rnd.choice(SPEEDS)), "TIER": rnd.choice(["gold", "silver", "bronze"]),
            "SSD": rnd.choice(["yes", "no"]), "GPU": "yes" if i % 10 == 0 else "no",
            "HYPERVISOR": "dummy", "DUMMY_TOTALCPU": str(rnd.choice([800, 1600, 2400, 3200])),
            "DUMMY_TOTALMEMORY": str(rnd.choice([16, 32, 48, 64]) * 1024 * 1024)}


def host_attributes(spec: dict[str, str]) -> str:
    return "".join(f'{k} = "{v}"\n' for k, v in spec.items() if k not in ("NAME", "HYPERVISOR"))


def vm_templates(n: int, specs: list[dict[str, str]], rnd: random.Random) -> list[str]:
    """Distinct templates whose requirements (3-5 clauses) at least 10 % of the hosts meet."""
    records = [{**{k: (v,) for k, v in spec.items()}, "FREE_CPU": (spec["DUMMY_TOTALCPU"],)}
               for spec in specs]
    out: list[str] = []
    while len(out) < n:
        clauses = rnd.sample(CLAUSES, rnd.randint(3, 5))
        text = " & ".join(clauses) if rnd.random() < 0.7 else \
            f"({' & '.join(clauses[:-1])}) | {clauses[-1]}"
        req = requirements(text)
        if sum(1 for r in records if req.matches(r)) < len(records) / 10:
            continue
        cpu = rnd.choice(["0.1", "0.25", "0.5", "1"])
        mem = rnd.choice([128, 256, 512, 1024, 2048])
        tmpl = (f'CPU = "{cpu}"\nMEMORY = "{mem}"\nSCHED_REQUIREMENTS = "'
                + text.replace('"', '\\"') + '"\n')
        if tmpl not in out:
            out.append(tmpl)
    return out


def start_scheduler(server: NuboServer, policy: str = "packing") -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "nubo", "sched", "--endpoint", server.endpoint, "--auth",
         str(server.data_dir / "one_auth"), "--policy", policy, "--log-level", "WARNING"],
        stdin=subprocess.DEVNULL)


def stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def wait_until(what: str, probe, timeout: float, interval: float = 0.005) -> float:
    t0 = time.perf_counter()
    while not probe():
        if time.perf_counter() - t0 > timeout:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(interval)
    return time.perf_counter() - t0


def populate_hosts(calls: Calls, session: str, specs: list[dict[str, str]]) -> None:
    n = len(specs)
    proxy = xmlrpc.client.ServerProxy(calls.endpoint)
    bodies = [xmlrpc.client.dumps((session, spec["NAME"], "dummy", "dummy", -1),
                                  "one.host.allocate").encode() for spec in specs]
    if calls.run(bodies):
        raise SystemExit("host allocation failed")
    bodies = [xmlrpc.client.dumps((session, i, host_attributes(spec), 1),
                                  "one.host.update").encode() for i, spec in enumerate(specs)]
    if calls.run(bodies):
        raise SystemExit("host update failed")
    wait_until("every host MONITORED", lambda: monitored(proxy, session) >= n, 600, 1.0)
    # The first probe may run before the update: wait for the capacities of the template.
    small = sum(1 for spec in specs if spec["DUMMY_TOTALCPU"] == "800")
    wait_until("the hosts' capacities", lambda: proxy.one.hostpool.info(session)[1].count(
        "<TOTAL_CPU>800</TOTAL_CPU>") == small, 600, 1.0)


def monitored(proxy: xmlrpc.client.ServerProxy, session: str) -> int:
    ok, xml, *_ = proxy.one.hostpool.info(session)
    return xml.count(f"<STATE>{MONITORED}</STATE>")


def full_cycle(server: NuboServer, config: SchedConfig):
    """Fetch, parse and place once, as the scheduler's cycle does, without dispatching."""
    proxy = xmlrpc.client.ServerProxy(server.endpoint)
    s = server.session
    t0 = time.perf_counter()
    vm_xml = proxy.one.vmpool.infoextended(s, -2, -1, -1, 1)[1]
    host_xml = proxy.one.hostpool.info(s)[1]
    cluster_xml = proxy.one.clusterpool.info(s)[1]
    ds_xml = proxy.one.datastorepool.info(s, -2, -1, -1)[1]
    t1 = time.perf_counter()
    vms = snapshot.parse_vms(vm_xml)
    hosts = snapshot.parse_hosts(host_xml, snapshot.cluster_templates(cluster_xml))
    datastores = snapshot.parse_datastores(ds_xml)
    t2 = time.perf_counter()
    start = copy.deepcopy(hosts)
    result = run_cycle(hosts, datastores, vms, config)
    t3 = time.perf_counter()
    return {"fetch": t1 - t0, "parse": t2 - t1, "decide": t3 - t2, "total": t3 - t0,
            "result": result, "hosts": start, "vms": vms}


def first_fit_decreasing(hosts, vms) -> tuple[int, int]:
    """Hosts used (and VMs placed) by FFD: biggest VMs first, each on the lowest-id host
    that meets its requirements and has room."""
    hosts = copy.deepcopy(hosts)
    views = [HostView(copy.deepcopy(h)) for h in hosts]
    order = sorted(vms, key=lambda v: (-(v.cpu / 3200 + v.mem / (64 << 20)), v.id))
    used, placed = set(), 0
    for vm in order:
        req = requirements(vm.requirements)
        for h, view in zip(hosts, views):
            if h.state == MONITORED and h.fits(vm.cpu, vm.mem) and req.matches(view):
                h.add(vm.cpu, vm.mem)
                used.add(h.id)
                placed += 1
                break
    return len(used), placed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--backend", choices=("sqlite", "postgresql", "mariadb"), default="sqlite")
    ap.add_argument("--hosts", type=int, default=2500)
    ap.add_argument("--vms", type=int, default=10000)
    ap.add_argument("--templates", type=int, default=36)
    ap.add_argument("--cycles", type=int, default=3, help="full cycles timed (best shown)")
    ap.add_argument("--threads", type=int, default=8)
    ap.add_argument("--timeout", type=float, default=1800)
    ap.add_argument("--seed", type=int, default=4)
    args = ap.parse_args()
    rnd = random.Random(args.seed)
    tmp = Path(tempfile.mkdtemp(prefix="nubo-schedbench-"))
    url = create_database(args.backend, tmp)
    base = 'log_level = "WARNING"\nscheduler = false\n'
    server = NuboServer(tmp / "data", database_url=url,
                        extra_config=base + "host_monitoring_interval = 15\n").start()
    try:
        calls = Calls(server.endpoint, args.threads)
        print(f"nubo on {args.backend}: {args.hosts} dummy hosts, {args.vms} VMs from "
              f"{args.templates} templates; load average {os.getloadavg()[0]:.2f}")
        t = time.perf_counter()
        specs = [host_spec(i, rnd) for i in range(args.hosts)]
        populate_hosts(calls, server.session, specs)
        print(f"  hosts allocated and MONITORED in {time.perf_counter() - t:.1f} s")
        server.stop()
        server = NuboServer(tmp / "data", database_url=url,
                            extra_config=base + "host_monitoring_interval = 0\n").start()
        calls = Calls(server.endpoint, args.threads)
        proxy = xmlrpc.client.ServerProxy(server.endpoint)
        s = server.session

        sched = start_scheduler(server)
        time.sleep(2.0)  # settled into its wait
        t0 = time.perf_counter()
        ok, vm, *_ = proxy.one.vm.allocate(s, 'NAME = "idle"\nCPU = 0.1\nMEMORY = 64', False)
        dispatched = wait_until("the idle VM ACTIVE", lambda: proxy.one.vm.info(s, vm)[1]
                                .find("<STATE>3</STATE>") >= 0, 30)
        running = wait_until("the idle VM RUNNING", lambda: "<LCM_STATE>3</LCM_STATE>" in
                             proxy.one.vm.info(s, vm)[1], 30) + dispatched
        print(f"  idle cloud: first VM dispatched {dispatched * 1000:.0f} ms after its "
              f"allocate, RUNNING after {running * 1000:.0f} ms")
        proxy.one.vm.action(s, "terminate", vm)
        stop(sched)

        templates = vm_templates(args.templates, specs, rnd)
        bodies = [xmlrpc.client.dumps((s, f'NAME = "sb-{i}"\n' + templates[i % len(templates)],
                                       False), "one.vm.allocate").encode()
                  for i in range(args.vms)]
        t = time.perf_counter()
        if calls.run(bodies):
            raise SystemExit("VM allocation failed")
        print(f"  {args.vms} VMs allocated in {time.perf_counter() - t:.1f} s")

        config = SchedConfig(policy="packing")
        runs = [full_cycle(server, config) for _ in range(args.cycles)]
        best = min(runs, key=lambda r: r["total"])
        result = best["result"]
        print(f"  one full cycle (best of {args.cycles}): {best['total']:.2f} s = fetch "
              f"{best['fetch']:.2f} s + parse {best['parse']:.2f} s + decide "
              f"{best['decide']:.2f} s; {len(result.placements)} placed, "
              f"{len(result.messages)} with a message, {result.groups} groups")
        used = len({p.host_id for p in result.placements})
        ffd_used, ffd_placed = first_fit_decreasing(best["hosts"], best["vms"])
        print(f"  placement quality: {used} hosts used for {len(result.placements)} VMs; "
              f"first-fit-decreasing: {ffd_used} hosts for {ffd_placed} VMs")

        sched = start_scheduler(server)
        t0 = time.perf_counter()
        try:
            wall = wait_until("every VM RUNNING", lambda: count_in(proxy, s, ACTIVE, RUNNING)
                              >= args.vms, args.timeout, 0.5)
        finally:
            stop(sched)
        print(f"  all {args.vms} RUNNING {wall:.1f} s after the scheduler started "
              f"({args.vms / wall:.0f} VMs/s)")
        check_hosts(server, list(range(args.hosts)), args.vms)
        print(f"  load average after: {os.getloadavg()[0]:.2f}")
    finally:
        server.stop()
        drop_database(args.backend, url)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
