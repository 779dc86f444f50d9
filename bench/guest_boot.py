"""Guest boot benchmark: bare ``virsh create`` of nubo's test guest to the context
line on its serial console, with no nubo in between: the baseline nubo's own
overhead (one.vm.allocate to the same line) is compared against.

Builds the guest (tests/kvm/guest_image.py, cached under /tmp), makes a bridge
``nbgbench0`` with 198.19.72.1/24, writes the context CD-ROM with nubo's writer and,
--runs times: writes the domain XML, times ``virsh create`` -> the context line in
the serial log -> the first ping answered, then destroys the domain. Prints each
run, then min and median. Needs root and libvirt (qemu:///system, TCG).

    .venv/bin/python bench/guest_boot.py               # 5 runs
    .venv/bin/python bench/guest_boot.py --runs 1
"""
from __future__ import annotations

import argparse
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests" / "kvm"), str(ROOT / "tests")]

import libvirt_daemons  # noqa: E402
from guest_domain import GuestBridge, context_iso, domain_xml, ping, wait_for_line  # noqa: E402
from guest_image import guest_image, scratch_dir  # noqa: E402

NET = "198.19.72"
MAC = "52:54:00:c6:48:05"
UPTIME = re.compile(r"uptime=([0-9.]+)")


def one_run(uri: str, xml_path: Path, log: Path, name: str,
            address: str | None = f"{NET}.5") -> tuple[float, float, float, float]:
    """(virsh create's own time, create -> context line, create -> ping of ``address``
    answered (NaN when None: not waited for), the guest's own uptime at the line), in
    seconds. bench/kvm_overhead.py runs nubo's own domain XML through it too."""
    log.unlink(missing_ok=True)
    began = time.perf_counter()
    subprocess.run(["virsh", "-q", "-c", uri, "create", str(xml_path)], check=True,
                   capture_output=True)
    created = time.perf_counter() - began
    try:
        line = wait_for_line(log, timeout=300, poll=0.01)
        to_line = time.perf_counter() - began
        while address is not None and not ping(address, timeout=1):
            if time.perf_counter() - began > 300:
                raise TimeoutError("the guest does not answer ping")
        to_ping = time.perf_counter() - began if address is not None else float("nan")
    finally:
        subprocess.run(["virsh", "-q", "-c", uri, "destroy", name], capture_output=True)
    found = UPTIME.search(line)
    return created, to_line, to_ping, float(found.group(1)) if found else float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--memory", type=int, default=128, help="MiB")
    args = parser.parse_args()
    reason = libvirt_daemons.why_not()
    if reason:
        raise SystemExit(f"cannot run: {reason}")
    uri = libvirt_daemons.ensure_libvirtd()
    kernel, initrd = guest_image()
    work = scratch_dir("nubo-bench-guest-")
    bridge = GuestBridge("nbgbench0", f"{NET}.1/24")
    name = "nubo-test-guest-bench"
    subprocess.run(["virsh", "-q", "-c", uri, "destroy", name], capture_output=True)
    try:
        iso = context_iso(work / "context.iso", "bench-guest", [(f"{NET}.5", MAC)],
                          gateway=f"{NET}.1")
        log = work / "serial.log"
        xml_path = work / "domain.xml"
        xml_path.write_text(domain_xml(name, kernel, initrd, iso, log, bridge.name, MAC,
                                       memory_mib=args.memory))
        creates, lines, pings, uptimes = [], [], [], []
        for n in range(args.runs):
            created, to_line, to_ping, uptime = one_run(uri, xml_path, log, name)
            creates.append(created)
            lines.append(to_line)
            pings.append(to_ping)
            uptimes.append(uptime)
            print(f"run {n + 1}: virsh create returned {created:.2f} s, context line {to_line:.2f} s (guest uptime {uptime:.2f} s), "
                  f"ping {to_ping:.2f} s", flush=True)
        print(f"virsh create -> context line: min {min(lines):.2f} s, "
              f"median {statistics.median(lines):.2f} s ({args.runs} runs, TCG, "
              f"{args.memory} MiB)")
        print(f"virsh create -> ping answered: min {min(pings):.2f} s, "
              f"median {statistics.median(pings):.2f} s")
        print(f"virsh create itself: min {min(creates):.2f} s, "
              f"median {statistics.median(creates):.2f} s")
        print(f"guest uptime at the context line: min {min(uptimes):.2f} s, "
              f"median {statistics.median(uptimes):.2f} s")
    finally:
        subprocess.run(["virsh", "-q", "-c", uri, "destroy", name], capture_output=True)
        bridge.close()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
