"""The kvm host probe's cost per round with N real guests running on this host.

1. --guests tiny TCG guests (tests/kvm/tiny_guests.py: Debian's kernel and initrd,
   96 MiB, idle in the initramfs) started with ``virsh create`` on the local libvirtd
   (tests/kvm/libvirt_daemons.py starts it if need be), then --settle seconds for
   their boot to calm down.
2. --rounds probe rounds, each timed three ways:
   * in place (what the driver does for this machine): probe.collect(), wall time
     beyond the CPU sampling window (--window) and the process's CPU time;
   * the bulk libvirt call alone (getAllDomainStats of every domain);
   * as over ssh: a fresh ``python3 probe.py`` per round (the interpreter's start
     included), wall time beyond the window.
3. The guests are destroyed by name.

Against: OpenNebula 6.10's published 52 s for one monitoring round of 500 VMs on
one host.

    .venv/bin/python bench/kvm_probe.py --guests 20          # needs root and libvirt
    .venv/bin/python bench/kvm_probe.py --guests 0 --rounds 1  # a quick run
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path.cwd()))
sys.path.insert(0, str(HERE / "tests" / "kvm"))

from nubo.drivers.kvm import probe  # noqa: E402


def _ms(values: list[float]) -> str:
    return (f"median {statistics.median(values) * 1000:.1f} ms, "
            f"max {max(values) * 1000:.1f} ms")


def measure(uri: str, rounds: int, window: float, domains: bool) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {"in_place": [], "cpu": [], "bulk": [], "script": []}
    script = [sys.executable, str(Path(probe.__file__)), "--uri", uri, "--window", str(window)]
    if not domains:
        script.append("--no-domains")
    for _ in range(rounds):
        t0, c0 = time.perf_counter(), time.process_time()
        probe.collect(uri, window, domains)
        out["in_place"].append(time.perf_counter() - t0 - window)
        out["cpu"].append(time.process_time() - c0)
        if domains:
            t0 = time.perf_counter()
            probe.domain_stats(uri)
            out["bulk"].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        subprocess.run(script, check=True, capture_output=True, timeout=120)
        out["script"].append(time.perf_counter() - t0 - window)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--guests", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--window", type=float, default=probe.DEFAULT_WINDOW)
    parser.add_argument("--settle", type=float, default=5.0,
                        help="seconds between the guests' start and the first round")
    parser.add_argument("--pause", action="store_true",
                        help="pause the guests before the rounds (virsh suspend): the "
                             "domains and their QEMUs are there, their TCG load is not")
    args = parser.parse_args()

    import tiny_guests
    from libvirt_daemons import ensure_libvirtd
    try:
        uri = ensure_libvirtd()
    except RuntimeError as e:
        print(f"no libvirt here ({e}): the host part only, no guests")
        uri, domains, guests = probe.DEFAULT_URI, False, 0
    else:
        domains, guests = True, args.guests
    if guests and tiny_guests.boot_files() is None:
        print("no /boot/vmlinuz-* with its initrd: no guests")
        guests = 0
    names = [f"nubo-test-kvmhost-bench-{os.getpid()}-{i}" for i in range(guests)]
    started = []
    try:
        t0 = time.perf_counter()
        for name in names:
            tiny_guests.start(uri, name)
            started.append(name)
        if names:
            print(f"{guests} guests started in {time.perf_counter() - t0:.1f} s; "
                  f"settling {args.settle:.0f} s")
            time.sleep(args.settle)
        if args.pause:
            for name in names:
                subprocess.run(["virsh", "-c", uri, "suspend", name], check=True,
                               capture_output=True, timeout=60)
        running = probe.collect(uri, 0.1, domains).count("VM=[") if domains else 0
        figures = measure(uri, args.rounds, args.window, domains)
    finally:
        for name in started:
            tiny_guests.destroy(uri, name)
    print(f"domains on the host: {running} ({guests} started here); {args.rounds} rounds, "
          f"CPU window {args.window} s (not counted below)")
    print(f"per probe round, in place:   {_ms(figures['in_place'])} "
          f"(CPU {_ms(figures['cpu'])})")
    if figures["bulk"]:
        print(f"the bulk libvirt call alone: {_ms(figures['bulk'])}")
    print(f"per probe round, as over ssh (fresh python3 probe.py): {_ms(figures['script'])}")
    if running:
        per_vm = statistics.median(figures["in_place"]) / running
        print(f"per VM: {per_vm * 1000:.2f} ms; OpenNebula 6.10: 52 s / 500 VMs = 104 ms per VM")
    return 0


if __name__ == "__main__":
    sys.exit(main())
