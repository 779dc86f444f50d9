"""A core killed (kill -9) while a VM's NIC attach waits for its context CD-ROM to be
rebuilt (the TM CONTEXT step before ATTACHNIC) asks for the rebuild again at its next
start, then sends ATTACHNIC: the VM ends RUNNING with the NIC and one lease for it."""
from __future__ import annotations

import os
import signal

import pyone

from server import NuboServer, alive, child_pids
from waits import ACTIVE, RUNNING, wait_for, wait_state

HOTPLUG_NIC = 25  # LCM_STATE
CONFIG = 'transfer_driver = "dummy"\n'  # the dummy's TRANSFER obeys NUBO_DUMMY_LATENCY


def start(data, monkeypatch, latency: str | None) -> NuboServer:
    if latency:
        monkeypatch.setenv("NUBO_DUMMY_LATENCY", latency)
    else:
        monkeypatch.delenv("NUBO_DUMMY_LATENCY", raising=False)
    return NuboServer(data, extra_config=CONFIG).start()


def test_a_kill_between_the_rebuild_and_the_attach_finishes_the_attach(tmp_path, monkeypatch):
    data = tmp_path / "data"
    first = start(data, monkeypatch, None)
    try:
        one = pyone.OneServer(first.endpoint, session=first.session)
        host = one.host.allocate("node-ctxcrash", "dummy", "dummy", -1)
        vnet = one.vn.allocate('NAME = "ctxcrash"\nVN_MAD = "dummy"\nBRIDGE = "nbcc"\n'
                               'AR = [ TYPE = "IP4", IP = "198.18.140.1", SIZE = "4" ]', -1)
        vm_id = one.vm.allocate(f'NAME = "ctxcrash"\nCPU = 0.1\nMEMORY = 64\n'
                                f'NIC = [ NETWORK_ID = "{vnet}" ]\n'
                                'CONTEXT = [ NETWORK = "YES" ]', False)
        one.vm.deploy(vm_id, host)
        wait_state(one, vm_id, (ACTIVE, RUNNING))
    finally:
        assert first.stop() == 0

    second = start(data, monkeypatch, "TRANSFER=120")  # the rebuild never ends here
    drivers: list[int] = []
    try:
        one = pyone.OneServer(second.endpoint, session=second.session)
        one.vm.attachnic(vm_id, f'NIC = [ NETWORK_ID = "{vnet}" ]')
        wait_state(one, vm_id, (ACTIVE, HOTPLUG_NIC))
        assert second.proc is not None
        drivers = child_pids(second.proc.pid)
    finally:
        assert second.proc is not None
        second.proc.kill()
        second.proc.wait()
        for pid in drivers:  # the dummy's 120 s TRANSFER must not outlive this test
            if alive(pid):
                os.kill(pid, signal.SIGKILL)

    third = start(data, monkeypatch, None)
    try:
        one = pyone.OneServer(third.endpoint, session=third.session)
        wait_state(one, vm_id, (ACTIVE, RUNNING))
        assert any(f"VM {vm_id}: asking again for tm.CONTEXT" in line
                   for line in third.log_lines)
        wait_for("the ATTACHNIC answered", lambda: any(
            f"VM {vm_id}: vmm.ATTACHNIC SUCCESS" in line for line in third.log_lines))
        nics = one.vm.info(vm_id).TEMPLATE["NIC"]
        assert len(nics) == 2 and all("ATTACH" not in dict(n) for n in nics)
        assert int(one.vn.info(vnet).USED_LEASES) == 2
        assert dict(one.vm.info(vm_id).TEMPLATE["CONTEXT"])["ETH1_IP"] == "198.18.140.2"
    finally:
        assert third.stop() == 0
