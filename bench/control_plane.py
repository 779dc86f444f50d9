"""Control-plane benchmark: the shape of OpenNebula 6.10's published scalability test.

Populates a nubo with 1,250 hosts and 20,000 VMs whose templates are ~10 KB,
then drives one.host.info, one.hostpool.info, one.vm.info and one.vmpool.info
(30/20/30/20 % of calls) open-loop at fixed request rates, and prints the mean
and p95 response time per method, the server's RSS and the database size.
Finally it raises the rate until nubo stops keeping up.

    .venv/bin/python bench/control_plane.py --backend sqlite
    .venv/bin/python bench/control_plane.py --backend postgresql --rates 10,20,30
    .venv/bin/python bench/control_plane.py --hosts 100 --vms 5000 --populate-only

Each VM names images 0-3 and networks net0-net2 (with a fixed IP in each), so 20,000
VMs hold 60,000 leases and 80,000 image references, as a real cloud's would; the
population prints its rate per thousand VMs, which shows whether taking a lease or an
image reference gets dearer as the cloud fills.

The client sends pre-encoded requests over keep-alive connections and only
checks the reply's status, so its own cost stays small next to the server's.
"""
from __future__ import annotations

import argparse
import http.client
import random
import statistics
import sys
import tempfile
import threading
import time
import xmlrpc.client
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlparse

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from dbs import create_database, drop_database  # noqa: E402
from server import NuboServer  # noqa: E402

MIX = (("one.host.info", 0.30), ("one.hostpool.info", 0.20), ("one.vm.info", 0.30),
       ("one.vmpool.info", 0.20))
ONE_6_10_AT_30 = {"one.host.info": 0.06, "one.hostpool.info": 0.07, "one.vm.info": 0.06,
                  "one.vmpool.info": 1.27}


def host_template(i: int) -> str:
    """What a monitored KVM host reports about itself (~1.5 KB)."""
    attrs = {
        "ARCH": "x86_64", "CPUSPEED": "2600", "HOSTNAME": f"node{i:04d}.rack{i // 40}.example",
        "HYPERVISOR": "kvm", "MODELNAME": "Intel(R) Xeon(R) Gold 6240R CPU @ 2.40GHz",
        "KVM_CPU_MODEL": "Cascadelake-Server-noTSX", "KVM_MACHINES": " ".join(
            f"pc-i440fx-{v} pc-q35-{v}" for v in ("6.2", "7.0", "7.1", "7.2", "8.0")),
        "RESERVED_CPU": "", "RESERVED_MEM": "", "VERSION": "6.10.0",
        "VM_MAD": "kvm", "IM_MAD": "kvm", "RACK": f"r{i // 40:02d}", "ZONE_LABEL": "eu-west",
    }
    text = "".join(f'{k} = "{v}"\n' for k, v in attrs.items())
    text += "".join(f'NETWORK_IF_{n} = [ NAME = "eth{n}", SPEED = "10000", MTU = "9000" ]\n'
                    for n in range(4))
    text += 'KVM_CPU_FEATURES = "' + ",".join(f"feat{n}" for n in range(90)) + '"\n'
    return text


def vm_template(i: int) -> str:
    """A VM template of ~10 KB: disks, NICs, a large CONTEXT and some user attributes."""
    key = "ssh-ed25519 " + "A" * 68 + f" user{i}@laptop"
    script = "#!/bin/sh\\n" + "".join(f"echo step {n} >> /var/log/init.log\\n" for n in range(110))
    disks = "".join(f'DISK = [ IMAGE_ID = "{d}", TARGET = "vd{chr(97 + d)}", DEV_PREFIX = "vd", '
                    f'CACHE = "none", IO = "native", DRIVER = "qcow2", SIZE = "{10240 * (d + 1)}" ]\n'
                    for d in range(4))
    nics = "".join(f'NIC = [ NETWORK = "net{n}", NETWORK_UNAME = "oneadmin", MODEL = "virtio", '
                   f'SECURITY_GROUPS = "0", IP = "10.{n}.{i // 250 % 250}.{i % 250 + 1}" ]\n'
                   for n in range(3))
    return (f'NAME = "bench-vm-{i}"\nCPU = "0.5"\nVCPU = "2"\nMEMORY = "2048"\n'
            f'OS = [ ARCH = "x86_64", BOOT = "disk0" ]\n'
            f'GRAPHICS = [ TYPE = "VNC", LISTEN = "0.0.0.0", KEYMAP = "en-us" ]\n'
            f'{disks}{nics}'
            f'CONTEXT = [ NETWORK = "YES", SSH_PUBLIC_KEY = "{key}\\n{key}\\n{key}", '
            f'START_SCRIPT = "{script}", SET_HOSTNAME = "vm{i}", TOKEN = "YES", '
            f'REPORT_READY = "YES", USERNAME = "cloud", FILES_DS = "" ]\n'
            f'DESCRIPTION = "{"benchmark VM " * 330}"\n'
            f'LABELS = "bench,tier{i % 3},team{i % 7}"\nLOGO = "images/logos/ubuntu.png"\n'
            f'SCHED_REQUIREMENTS = "HYPERVISOR = \\"kvm\\" & RACK != \\"r99\\""\n'
            f'SCHED_RANK = "FREE_CPU"\nINPUTS_ORDER = ""\nHYPERVISOR = "kvm"\n')


class Client:
    """A keep-alive HTTP connection sending pre-encoded XML-RPC calls."""

    def __init__(self, endpoint: str) -> None:
        u = urlparse(endpoint)
        self.path = u.path
        self.conn = http.client.HTTPConnection(u.hostname, u.port, timeout=600)

    def call(self, body: bytes) -> bool:
        try:
            data = self._post(body)
        except (ConnectionError, http.client.RemoteDisconnected):
            # The server closed an idle keep-alive connection: reconnect once.
            self.conn.close()
            data = self._post(body)
        return b"<boolean>1</boolean>" in data[:300]

    def _post(self, body: bytes) -> bytes:
        self.conn.request("POST", self.path, body, {"Content-Type": "text/xml"})
        return self.conn.getresponse().read()


def add_images_and_networks(p: xmlrpc.client.ServerProxy, session: str, vms: int) -> None:
    """What the VM templates refer to: images 0-3 and networks net0-net2, each with an
    address range holding every VM's fixed IP (VMs take their images and leases at
    allocate, so these must exist first)."""
    for d in range(4):
        r = p.one.image.allocate(session, f'NAME = "bench-disk{d}"\nTYPE = "DATABLOCK"\n'
                                 f'SIZE = "{10240 * (d + 1)}"', 1)
        if not r[0] or r[1] != d:
            raise SystemExit(f"image {d}: {r[1]}")
    deadline = time.monotonic() + 120  # LOCKED while their datastore driver makes them
    for d in range(4):
        while True:
            r = p.one.image.info(session, d, False)
            state = int(r[1].split("<STATE>", 1)[1].split("<", 1)[0]) if r[0] else -1
            if state == 1:  # READY
                break
            if state == 5 or time.monotonic() > deadline:  # ERROR, or never made
                raise SystemExit(f"image {d} is not READY (state {state})")
            time.sleep(0.05)
    size = (vms // 250 + 1) * 256
    for n in range(3):
        r = p.one.vn.allocate(session, f'NAME = "net{n}"\nVN_MAD = "dummy"\nBRIDGE = "br{n}"\n'
                              f'AR = [ TYPE = "IP4", IP = "10.{n}.0.0", SIZE = "{size}" ]', -1)
        if not r[0]:
            raise SystemExit(f"network net{n}: {r[1]}")


def populate(endpoint: str, session: str, hosts: int, vms: int, threads: int = 4) -> float:
    start = time.perf_counter()
    local = threading.local()
    errors: list[str] = []

    def proxy() -> xmlrpc.client.ServerProxy:
        if not hasattr(local, "p"):
            local.p = xmlrpc.client.ServerProxy(endpoint)
        return local.p

    def add_host(i: int) -> None:
        p = proxy()
        r = p.one.host.allocate(session, f"node{i:04d}", "dummy", "dummy", -1)
        if not r[0]:
            errors.append(r[1])
            return
        p.one.host.update(session, r[1], host_template(i), 0)

    def add_vm(i: int) -> None:
        r = proxy().one.vm.allocate(session, vm_template(i), False)
        if not r[0]:
            errors.append(r[1])

    add_images_and_networks(proxy(), session, vms)
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(add_host, range(hosts)))
        for chunk in range(0, vms, 1000):
            began = time.perf_counter()
            list(pool.map(add_vm, range(chunk, min(vms, chunk + 1000))))
            done, took = min(vms, chunk + 1000), time.perf_counter() - began
            print(f"  populated {done}/{vms} VMs ({time.perf_counter() - start:.0f} s; "
                  f"{(done - chunk) / took:.0f} VMs/s for VMs {chunk}-{done - 1})",
                  file=sys.stderr)
    if errors:
        raise SystemExit(f"population failed: {errors[:3]}")
    return time.perf_counter() - start


def drive(endpoint: str, session: str, rate: float, seconds: float, hosts: int, vms: int,
          host_ids: list[int], vm_ids: list[int]) -> dict[str, list[float]]:
    """Open-loop load: calls start on schedule whether or not earlier ones finished."""
    rnd = random.Random(rate)
    names = [m for m, _ in MIX]
    weights = [w for _, w in MIX]
    total = int(rate * seconds)
    plan = []
    for n in range(total):
        method = rnd.choices(names, weights)[0]
        if method == "one.host.info":
            args = (session, rnd.choice(host_ids))
        elif method == "one.vm.info":
            args = (session, rnd.choice(vm_ids))
        elif method == "one.vmpool.info":
            args = (session, -2, -1, -1, -1)
        else:
            args = (session,)
        plan.append((n / rate, method, xmlrpc.client.dumps(args, method).encode()))
    results: dict[str, list[float]] = {m: [] for m in names}
    failures = []
    local = threading.local()
    t0 = time.perf_counter() + 0.2

    def run(item: tuple[float, str, bytes]) -> None:
        at, method, body = item
        delay = t0 + at - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        if not hasattr(local, "c"):
            local.c = Client(endpoint)
        begin = time.perf_counter()
        ok = local.c.call(body)
        # Response time counts from the scheduled start: queueing is part of it.
        results[method].append(time.perf_counter() - min(begin, t0 + at))
        if not ok:
            failures.append(method)

    with ThreadPoolExecutor(max_workers=64) as pool:
        list(pool.map(run, plan))
    if failures:
        raise SystemExit(f"{len(failures)} calls failed, e.g. {failures[:3]}")
    return results


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1] if len(values) >= 2 else values[0]


def report(rate: float, results: dict[str, list[float]], seconds: float) -> bool:
    """Print one rate's figures; True when nubo kept up (p95 under 1 s and no backlog)."""
    print(f"\n{rate:g} req/s for {seconds:g} s")
    print(f"  {'method':20} {'calls':>6} {'mean s':>8} {'p95 s':>8}   OpenNebula 6.10 @30")
    kept_up = True
    for method, values in results.items():
        if not values:
            continue
        mean, q95 = statistics.fmean(values), p95(values)
        print(f"  {method:20} {len(values):6d} {mean:8.4f} {q95:8.4f}   {ONE_6_10_AT_30[method]:.2f}")
        kept_up &= q95 < 1.0
    return kept_up


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--backend", choices=("sqlite", "postgresql", "mariadb"), default="sqlite")
    ap.add_argument("--hosts", type=int, default=1250)
    ap.add_argument("--vms", type=int, default=20000)
    ap.add_argument("--rates", default="10,20,30")
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--ramp", default="45,60,80,100,130,160,200",
                    help="rates tried after the fixed ones until nubo falls behind")
    ap.add_argument("--populate-only", action="store_true",
                    help="stop after the population (its rate is the figure)")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="nubo-bench-"))
    url = create_database(args.backend, tmp)
    server = NuboServer(tmp / "data", database_url=url,
                        extra_config='log_level = "WARNING"\n').start()
    try:
        print(f"nubo on {args.backend}: populating {args.hosts} hosts and {args.vms} VMs ...")
        took = populate(server.endpoint, server.session, args.hosts, args.vms)
        p = xmlrpc.client.ServerProxy(server.endpoint)
        vm_body = p.one.vm.info(server.session, 0)[1]
        print(f"populated in {took:.0f} s ({(args.hosts + args.vms) / took:.0f} objects/s); "
              f"a VM body is {len(vm_body) / 1024:.1f} KB")
        if args.populate_only:
            return
        host_ids = list(range(args.hosts))
        vm_ids = list(range(args.vms))
        sizes = {m: len(p.__getattr__(m)(server.session, *a)[1]) for m, a in (
            ("one.hostpool.info", ()), ("one.vmpool.info", (-2, -1, -1, -1)))}
        print("reply sizes: " + ", ".join(f"{m} {s / 1e6:.1f} MB" for m, s in sizes.items()))
        for rate in [float(r) for r in args.rates.split(",")]:
            report(rate, drive(server.endpoint, server.session, rate, args.seconds,
                               args.hosts, args.vms, host_ids, vm_ids), args.seconds)
            print(f"  server RSS {rss_mb(server.proc.pid):.0f} MB, database "
                  f"{db_size(server, url) / 1e6:.0f} MB")
        for rate in [float(r) for r in args.ramp.split(",") if r]:
            ok = report(rate, drive(server.endpoint, server.session, rate, args.seconds / 2,
                                    args.hosts, args.vms, host_ids, vm_ids), args.seconds / 2)
            if not ok:
                print(f"\nnubo stops keeping up (p95 over 1 s) at {rate:g} req/s")
                break
    finally:
        server.stop()
        drop_database(args.backend, url)


def db_size(server: NuboServer, url: str) -> int:
    from nubo.store.db import Database
    db = Database(url)
    try:
        return db.size_bytes()
    finally:
        db.close()


if __name__ == "__main__":
    main()
