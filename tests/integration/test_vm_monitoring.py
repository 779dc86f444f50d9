"""VM monitoring through the host probes, via pyone on a real ``nubo serve`` whose
monitoring interval is 1 s and whose records are kept 3 s: VMs that vanish behind
nubo's back, hosts in ERROR, monitoring records (returned, valid, pruned)."""
from __future__ import annotations

import os
import sys
import time
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path

import pyone
import pytest

from server import NuboServer
from waits import ACTIVE, POWEROFF, RUNNING, wait_for, wait_state
from xsd import assert_valid, raw_call

MONITORED, ERROR = 2, 3
UNKNOWN = 16
EXPIRATION = 3
DUMMY_CTL = Path(__file__).resolve().parents[1] / "fixtures" / "drivers" / "dummy_ctl.py"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    base = tmp_path_factory.mktemp("vm-monitoring")
    ctl = base / "ctl"
    ctl.mkdir()
    extra = (f"host_monitoring_interval = 1\nmonitoring_expiration = {EXPIRATION}\n"
             f"[drivers.dummy]\ncommand = [\"{sys.executable}\", \"{DUMMY_CTL}\", \"{ctl}\"]\n"
             "concurrency = 256\n")
    srv = NuboServer(base / "data", extra_config=extra).start()
    srv.ctl = ctl
    yield srv
    assert srv.stop() == 0


@pytest.fixture
def one(server):
    return pyone.OneServer(server.endpoint, session=server.session)


def raw(server, method: str, *args) -> str:
    ok, value = raw_call(server.endpoint, method, server.session, *args)[:2]
    assert ok, value
    return value


def records(server, method: str, *args) -> list[dict[str, str]]:
    xml = raw(server, method, *args)
    assert_valid(xml, "monitoring_data.xsd")
    return [{child.tag: child.text for child in rec} for rec in ET.fromstring(xml)]


def monitored_host(one) -> int:
    hid = one.host.allocate(f"mon-{uuid.uuid4().hex[:8]}", "dummy", "dummy", -1)
    wait_for("host MONITORED", lambda: one.host.info(hid).STATE == MONITORED)
    return hid


def running_vm(one, hid: int) -> int:
    vm_id = one.vm.allocate(f'NAME = "m-{uuid.uuid4().hex[:8]}"\nCPU = 0.5\nMEMORY = 64', False)
    one.vm.deploy(vm_id, hid)
    wait_state(one, vm_id, (ACTIVE, RUNNING))
    return vm_id


def destroy_behind_nubos_back(server, vm_id: int, host_name: str) -> None:
    tmp = server.ctl / f".tmp-{vm_id}"
    tmp.write_text(host_name)
    os.rename(tmp, server.ctl / f"destroy-{vm_id}")


def probe_rounds(server, hid: int, rounds: int) -> None:
    """Wait until the host has been probed ``rounds`` more times (its records' stamps)."""
    def last() -> int:
        recs = records(server, "one.host.monitoring", hid)
        return int(recs[-1]["TIMESTAMP"]) if recs else 0
    start = last()
    wait_for(f"{rounds} probe rounds of host {hid}", lambda: last() >= start + rounds)


def test_a_vm_destroyed_behind_nubos_back_becomes_poweroff(server, one):
    """As oned 6 (MISSING_STATE = POWEROFF): a VM its hypervisor no longer lists was shut
    down or destroyed outside nubo."""
    hid = monitored_host(one)
    vm_id = running_vm(one, hid)
    keeper = running_vm(one, hid)
    destroy_behind_nubos_back(server, vm_id, one.host.info(hid).NAME)
    wait_state(one, vm_id, (POWEROFF, 0))
    assert one.vm.info(keeper).LCM_STATE == RUNNING
    assert one.host.info(hid).HOST_SHARE.RUNNING_VMS == 2  # a POWEROFF VM stays counted
    # resume boots it again (BOOT_POWEROFF), and monitoring leaves it RUNNING
    one.vm.action("resume", vm_id)
    wait_state(one, vm_id, (ACTIVE, RUNNING))
    probe_rounds(server, hid, 2)
    assert one.vm.info(vm_id).LCM_STATE == RUNNING


def test_a_host_in_error_puts_its_vms_in_unknown_and_back(server, one):
    hid = monitored_host(one)
    vms = [running_vm(one, hid) for _ in range(3)]
    one.host.update(hid, 'DUMMY_FAIL = "MONITOR"', 1)
    wait_for("host in ERROR", lambda: one.host.info(hid).STATE == ERROR)
    for vm_id in vms:
        wait_state(one, vm_id, (ACTIVE, UNKNOWN))
    one.host.update(hid, 'DUMMY_FAIL = ""', 1)
    wait_for("host MONITORED", lambda: one.host.info(hid).STATE == MONITORED)
    for vm_id in vms:  # the hypervisor still runs them: found running again
        wait_state(one, vm_id, (ACTIVE, RUNNING))
    assert_valid(raw(server, "one.vm.info", vms[0]), "vm.xsd")


def test_vms_changed_by_nubo_are_not_disturbed_by_monitoring(server, one):
    hid = monitored_host(one)
    vms = [running_vm(one, hid) for _ in range(4)]
    one.vm.action("poweroff", vms[0])
    wait_state(one, vms[0], (POWEROFF, 0))
    probe_rounds(server, hid, 2)
    assert one.vm.info(vms[0]).STATE == POWEROFF  # not "found running" by a late probe
    assert all(one.vm.info(v).LCM_STATE == RUNNING for v in vms[1:])


def test_monitoring_records_are_kept_returned_and_valid(server, one):
    hid = monitored_host(one)
    vm_id = running_vm(one, hid)
    wait_for("VM records", lambda: len(records(server, "one.vm.monitoring", vm_id)) >= 2)
    recs = records(server, "one.vm.monitoring", vm_id)
    assert all(r["ID"] == str(vm_id) for r in recs)
    assert recs[-1]["CPU"] == "50" and recs[-1]["MEMORY"] == str(64 * 1024)
    assert "NETRX" in recs[-1] and "NETTX" in recs[-1]
    stamps = [int(r["TIMESTAMP"]) for r in recs]
    assert stamps == sorted(stamps)
    # the VM's body: MONITORING and LAST_POLL, valid against vm.xsd
    vm = one.vm.info(vm_id)
    assert vm.LAST_POLL > 0
    body = raw(server, "one.vm.info", vm_id)
    assert_valid(body, "vm.xsd")
    monitoring = ET.fromstring(body).find("MONITORING")
    assert monitoring.findtext("MEMORY") == str(64 * 1024)
    # hosts: usage figures per probe
    host_recs = records(server, "one.host.monitoring", hid)
    assert host_recs and all(r["ID"] == str(hid) for r in host_recs)
    assert host_recs[-1]["CPU"] == "50" and host_recs[-1]["MEMORY"] == str(64 * 1024)
    # pools: 0 = the last record of each object, -1 all, N = the last N seconds
    last = records(server, "one.hostpool.monitoring", 0)
    assert len([r for r in last if r["ID"] == str(hid)]) == 1
    everything = records(server, "one.hostpool.monitoring", -1)
    assert len([r for r in everything if r["ID"] == str(hid)]) >= 1
    assert all(r["ID"] for r in records(server, "one.hostpool.monitoring", 2))
    mine = records(server, "one.vmpool.monitoring", -2, 0)
    assert len([r for r in mine if r["ID"] == str(vm_id)]) == 1
    assert any(r["ID"] == str(vm_id) for r in records(server, "one.vmpool.monitoring", -2, -1))


def test_records_older_than_the_window_are_pruned(server, one):
    hid = monitored_host(one)
    vm_id = running_vm(one, hid)
    wait_for("a first VM record", lambda: records(server, "one.vm.monitoring", vm_id))
    first = records(server, "one.vm.monitoring", vm_id)[0]["TIMESTAMP"]
    first_host = records(server, "one.host.monitoring", hid)[0]["TIMESTAMP"]
    wait_for("the first VM record pruned", lambda: all(
        r["TIMESTAMP"] != first for r in records(server, "one.vm.monitoring", vm_id)),
        timeout=30)
    wait_for("the first host record pruned", lambda: all(
        r["TIMESTAMP"] != first_host for r in records(server, "one.host.monitoring", hid)),
        timeout=30)
    recs = records(server, "one.vm.monitoring", vm_id)
    assert recs, "newer records are kept"
    # nothing older than the window (plus a round of slack) survives
    assert min(int(r["TIMESTAMP"]) for r in recs) >= int(time.time()) - EXPIRATION - 3


def test_monitoring_methods_check_their_object(server, one):
    with pytest.raises(pyone.OneNoExistsException):
        one.vm.monitoring(987654)
    with pytest.raises(pyone.OneNoExistsException):
        one.host.monitoring(987654)
