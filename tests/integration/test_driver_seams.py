"""Driver seams seen from the core: the life-cycle asks the driver of the VM's host what
it can do (an action the driver has not declared is refused before anything changes),
and monitoring goes through a lane of its own (a host whose deploys hang is probed)."""
from __future__ import annotations

import sys
import time

import pytest

from nubo.errors import ActionError

ACTIVE, RUNNING, POWEROFF = 3, 3, 8


def wait_for(what, cond, timeout=15.0):
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def test_an_action_the_hosts_driver_cannot_do_is_refused_before_anything_changes(
        tmp_path, monkeypatch):
    from nubo.api.methods.hosts import host_allocate
    from nubo.api.methods.vm_actions import vm_deploy
    from nubo.api.methods.vms import vm_allocate
    from nubo.config import load_config
    from nubo.core.cloud import ONEADMIN
    from nubo.serve import open_core
    from nubo.core.ops.call import Call

    monkeypatch.setenv("HOME", str(tmp_path))
    limited = {"command": [sys.executable, "-m", "nubo.drivers.dummy", "vmm"],
               "capabilities": ["cold-nic-attach"]}
    cfg = load_config(None, data_dir=tmp_path / "data", first_dummy_host="",
                      drivers={"limited": limited})
    core = open_core(cfg)
    cloud, drivers, registry, lcm = core.cloud, core.drivers, core.registry, core.lifecycle
    drivers.start()
    try:
        call = Call(cloud, ONEADMIN, "test")
        host = host_allocate(call, "node-limited", "dummy", "limited", -1)
        other = host_allocate(call, "node-other", "dummy", "limited", -1)
        vm_id = vm_allocate(call, 'NAME = "plain"\nCPU = 0.1\nMEMORY = 64', False)
        vm_deploy(call, vm_id, host, False, -1, "")

        def state() -> tuple[int, int, int]:
            with cloud.db.read() as conn:
                vm = cloud.pools.vms.get(conn, vm_id)
            return vm.state, vm.lcm_state, len(vm.history)
        wait_for("the VM RUNNING", lambda: state()[:2] == (ACTIVE, RUNNING))
        before = state()
        for action, params, what in (
                ("migrate-live", {"host": other}, "migrate a running VM"),
                ("migrate", {"host": other}, "migrate a VM by saving it"),
                ("suspend", {}, "save a VM's memory to disk")):
            with pytest.raises(ActionError) as refused:
                lcm.act(vm_id, action, **params)
            assert (f'Action "{action}" is not supported by driver limited of host '
                    f"node-limited: it cannot {what}") in str(refused.value)
            assert state() == before
        lcm.act(vm_id, "poweroff")  # what every driver does
        wait_for("the VM POWEROFF", lambda: state()[0] == POWEROFF)
    finally:
        drivers.close()
        lcm.close()
        cloud.db.close()


def test_a_host_whose_deploys_hang_is_still_probed_on_time(tmp_path, monkeypatch):
    """Deploys that hang hold every slot of the host's driver; monitoring goes through
    its own lane and the host is probed (MONITORED, its VMs seen) at once."""
    from sqlalchemy import select

    from nubo.api.methods.hosts import host_allocate
    from nubo.api.methods.vm_actions import vm_deploy
    from nubo.api.methods.vms import vm_allocate
    from nubo.config import load_config
    from nubo.core.cloud import ONEADMIN
    from nubo.serve import open_core
    from nubo.core.monitor import HostMonitor
    from nubo.core.ops.call import Call
    from nubo.model.infra import HOST_MONITORED
    from nubo.store.schema import host_monitoring

    monkeypatch.setenv("HOME", str(tmp_path))
    slow = {"command": [sys.executable, "-m", "nubo.drivers.dummy", "vmm,im,tm",
                        "--latency", "DEPLOY=60"], "concurrency": 2}
    cfg = load_config(None, data_dir=tmp_path / "data", first_dummy_host="",
                      drivers={"slow": slow}, transfer_driver="slow")
    core = open_core(cfg)
    cloud, drivers, registry, lcm = core.cloud, core.drivers, core.registry, core.lifecycle
    drivers.start()
    monitor = HostMonitor(cloud, registry, interval=0)
    try:
        call = Call(cloud, ONEADMIN, "test")
        host = host_allocate(call, "node-slow", "slow", "slow", -1)
        for n in range(3):
            vm_id = vm_allocate(call, f'NAME = "vm{n}"\nCPU = 0.1\nMEMORY = 64', False)
            vm_deploy(call, vm_id, host, False, -1, "")
        def hanging() -> bool:
            # two DEPLOYs hang in both slots (a PROLOG takes no time: nothing else stays in
            # flight) and one operation waits: VM 2's DEPLOY, or its PROLOG when the first
            # two DEPLOYs took the slots before it ran (both orders happen under load)
            stats = drivers.stats()["slow"]
            return (stats.in_flight, stats.queued) == (2, 1) and stats.succeeded in (2, 3)
        wait_for("two deploys hanging in the driver", hanging)
        started = time.monotonic()
        assert monitor.probe(host) == 1

        def probed() -> bool:
            with cloud.db.read() as conn:
                h = cloud.pools.hosts.get(conn, host)
                recorded = conn.execute(select(host_monitoring.c.hid)
                                        .where(host_monitoring.c.hid == host)).first()
            return h.state == HOST_MONITORED and recorded is not None
        # well before the hanging DEPLOYs (60 s) could free a slot
        wait_for("the host probed", probed, timeout=30)
        assert time.monotonic() - started < 30
        assert drivers.stats()["slow"].in_flight == 2  # the deploys still hang
    finally:
        monitor.close()
        drivers.close(drain_timeout=0)
        lcm.close()
        cloud.db.close()
