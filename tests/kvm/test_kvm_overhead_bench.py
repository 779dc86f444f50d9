"""bench/kvm_overhead.py (nubo's overhead on a real guest against bare ``virsh create``
of the same domain XML) runs at its tiny size, one run of each, so it cannot rot: it
must finish, exit 0, print the overhead, and find nubo's steps in the server's log
(the kvm driver's DEPLOY steps and the transfer driver's lines, whose wording it
reads). No figure is asserted."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import libvirt_daemons

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(bool(libvirt_daemons.why_not()),
                                 reason=libvirt_daemons.why_not() or "-")]

BENCH = Path(__file__).resolve().parents[2] / "bench" / "kvm_overhead.py"


def test_the_overhead_benchmark_runs_tiny():
    done = subprocess.run([sys.executable, str(BENCH), "--runs", "1"], capture_output=True,
                          text=True, timeout=900)
    out = done.stdout + done.stderr
    missing = [line for line in ("overhead to the context line", "createXML", "network post",
                                 "CONTEXT", "kvm DEPLOY, as the core saw it",
                                 "transfer driver, as the core saw it") if line not in out]
    assert (done.returncode, missing) == (0, []), out[-3000:]
