"""Crash safety (issue 3, item 8): the core killed with SIGKILL during a burst of
deployments, then restarted, loses and duplicates no VM.

Every VM ends RUNNING (or in a failure state: never stuck in a transient one), is
on one host, and each host's usage (RUNNING_VMS, CPU_USAGE, MEM_USAGE and its VMS
list) is exactly the sum of the VMs placed on it.
"""
from __future__ import annotations

import http.client
import os
import signal
import threading
import xml.parsers.expat
import xmlrpc.client
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pyone

from server import NuboServer, alive as _alive, child_pids
from waits import ACTIVE, DONE, PENDING, RUNNING, wait_for

HOSTS, VMS = 10, 100
CPU, MEMORY = 1, 128  # HOST_SHARE counts 100 CPU and 131072 KB per VM
#: The LCM states a deploy passes through (PROLOG, BOOT): a VM must not stay there.
TRANSIENT = {1, 2}
#: Failure states a deploy may end in (PROLOG_FAILURE, BOOT_FAILURE).
FAILED = {36, 39}


def _states(one) -> dict[int, tuple[int, int]]:
    return {vm.ID: (vm.STATE, vm.LCM_STATE) for vm in one.vmpool.info(-2, -1, -1, -2).VM}


def _when(one, ok) -> dict[int, tuple[int, int]] | None:
    """Every VM's (STATE, LCM_STATE) once ``ok`` holds for all of them, else None."""
    states = _states(one)
    return states if all(ok(*pair) for pair in states.values()) else None


def test_sigkill_during_a_deploy_burst_loses_and_duplicates_nothing(tmp_path, monkeypatch):
    data = tmp_path / "data"
    # Slow enough that the kill finds VMs in PROLOG and BOOT, fast enough that some run.
    monkeypatch.setenv("NUBO_DUMMY_LATENCY", "TRANSFER=0.2,DEPLOY=0.2")
    server = NuboServer(data).start()
    drivers: list[int] = []
    try:
        one = pyone.OneServer(server.endpoint, session=server.session)
        hosts = [one.host.allocate(f"crash-node{i}", "dummy", "dummy", -1)
                 for i in range(HOSTS)]
        vms = [one.vm.allocate(f'NAME = "crash-{i}"\nCPU = {CPU}\nMEMORY = {MEMORY}', False)
               for i in range(VMS)]
        assert server.proc is not None
        drivers = child_pids(server.proc.pid)
        answered: list[int] = []
        half = threading.Event()
        local = threading.local()

        def deploy(n: int) -> None:
            if not hasattr(local, "proxy"):
                local.proxy = xmlrpc.client.ServerProxy(server.endpoint)
            try:
                reply = local.proxy.one.vm.deploy(server.session, vms[n], hosts[n % HOSTS],
                                                  False, -1)
            except (OSError, xmlrpc.client.ProtocolError, http.client.HTTPException,
                    xml.parsers.expat.ExpatError):  # the core died mid-reply
                return  # the core died under this call: committed or not, either is fine
            assert reply[0], reply
            answered.append(n)
            if len(answered) >= VMS * 7 // 10:
                half.set()

        with ThreadPoolExecutor(8) as pool:
            futures = [pool.submit(deploy, n) for n in range(VMS)]
            assert half.wait(60), "the deploy burst stalled"
            server.proc.kill()  # SIGKILL, mid-burst
            server.proc.wait()
            for f in futures:
                f.result()
    finally:
        if server.proc is not None and server.proc.poll() is None:
            server.proc.kill()
            server.proc.wait()
    # The drivers see their stdin close and exit: nothing is left running.
    try:
        wait_for("the killed core's drivers to exit", lambda: not any(map(_alive, drivers)), 15)
    finally:
        for pid in filter(_alive, drivers):
            os.kill(pid, signal.SIGKILL)
    assert len(answered) < VMS, "the kill came after the burst: nothing was tested"

    monkeypatch.delenv("NUBO_DUMMY_LATENCY")
    again = NuboServer(data).start()
    try:
        one = pyone.OneServer(again.endpoint, session=again.session)
        # Reconciliation finishes every deploy the first core committed ...
        settled = wait_for("no VM in PROLOG or BOOT", lambda: _when(one, lambda st, lcm: not (
            st == ACTIVE and lcm in TRANSIENT)), 60)
        reconciled = [line for line in again.log_lines if "asking again for" in line]
        assert reconciled, "the kill found no VM waiting for its driver"
        # ... and the deploys it never committed are still PENDING, to be sent again.
        assert set(settled) == set(vms)
        for vm_id, (state, lcm) in settled.items():
            assert state == PENDING or (state == ACTIVE and (lcm == RUNNING or lcm in FAILED)), \
                (vm_id, state, lcm)
        for n, vm_id in enumerate(vms):
            if settled[vm_id][0] == PENDING:
                one.vm.deploy(vm_id, hosts[n % HOSTS])
        final = wait_for("every VM RUNNING or failed", lambda: _when(one, lambda st, lcm: (
            st == ACTIVE and (lcm == RUNNING or lcm in FAILED))), 60)
        assert all(lcm == RUNNING for _, lcm in final.values()), \
            {v: s for v, s in final.items() if s[1] != RUNNING}

        placed: dict[int, list[int]] = {h: [] for h in hosts}
        for vm_id in vms:
            records = one.vm.info(vm_id).HISTORY_RECORDS.HISTORY
            assert len(records) == 1, f"VM {vm_id} has {len(records)} placements"
            placed[records[0].HID].append(vm_id)
        for n, vm_id in enumerate(vms):
            assert vm_id in placed[hosts[n % HOSTS]]
        for host_id, on_it in placed.items():
            host = one.host.info(host_id)
            share = host.HOST_SHARE
            listed = sorted(host.VMS.ID) if host.VMS is not None else []
            assert listed == sorted(on_it), (host_id, listed, on_it)
            assert (share.RUNNING_VMS, share.CPU_USAGE, share.MEM_USAGE) == (
                len(on_it), len(on_it) * CPU * 100, len(on_it) * MEMORY * 1024), host_id

        # Terminating them all frees every host exactly: nothing was counted twice.
        for vm_id in vms:
            one.vm.action("terminate", vm_id)
        wait_for("every VM DONE", lambda: all(
            st == DONE for st, _ in _states(one).values()), 60)
        for host_id in hosts:
            share = one.host.info(host_id).HOST_SHARE
            assert (share.RUNNING_VMS, share.CPU_USAGE, share.MEM_USAGE) == (0, 0, 0), host_id
    finally:
        assert again.stop() == 0

