"""nubo's overhead on a real guest: one.template.instantiate + one.vm.deploy -> RUNNING
and -> the guest's context line, against bare ``virsh create`` of the same domain XML.

A nubo server with a kvm host ``localhost`` (tests/kvm/e2e_cloud.py's Cloud: nubo's
guest image registered, a bridge nbe2eN with 198.19.N.0/24 of its own, N from 176 to
199 by the process id, so two runs at once rarely meet), then --runs times, in
turn: a VM through nubo (instantiate, deploy, RUNNING seen through the API, the context
line on its serial log, terminate), and the bare baseline (bench/guest_boot.py's
one_run) of nubo's own domain XML for it, rendered by the kvm driver's domain_xml
from the first VM's body onto a copy of its files. Prints each run, the medians, the
overhead (nubo - bare, and the median of the pairs) and where nubo's time goes, from
the server's log: the API calls, PROLOG (the transfer driver's lines) and BOOT (the
kvm driver's DEPLOY steps), for the first run (the kvm driver's first DEPLOY) and the
median of all. Needs root and libvirt (qemu:///system).

VM ids start at a high number (the server's id counter is set before the first VM):
domains are named one-<ID> on this machine's one libvirtd, which the tests' clouds
share, each from a slot of 10 ids of its own up from 0 (tests/kvm/e2e_cloud.py); a
run of this bench may need more than 10.

    .venv/bin/python bench/kvm_overhead.py               # 5 runs of each
    .venv/bin/python bench/kvm_overhead.py --runs 1
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time
import xmlrpc.client
from collections import defaultdict
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests" / "kvm"), str(ROOT / "tests"), str(ROOT)]

import libvirt_daemons  # noqa: E402
from e2e_cloud import BOOT, Cloud  # noqa: E402
from guest_boot import one_run  # noqa: E402
from guest_domain import wait_for_line  # noqa: E402
from guest_image import scratch_dir  # noqa: E402
from lxml import etree  # noqa: E402
from waits import ACTIVE, DONE, RUNNING, wait_for  # noqa: E402

NET = 176 + os.getpid() % 24  # the cloud's bridge nbe2eN and 198.19.N.0/24
FIRST_VM_ID = 10_000 * (1 + os.getpid() % 90)
STAMP = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) ")
LAPS = re.compile(r"\s*([^,]+?) ([0-9.]+) s(?=,|$)")


def start_vm_ids_at(cloud: Cloud, first: int) -> None:
    """The next VM allocated gets id ``first`` (the counter row of nubo's SQLite pool)."""
    with sqlite3.connect(cloud.server.data_dir / "nubo.db") as db:
        db.execute("INSERT OR REPLACE INTO pool_control (tablename, last_oid) "
                   "VALUES ('vm_pool', ?)", (first - 1,))


class Nubo:
    """VMs through the cloud's API; ``run`` times one from instantiate to its context line."""

    def __init__(self, cloud: Cloud) -> None:
        self.cloud = cloud
        self.rpc = xmlrpc.client.ServerProxy(cloud.server.endpoint)

    def body(self, vm_id: int) -> str:
        ok, body, *_ = self.rpc.one.vm.info(self.cloud.server.session, vm_id)
        assert ok, body
        return body

    def lcm_state(self, vm_id: int) -> tuple[int, int]:
        body = self.body(vm_id)
        state = int(re.search(r"<STATE>(\d+)</STATE>", body).group(1))
        return state, int(re.search(r"<LCM_STATE>(\d+)</LCM_STATE>", body).group(1))

    def run(self) -> tuple[int, dict[str, float]]:
        """(the VM's id, client-side times from t0 = before instantiate, in seconds, with
        "t0" itself as a wall-clock time to align the server's log with)."""
        one, cloud = self.cloud.one, self.cloud
        t0 = time.time()
        vm_id = one.template.instantiate(cloud.template, "overhead", False,
                                         f"NIC = [ NETWORK_ID = {cloud.vnet} ]", False)
        allocated = time.time()
        one.vm.deploy(vm_id, cloud.host)
        deployed = time.time()
        deadline = deployed + 300
        while (seen := self.lcm_state(vm_id)) != (ACTIVE, RUNNING):
            if seen[0] != ACTIVE or time.time() > deadline:
                error = one.vm.info(vm_id).USER_TEMPLATE.get("ERROR")
                raise SystemExit(f"VM {vm_id} did not reach RUNNING: {seen}, ERROR {error}")
            time.sleep(0.01)
        running = time.time()
        wait_for_line(cloud.vm_dir(vm_id) / "serial.log", timeout=BOOT, poll=0.01)
        line = time.time()
        return vm_id, {"t0": t0, "allocate": allocated - t0, "deploy call": deployed - t0,
                       "running": running - t0, "context line": line - t0}

    def terminate(self, vm_id: int) -> None:
        self.cloud.one.vm.action("terminate-hard", vm_id)
        wait_for(f"VM {vm_id} DONE", lambda: self.lcm_state(vm_id)[0] == DONE, timeout=120)


def bare_domain(nubo: Nubo, vm_id: int, into: Path, name: str) -> Path:
    """nubo's domain XML for the running VM ``vm_id`` (the kvm driver's own rendering
    of its body, of the domain type its driver chose), named ``name``, on a copy of the
    VM's files in ``into``; the XML file's path."""
    from nubo.drivers.kvm.domain import HostFacts, domain_xml
    vm_dir = nubo.cloud.vm_dir(vm_id)
    into.mkdir(parents=True, exist_ok=True)
    for f in vm_dir.iterdir():
        if f.is_file() and f.name != "serial.log":
            shutil.copy2(f, into / f.name)
    live = subprocess.run(["virsh", "-c", nubo.cloud.uri, "dumpxml", f"one-{vm_id}"],
                          capture_output=True, text=True, check=True).stdout
    kind = etree.fromstring(live.encode()).get("type")
    xml = domain_xml(nubo.body(vm_id), HostFacts(str(into), kind, "",
                                                 f"{os.getuid()}:{os.getgid()}"))
    assert str(vm_dir) not in xml, "the bare domain would use the VM's own files"
    root = etree.fromstring(xml.encode())
    root.find("name").text = name
    path = into / "domain.xml"
    path.write_bytes(etree.tostring(root))
    return path


# -- where nubo's time goes, from the server's log ---------------------------------------

def _stamp(line: str) -> float | None:
    found = STAMP.match(line)
    if not found:
        return None
    return datetime.strptime(found.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp()


def breakdown(log: list[str], vm_id: int,
              times: dict[str, float]) -> tuple[dict[str, float], str]:
    """Each step of the VM's way to RUNNING, in seconds, from its lines in the log; and
    the libvirt domain type its DEPLOY made (kvm, or qemu: TCG)."""
    at: dict[str, float] = {}
    kind = "?"
    prolog: dict[str, float] = {}
    boot: dict[str, float] = {}
    marks = {"PROLOG committed": f"VM {vm_id}: deploy -> ACTIVE/PROLOG",
             "BOOT committed": f"VM {vm_id}: tm.PROLOG SUCCESS -> ACTIVE/BOOT",
             "RUNNING committed": f"VM {vm_id}: vmm.DEPLOY SUCCESS -> ACTIVE/RUNNING"}
    for line in log:
        if "RUNNING committed" in at:
            break  # the terminate's lines follow
        stamp = _stamp(line)
        for key, text in marks.items():
            if text in line and stamp is not None:
                at[key] = stamp - times["t0"]
        if found := re.search(rf"tm TRANSFER id={vm_id} host=\S+ SUCCESS in ([0-9.]+)s", line):
            prolog = {"  transfer driver, as the core saw it": float(found.group(1)), **prolog}
        if found := re.search(rf"driver tm \[{vm_id}\]: PROLOG's lines: (.*)", line):
            prolog.update({f"    {verb}": took for verb, took in _laps(found.group(1)).items()})
        if found := re.search(rf"kvm DEPLOY id={vm_id} host=\S+ SUCCESS in ([0-9.]+)s", line):
            boot = {"  kvm DEPLOY, as the core saw it": float(found.group(1)), **boot}
        if found := re.search(rf"driver kvm \[{vm_id}\]: created domain \S+ \((\w+)\)", line):
            kind = found.group(1)
        if found := re.search(rf"driver kvm \[{vm_id}\]: created domain .* steps: (.*)", line):
            boot.update({f"    {step}": took for step, took in _laps(found.group(1)).items()})
    if len(at) < len(marks):
        return {}, kind
    return {"instantiate (API call)": times["allocate"],
            "deploy (API call)": times["deploy call"] - times["allocate"],
            "PROLOG (deploy committed -> BOOT committed)":
                at["BOOT committed"] - at["PROLOG committed"], **prolog,
            "BOOT (BOOT committed -> RUNNING committed)":
                at["RUNNING committed"] - at["BOOT committed"], **boot,
            "RUNNING seen through the API after its commit":
                times["running"] - at["RUNNING committed"]}, kind


def _laps(text: str) -> dict[str, float]:
    """"CLONE 0.010 s, CLONE 0.012 s, CONTEXT 0.040 s" -> {"CLONE": 0.022, "CONTEXT": 0.04}."""
    out: dict[str, float] = defaultdict(float)
    for name, took in LAPS.findall(text):
        out[name.strip()] += float(took)
    return dict(out)


# -- the report ------------------------------------------------------------------------------

def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def report(nubo_runs: list[dict[str, float]], bare_runs: list[tuple[float, float]],
           steps: list[dict[str, float]]) -> None:
    n = len(nubo_runs)
    running = [r["running"] for r in nubo_runs]
    lines = [r["context line"] for r in nubo_runs]
    created = [b[0] for b in bare_runs]
    bare_lines = [b[1] for b in bare_runs]
    print(f"nubo instantiate -> RUNNING: median {_median(running):.2f} s, "
          f"min {min(running):.2f} s ({n} runs)")
    print(f"bare virsh create returned: median {_median(created):.2f} s, "
          f"min {min(created):.2f} s")
    print(f"nubo instantiate -> context line: median {_median(lines):.2f} s, "
          f"min {min(lines):.2f} s")
    print(f"bare virsh create -> context line: median {_median(bare_lines):.2f} s, "
          f"min {min(bare_lines):.2f} s")
    print(f"overhead to RUNNING: {_median(running) - _median(created):+.2f} s "
          f"(medians), {_median([a - b for a, b in zip(running, created)]):+.2f} s "
          f"(median of the pairs)")
    print(f"overhead to the context line: {_median(lines) - _median(bare_lines):+.2f} s "
          f"(medians), {_median([a - b for a, b in zip(lines, bare_lines)]):+.2f} s "
          f"(median of the pairs)")
    print("where nubo's time to RUNNING goes (s): first run (the kvm driver's first "
          "DEPLOY), median of all")
    names = list(dict.fromkeys(k for s in steps for k in s))
    for name in names:
        first = steps[0].get(name, float("nan")) if steps else float("nan")
        print(f"  {name:<58} {first:7.3f} {_median([s[name] for s in steps if name in s]):7.3f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    reason = libvirt_daemons.why_not()
    if reason:
        raise SystemExit(f"cannot run: {reason}")
    base = scratch_dir("nubo-bench-overhead-")
    bare_name = f"nubo-overhead-bare-{os.getpid()}"
    cloud = Cloud(base, NET)
    try:
        start_vm_ids_at(cloud, FIRST_VM_ID)
        nubo = Nubo(cloud)
        xml_path: Path | None = None
        nubo_runs, bare_runs, steps = [], [], []
        for n in range(args.runs):
            mark = len(cloud.server.log_lines)
            vm_id, times = nubo.run()
            if xml_path is None:
                xml_path = bare_domain(nubo, vm_id, base / "bare", bare_name)
            nubo.terminate(vm_id)
            nubo_runs.append(times)
            took, kind = breakdown(cloud.server.log_lines[mark:], vm_id, times)
            steps.append(took)
            created, to_line, _ping, _uptime = one_run(cloud.uri, xml_path,
                                                       base / "bare" / "serial.log",
                                                       bare_name, address=None)
            bare_runs.append((created, to_line))
            print(f"run {n + 1} ({kind}): nubo RUNNING {times['running']:.2f} s, context line "
                  f"{times['context line']:.2f} s; bare virsh create {created:.2f} s, "
                  f"context line {to_line:.2f} s", flush=True)
        report(nubo_runs, bare_runs, steps)
    finally:
        subprocess.run(["virsh", "-q", "-c", cloud.uri, "destroy", bare_name],
                       capture_output=True)
        cloud.close()
        shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
