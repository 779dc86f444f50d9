"""A core stopped (kill -9, or SIGTERM) while a VM waits for its driver asks the driver
again when it restarts, and the VM carries on as if nothing happened."""
from __future__ import annotations

import pyone
import pytest

from server import NuboServer
from waits import ACTIVE, BOOT, RUNNING, wait_state


@pytest.mark.parametrize("how", ["kill -9", "SIGTERM"])
def test_a_stop_during_boot_then_restart_reaches_running(tmp_path, monkeypatch, how):
    data = tmp_path / "data"
    monkeypatch.setenv("NUBO_DUMMY_LATENCY", "DEPLOY=120")  # the first core never sees it end
    server = NuboServer(data).start()
    try:
        one = pyone.OneServer(server.endpoint, session=server.session)
        host = one.host.allocate("node-restart", "dummy", "dummy", -1)
        vm_id = one.vm.allocate('NAME = "survivor"\nCPU = 1\nMEMORY = 128', False)
        one.vm.deploy(vm_id, host)
        wait_state(one, vm_id, (ACTIVE, BOOT))
    finally:
        assert server.proc is not None
        if how == "kill -9":
            server.proc.kill()
            server.proc.wait()
        else:  # the DEPLOY outlives the drain: it ends as "shutdown", the VM keeps awaiting it
            assert server.stop() == 0
    monkeypatch.delenv("NUBO_DUMMY_LATENCY")
    again = NuboServer(data).start()
    try:
        one = pyone.OneServer(again.endpoint, session=again.session)
        wait_state(one, vm_id, (ACTIVE, RUNNING))
        assert any(f"VM {vm_id}: asking again for vmm.DEPLOY" in line
                   for line in again.log_lines)
        share = one.host.info(host).HOST_SHARE
        assert share.RUNNING_VMS == 1 and share.CPU_USAGE == 100
        assert len(one.vm.info(vm_id).HISTORY_RECORDS.HISTORY) == 1
    finally:
        assert again.stop() == 0
