"""The VM life-cycle end to end, via pyone: one.vm.deploy and one.vm.action on a real
``nubo serve`` whose dummy drivers run the hypervisor and transfer operations."""
from __future__ import annotations

import uuid

import pyone
import pytest

from waits import (ACTIVE, BOOT_FAILURE, DONE, HOLD, PENDING, POWEROFF, PROLOG_FAILURE,
                   RUNNING, wait_state)
from waits import vm_state as state
from xsd import assert_valid, raw_call


def uniq(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def raw(nubo, method: str, *args):
    return raw_call(nubo.endpoint, method, nubo.session, *args)


@pytest.fixture
def host(one) -> int:
    return one.host.allocate(uniq("dummy-host"), "dummy", "dummy", -1)


def new_vm(one, extra: str = "", hold: bool = False) -> int:
    return one.vm.allocate(f'NAME = "{uniq("lc")}"\nCPU = 0.5\nMEMORY = 64\n{extra}', hold)


def running_vm(one, host: int) -> int:
    vm_id = new_vm(one)
    one.vm.deploy(vm_id, host)
    wait_state(one, vm_id, (ACTIVE, RUNNING))
    return vm_id


def test_deploy_runs_the_vm_and_counts_it_on_the_host(one, nubo, host):
    vm_id = running_vm(one, host)
    vm = one.vm.info(vm_id)
    assert vm.DEPLOY_ID == f"one-{vm_id}"
    record = vm.HISTORY_RECORDS.HISTORY[-1]
    assert record.HID == host and record.STIME > 0 and record.ETIME == 0
    assert record.PSTIME > 0 and record.PETIME > 0 and record.RSTIME > 0
    share = one.host.info(host).HOST_SHARE
    assert share.RUNNING_VMS == 1 and share.CPU_USAGE == 50 and share.MEM_USAGE == 64 * 1024
    assert vm_id in one.host.info(host).VMS.ID
    assert_valid(raw(nubo, "one.vm.info", vm_id)[1], "vm.xsd")
    assert_valid(raw(nubo, "one.host.info", host)[1], "host.xsd")


def test_poweroff_and_resume(one, nubo, host):
    vm_id = running_vm(one, host)
    one.vm.action("poweroff", vm_id)
    wait_state(one, vm_id, (POWEROFF, 0))
    assert one.host.info(host).HOST_SHARE.RUNNING_VMS == 1  # still counted
    one.vm.action("resume", vm_id)
    wait_state(one, vm_id, (ACTIVE, RUNNING))
    assert_valid(raw(nubo, "one.vm.info", vm_id)[1], "vm.xsd")


def test_hold_and_release_a_pending_vm(one):
    vm_id = new_vm(one)
    one.vm.action("hold", vm_id)
    assert state(one, vm_id) == (HOLD, 0)
    one.vm.action("release", vm_id)
    assert state(one, vm_id) == (PENDING, 0)


def test_terminate_frees_the_host(one, nubo, host):
    vm_id = running_vm(one, host)
    one.vm.action("terminate", vm_id)
    wait_state(one, vm_id, (DONE, 0))
    info = one.host.info(host)
    assert info.HOST_SHARE.RUNNING_VMS == 0 and info.HOST_SHARE.CPU_USAGE == 0
    vm = one.vm.info(vm_id)
    assert vm.ETIME > 0 and vm.HISTORY_RECORDS.HISTORY[-1].ETIME > 0
    assert_valid(raw(nubo, "one.vm.info", vm_id)[1], "vm.xsd")
    assert_valid(raw(nubo, "one.host.info", host)[1], "host.xsd")


def test_terminate_hard_and_pending_terminate(one, host):
    vm_id = running_vm(one, host)
    one.vm.action("terminate-hard", vm_id)
    wait_state(one, vm_id, (DONE, 0))
    pending = new_vm(one)
    one.vm.action("terminate", pending)
    assert state(one, pending) == (DONE, 0)


def test_refusals_name_the_state_and_change_nothing(one, host):
    vm_id = running_vm(one, host)
    with pytest.raises(pyone.OneActionException, match="not available for state RUNNING"):
        one.vm.action("resume", vm_id)
    with pytest.raises(pyone.OneActionException,
                       match="Deploy action is not available for state RUNNING"):
        one.vm.deploy(vm_id, host)
    assert state(one, vm_id) == (ACTIVE, RUNNING)
    pending = new_vm(one)
    with pytest.raises(pyone.OneActionException, match="not available for state PENDING"):
        one.vm.action("stop", pending)
    with pytest.raises(pyone.OneActionException, match="not supported"):
        one.vm.action("fly", pending)
    assert state(one, pending) == (PENDING, 0)
    assert one.host.info(host).HOST_SHARE.RUNNING_VMS == 1


def test_refusal_error_code_is_action(nubo, one):
    vm_id = new_vm(one)
    reply = raw(nubo, "one.vm.action", "resume", vm_id)
    assert reply[0] is False and reply[2] == 0x800
    assert "PENDING" in reply[1]


def test_a_failing_deploy_ends_in_boot_failure(one, nubo, host):
    vm_id = new_vm(one, 'DUMMY_FAIL = "DEPLOY"')
    one.vm.deploy(vm_id, host)
    wait_state(one, vm_id, (ACTIVE, BOOT_FAILURE))
    vm = one.vm.info(vm_id)
    assert "DUMMY_FAIL" in str(vm.USER_TEMPLATE.get("ERROR", ""))
    assert_valid(raw(nubo, "one.vm.info", vm_id)[1], "vm.xsd")
    one.vm.action("terminate", vm_id)  # a failure state terminates (cleaned up)
    wait_state(one, vm_id, (DONE, 0))


def test_deploy_to_a_missing_host(one):
    vm_id = new_vm(one)
    with pytest.raises(pyone.OneNoExistsException):
        one.vm.deploy(vm_id, 99999)
    assert state(one, vm_id) == (PENDING, 0)


def test_a_burst_of_vms_is_counted_and_freed_exactly_once(one, nubo, host):
    from concurrent.futures import ThreadPoolExecutor
    vm_ids = [new_vm(one) for _ in range(20)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda v: one.vm.deploy(v, host), vm_ids))
    for vm_id in vm_ids:
        wait_state(one, vm_id, (ACTIVE, RUNNING))
    info = one.host.info(host)
    assert info.HOST_SHARE.RUNNING_VMS == 20 and sorted(info.VMS.ID) == sorted(vm_ids)
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda v: one.vm.action("terminate-hard", v), vm_ids))
    for vm_id in vm_ids:
        wait_state(one, vm_id, (DONE, 0))
    share = one.host.info(host).HOST_SHARE
    assert (share.RUNNING_VMS, share.CPU_USAGE, share.MEM_USAGE) == (0, 0, 0)
    assert_valid(raw(nubo, "one.host.info", host)[1], "host.xsd")


def test_a_host_whose_driver_is_not_configured_fails_the_boot(one, nubo):
    # The disks reach it through the transfer driver (dummy); its VM driver is missing.
    host = one.host.allocate(uniq("kvm-host"), "kvm", "kvm", -1)
    vm_id = new_vm(one)
    one.vm.deploy(vm_id, host)
    wait_state(one, vm_id, (ACTIVE, BOOT_FAILURE))
    assert "no driver named 'kvm'" in str(one.vm.info(vm_id).USER_TEMPLATE["ERROR"])
    one.vm.action("terminate", vm_id)
    wait_state(one, vm_id, (DONE, 0))
    assert one.host.info(host).HOST_SHARE.RUNNING_VMS == 0


def test_a_failing_transfer_command_fails_the_prolog(one, nubo):
    host = one.host.allocate(uniq("tm-fail"), "dummy", "dummy", -1)
    vm_id = new_vm(one, 'DISK = [ TYPE = "swap", SIZE = 128 ]\nDUMMY_FAIL = "MKSWAP"')
    one.vm.deploy(vm_id, host)
    wait_state(one, vm_id, (ACTIVE, PROLOG_FAILURE))
    assert "MKSWAP" in str(one.vm.info(vm_id).USER_TEMPLATE["ERROR"])
    one.vm.action("terminate", vm_id)
    wait_state(one, vm_id, (DONE, 0))


def test_metrics_show_the_cloud_and_its_drivers(one, nubo, host):
    """What an operator scrapes: VMs by state, hosts by state, each driver's counters."""
    import requests
    from prometheus_client.parser import text_string_to_metric_families
    running_vm(one, host)
    base = nubo.endpoint.rsplit("/", 1)[0]
    families = {f.name: f for f in text_string_to_metric_families(
        requests.get(f"{base}/metrics", timeout=10).text)}

    def value(name: str, **labels: str) -> float:
        return sum(s.value for s in families[name].samples
                   if all(s.labels.get(k) == v for k, v in labels.items()))
    assert value("nubo_vms", state="ACTIVE", lcm_state="RUNNING") >= 1
    assert value("nubo_hosts") >= 1
    assert value("nubo_driver_up", driver="dummy") == 1
    assert value("nubo_driver_actions", driver="dummy") >= 2  # its PROLOG and DEPLOY
    assert value("nubo_driver_actions_succeeded", driver="dummy") >= 2
    assert "nubo_vms_awaiting_driver" in families and "nubo_database_bytes" in families
