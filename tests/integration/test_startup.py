"""Start-up does not hold the API: a core restarted with VMs awaiting a driver answers
while their reconciliation is still in flight, and every VM settles afterwards.

The reconciliation is held for certain, not by timing: the test keeps SQLite's write
lock (BEGIN IMMEDIATE on its own connection) while the core starts, so the core can
read (the API answers) but cannot commit a single "ask again" until it lets go.
"""
from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pyone

from server import NuboServer, deploy_vms
from waits import ACTIVE, BOOT, RUNNING, wait_state

VMS = 12
BENCH = Path(__file__).resolve().parents[2] / "bench" / "startup.py"


def test_the_api_answers_while_vms_are_being_reconciled(tmp_path, monkeypatch):
    data = tmp_path / "data"
    monkeypatch.setenv("NUBO_DUMMY_LATENCY", "DEPLOY=120")  # the first core never sees one
    first = NuboServer(data).start()
    try:
        one, _, vm_ids = deploy_vms(first, "node-startup", VMS)
        for vm_id in vm_ids:
            wait_state(one, vm_id, (ACTIVE, BOOT))
    finally:
        assert first.proc is not None
        first.proc.kill()
        first.proc.wait()
    monkeypatch.delenv("NUBO_DUMMY_LATENCY")

    writer = sqlite3.connect(data / "nubo.db", isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")  # the core's writes wait (its busy timeout: 30 s)
    again = NuboServer(data)
    try:
        again.start(timeout=15)
        one = pyone.OneServer(again.endpoint, session=again.session)
        assert (one.vm.info(vm_ids[-1]).STATE, one.vm.info(vm_ids[-1]).LCM_STATE) == \
            (ACTIVE, BOOT)
        assert not any("asking again" in line for line in again.log_lines)
        writer.execute("ROLLBACK")
        for vm_id in vm_ids:
            wait_state(one, vm_id, (ACTIVE, RUNNING))
        asked = [line for line in again.log_lines if "asking again for vmm.DEPLOY" in line]
        assert len(asked) == VMS
    finally:
        writer.close()
        code = again.stop()
    assert code == 0, "".join(again.log_lines[-30:])


def test_the_startup_benchmark_runs(tmp_path):
    """bench/startup.py at a tiny size: it builds, restarts and prints its figures."""
    done = subprocess.run([sys.executable, str(BENCH), "--vms", "6", "--hosts", "2",
                           "--timeout", "60"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "first API answer after" in done.stdout
    assert "all RUNNING after" in done.stdout
