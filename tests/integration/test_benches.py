"""Every benchmark in bench/ runs at a tiny size and prints its figures, so none rots.

No figure is asserted (they are measured on an idle machine, not in the suite); what
could fail is the benchmark itself: it must finish, exit 0 and print its headline.
bench/auth_flood.py and bench/startup.py have tests of their own; bench/guest_boot.py
and bench/kvm_overhead.py need libvirt and are run by tests/kvm/test_guest_image.py and
tests/kvm/test_kvm_overhead_bench.py.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"

TINY = {
    "control_plane.py": (["--hosts", "5", "--vms", "30", "--rates", "5", "--seconds", "1",
                          "--ramp", ""], "one.vmpool.info"),
    "lifecycle.py": (["--vms", "20", "--hosts", "4", "--threads", "2", "--timeout", "120"],
                     "one.vm.info during the burst"),
    "scheduler.py": (["--hosts", "20", "--vms", "40", "--templates", "4", "--cycles", "1",
                      "--timeout", "120"], "RUNNING"),
    "cli.py": (["--vms", "100", "--runs", "1"], "nubo vm release 0-99"),
    "sched_actions.py": (["--vms", "10", "--lead", "2"], "actions due at the same second"),
    "dummy_driver.py": (["--vms", "50", "--hosts", "5", "--window", "10", "--concurrency", "10"],
                        "actions/s"),
    "expressions.py": (["--hosts", "20", "--exprs", "10", "--runs", "1"], "levels of parentheses"),
    "host_failure.py": (["--vms", "8"], "VMs on two hosts while down"),
    "monitoring_round.py": (["--hosts", "5", "--vms", "50", "--rounds", "2"],
                            "per monitoring round"),
    "leases.py": (["--size", "200"], "per lease, last 200"),
    "leases_concurrent.py": (["--leases", "200", "--processes", "2", "--threads", "2"],
                             "no duplicate"),
    "prolog.py": (["--vms", "4", "--size-mb", "16", "--data-mb", "2"], "tm qcow2"),
    "vnm_apply.py": (["--vms", "3", "--rules", "5"], "ms per VM"),
    "image_register.py": (["--size", "8", "--runs", "1"], "ratio register/cp"),
    "kvm_probe.py": (["--guests", "1", "--rounds", "1", "--window", "0.05", "--settle", "0"],
                     "per probe round, in place"),
}


def test_every_benchmark_is_run_here():
    own_tests = {"auth_flood.py", "startup.py", "guest_boot.py",  # the last two: tests/kvm
                 "kvm_overhead.py"}
    assert {p.name for p in BENCH.glob("*.py")} - own_tests <= set(TINY), \
        "a benchmark without a tiny run: add it to TINY"


@pytest.mark.parametrize("name", sorted(TINY))
def test_benchmark_runs_tiny(name):
    args, headline = TINY[name]
    done = subprocess.run([sys.executable, str(BENCH / name), *args], capture_output=True,
                          text=True, timeout=300)
    out = done.stdout + done.stderr
    assert done.returncode == 0, out[-3000:]
    assert headline in out, out[-3000:]
