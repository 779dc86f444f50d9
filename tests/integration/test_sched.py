"""The scheduler against a real ``nubo serve`` (its child process) with dummy hosts, via pyone."""
from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pyone
import pytest

from server import NuboServer, child_pids
from waits import ACTIVE, PENDING, RUNNING, wait_for, wait_state
from xsd import raw_call

MONITORED = 2


@pytest.fixture(scope="module")
def cloud(tmp_path_factory):
    server = NuboServer(tmp_path_factory.mktemp("sched") / "data", extra_config=(
        "scheduler = true\nhost_monitoring_interval = 1\nsched_interval = 2\n")).start()
    yield server
    assert server.stop() == 0, "".join(server.log_lines[-30:])


@pytest.fixture
def one(cloud):
    return pyone.OneServer(cloud.endpoint, session=cloud.session)


def monitored_host(one, name: str, vmm: str = "dummy", template: str = "") -> int:
    hid = one.host.allocate(name, "dummy", vmm, -1)
    if template:
        one.host.update(hid, template, 1)
    wait_for(f"host {name} MONITORED", lambda: one.host.info(hid).STATE == MONITORED)
    return hid


def last_host(one, vm_id: int) -> int:
    history = one.vm.info(vm_id).HISTORY_RECORDS.HISTORY
    return history[-1].HID


@pytest.fixture(scope="module")
def slow_cycle(tmp_path_factory):
    """A cloud whose scheduler runs a full cycle once a minute: a VM placed well before
    that was placed because it became PENDING, not by the periodic cycle."""
    server = NuboServer(tmp_path_factory.mktemp("sched-slow") / "data", extra_config=(
        "scheduler = true\nhost_monitoring_interval = 1\nsched_interval = 60\n")).start()
    yield pyone.OneServer(server.endpoint, session=server.session)
    assert server.stop() == 0, "".join(server.log_lines[-30:])


def test_a_new_pending_vm_is_placed_at_once_not_at_the_next_cycle(slow_cycle) -> None:
    one = slow_cycle
    hid = monitored_host(one, "idle-node", template='SCHED_TEST = "idle"')
    start = time.monotonic()
    vm = one.vm.allocate('NAME = "first"\nCPU = 0.1\nMEMORY = 64\n'
                         'SCHED_REQUIREMENTS = "SCHED_TEST = \\"idle\\""', False)
    wait_for("VM deployed", lambda: one.vm.info(vm).STATE == ACTIVE, timeout=30)
    elapsed = time.monotonic() - start
    print(f"first placement: {elapsed:.2f} s")
    wait_state(one, vm, (ACTIVE, RUNNING))
    assert last_host(one, vm) == hid


def test_a_vm_that_fits_nowhere_stays_pending_with_a_message(one) -> None:
    monitored_host(one, "msg-node")
    picky = one.vm.allocate('NAME = "picky"\nCPU = 0.1\nMEMORY = 64\n'
                            'SCHED_REQUIREMENTS = "HYPERVISOR = kvm"', False)
    huge = one.vm.allocate('NAME = "huge"\nCPU = 64\nMEMORY = 64', False)

    def message(vm: int) -> str:
        return one.vm.info(vm).USER_TEMPLATE.get("SCHED_MESSAGE", "")
    wait_for("picky's message", lambda: "No host meets SCHED_REQUIREMENTS" in message(picky))
    wait_for("huge's message", lambda: "No host with enough capacity" in message(huge))
    assert one.vm.info(picky).STATE == PENDING and one.vm.info(huge).STATE == PENDING
    # The message is written once, not every cycle.
    version = message(picky)
    time.sleep(2.5)
    assert message(picky) == version
    one.vm.action("terminate", picky)
    one.vm.action("terminate", huge)


@pytest.mark.parametrize("attr", ["SCHED_REQUIREMENTS", "SCHED_RANK", "SCHED_DS_REQUIREMENTS",
                                  "SCHED_DS_RANK"])
def test_malformed_expressions_are_refused_with_line_and_column(one, attr) -> None:
    bad = '"CPUSPEED > "' if "REQ" in attr else '"FREE_CPU * "'
    count = len(one.vmpool.info(-2, -1, -1, -1).VM)
    with pytest.raises(pyone.OneInternalException, match=rf"{attr}.*line 1, column 1[12]"):
        one.vm.allocate(f'NAME = "bad"\nCPU = 1\nMEMORY = 64\n{attr} = {bad}', False)
    assert len(one.vmpool.info(-2, -1, -1, -1).VM) == count
    with pytest.raises(pyone.OneInternalException, match=attr):
        one.template.allocate(f'NAME = "bad-{attr}"\nCPU = 1\nMEMORY = 64\n{attr} = {bad}')
    tid = one.template.allocate(f'NAME = "good-{attr}"\nCPU = 1\nMEMORY = 64')
    with pytest.raises(pyone.OneInternalException, match=attr):
        one.template.instantiate(tid, "", True, f"{attr} = {bad}", False)
    with pytest.raises(pyone.OneInternalException, match=attr):
        one.template.update(tid, f"{attr} = {bad}", 1)
    vm = one.vm.allocate('NAME = "ok"\nCPU = 1\nMEMORY = 64', True)
    with pytest.raises(pyone.OneInternalException, match=attr):
        one.vm.update(vm, f"{attr} = {bad}", 1)
    assert attr not in one.vm.info(vm).USER_TEMPLATE
    one.vm.action("terminate", vm)
    one.template.delete(tid, False)


def test_a_vm_that_cannot_be_placed_does_not_stop_the_others(cloud, one) -> None:
    """One user's VM whose expression fails when the scheduler evaluates it (its NAME is no
    number) gets a SCHED_MESSAGE and is logged in nubo.log; another user's VM is placed."""
    hid = monitored_host(one, "poison-node", template='POISON = "yes"')
    one.user.allocate("poisoner", "poison-pw", "", [])
    plain = pyone.OneServer(cloud.endpoint, session="poisoner:poison-pw")
    poison = plain.vm.allocate('NAME = "web"\nCPU = 0.1\nMEMORY = 64\n'
                               'SCHED_REQUIREMENTS = "POISON = yes & CPUSPEED > $NAME"', False)
    why = "Error in SCHED_REQUIREMENTS: '>' compares numbers, but $NAME is \"web\""
    wait_for("the poison VM's message",
             lambda: why in one.vm.info(poison).USER_TEMPLATE.get("SCHED_MESSAGE", ""))
    # From now on every cycle has the poison VM PENDING. The review's hostile expressions
    # (a 400-term rank, 500 '!') are placed too, as the other user's VM.
    flat = plain.vm.allocate('NAME = "flat"\nCPU = 0.1\nMEMORY = 64\n'
                             'SCHED_REQUIREMENTS = "POISON = yes"\n'
                             f'SCHED_RANK = "{"+".join(["1"] * 400)}"', False)
    bangs = plain.vm.allocate('NAME = "bangs"\nCPU = 0.1\nMEMORY = 64\n'
                              f'SCHED_REQUIREMENTS = "{"!" * 500}POISON = yes"', False)
    vm = one.vm.allocate('NAME = "victim"\nCPU = 0.1\nMEMORY = 64\n'
                         'SCHED_REQUIREMENTS = "POISON = yes"', False)
    for placed in (vm, flat, bangs):
        wait_state(one, placed, (ACTIVE, RUNNING), timeout=15)
        assert last_host(one, placed) == hid
    assert one.vm.info(poison).STATE == PENDING
    log = cloud.data_dir / "nubo.log"
    wait_for("the skipped VM in nubo.log", lambda: f"VM {poison}: skipped by the scheduler: "
             f"{why}" in log.read_text())
    for done in (vm, flat, bangs):
        one.vm.action("terminate-hard", done)
    one.vm.action("terminate", poison)
    one.host.status(hid, 1)  # disabled: out of the other tests' way


def test_a_vm_whose_deploy_fails_is_placed_elsewhere(one) -> None:
    # A host whose VMs have no driver: deploys there fail (PROLOG_FAILURE).
    broken = monitored_host(one, "broken-node", vmm="no-such-driver", template="PRIORITY = 50")
    good = monitored_host(one, "good-node", template="PRIORITY = 10")
    vm = one.vm.allocate('NAME = "retry"\nCPU = 0.1\nMEMORY = 64\nSCHED_RANK = "PRIORITY"\n'
                         'SCHED_REQUIREMENTS = "PRIORITY > 5"', False)
    wait_state(one, vm, (ACTIVE, RUNNING), timeout=30)
    hosts = [h.HID for h in one.vm.info(vm).HISTORY_RECORDS.HISTORY]
    assert hosts[0] == broken and hosts[-1] == good
    one.host.status(broken, 1)  # disabled: out of the other tests' way


@pytest.mark.parametrize("pool, rank, better_b", [
    ("resched", 'SCHED_RANK = "PRIORITY"\n', True),  # host b becomes better: it goes there
    ("flush", "", False),  # packing ranks its own host first: it still leaves it
])
def test_a_vm_flagged_for_rescheduling_moves_to_another_host(one, pool, rank, better_b) -> None:
    a = monitored_host(one, f"{pool}-a", template=f'PRIORITY = 100\nPOOL = "{pool}"')
    b = monitored_host(one, f"{pool}-b", template=f'PRIORITY = 1\nPOOL = "{pool}"')
    vm = one.vm.allocate(f'NAME = "mover-{pool}"\nCPU = 0.1\nMEMORY = 64\n{rank}'
                         f'SCHED_REQUIREMENTS = "POOL = {pool}"', False)
    wait_state(one, vm, (ACTIVE, RUNNING))
    assert last_host(one, vm) == a  # the higher PRIORITY; under packing, a tie: lowest id
    if better_b:
        one.host.update(b, "PRIORITY = 500", 1)
    one.vm.action("resched", vm)  # as `onehost flush` marks the host's VMs
    wait_for("the VM on host b", lambda: last_host(one, vm) == b, timeout=30)
    wait_state(one, vm, (ACTIVE, RUNNING))
    assert one.vm.info(vm).RESCHED == 0
    for hid in (a, b):
        one.host.status(hid, 1)  # disabled: out of the other tests' way


def test_sched_wait_is_for_the_oneadmin_group_and_moves_on_changes(cloud, one) -> None:
    one.user.allocate("plain", "plain-pw", "core", [])
    ok, msg, code, *_ = raw_call(cloud.endpoint, "nubo.sched.wait", "plain:plain-pw", 0, 0)
    assert not ok and code == 0x200
    ok, stamp, *_ = raw_call(cloud.endpoint, "nubo.sched.wait", cloud.session, -1, 0)
    assert ok
    ok, same, *_ = raw_call(cloud.endpoint, "nubo.sched.wait", cloud.session, stamp, 0)
    assert same == stamp
    one.vm.allocate('NAME = "wake"\nCPU = 0.1\nMEMORY = 64\nSCHED_REQUIREMENTS = "NO = 1"', False)
    ok, moved, *_ = raw_call(cloud.endpoint, "nubo.sched.wait", cloud.session, stamp, 5)
    assert ok and moved > stamp


def test_the_scheduler_is_restarted_when_it_dies(cloud, one) -> None:
    def scheduler_pids() -> list[int]:
        out = []
        for pid in child_pids(cloud.proc.pid):
            try:
                if b"sched" in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0"):
                    out.append(pid)
            except OSError:
                pass
        return out
    [pid] = wait_for("the scheduler process", scheduler_pids)
    os.kill(pid, signal.SIGKILL)
    [new] = wait_for("a new scheduler", lambda: [p for p in scheduler_pids() if p != pid],
                     timeout=10)
    assert new != pid
    hid = monitored_host(one, "after-restart", template='AFTER = "yes"')
    vm = one.vm.allocate('NAME = "after"\nCPU = 0.1\nMEMORY = 64\n'
                         'SCHED_REQUIREMENTS = "AFTER = yes"', False)
    wait_state(one, vm, (ACTIVE, RUNNING), timeout=15)
    assert last_host(one, vm) == hid


def test_vm_group_roles_are_kept_apart_and_on_their_hosts(one) -> None:
    hosts = [monitored_host(one, f"group-{i}", template='POOL = "group"') for i in range(3)]
    gid = one.vmgroup.allocate(
        'NAME = "apart"\nROLE = [ NAME = "web", POLICY = "ANTI_AFFINED" ]\n'
        f'ROLE = [ NAME = "pinned", HOST_AFFINED = "{hosts[2]}" ]')
    vms = [one.vm.allocate(f'NAME = "web-{i}"\nCPU = 0.1\nMEMORY = 64\n'
                           'SCHED_REQUIREMENTS = "POOL = group"\n'
                           f'VMGROUP = [ VMGROUP_ID = {gid}, ROLE = "web" ]', False)
           for i in range(4)]
    for vm in vms[:3]:
        wait_state(one, vm, (ACTIVE, RUNNING))
    # Packing would put them all on one host: anti-affinity spreads them, one per host.
    assert sorted(last_host(one, vm) for vm in vms[:3]) == sorted(hosts)
    wait_for("the fourth VM's message", lambda: "affinity" in one.vm.info(vms[3])
             .USER_TEMPLATE.get("SCHED_MESSAGE", ""))
    assert one.vm.info(vms[3]).STATE == PENDING
    pinned = one.vm.allocate('NAME = "pinned"\nCPU = 0.1\nMEMORY = 64\n'
                             'SCHED_REQUIREMENTS = "POOL = group"\n'
                             f'VMGROUP = [ VMGROUP_ID = {gid}, ROLE = "pinned" ]', False)
    wait_state(one, pinned, (ACTIVE, RUNNING))
    assert last_host(one, pinned) == hosts[2]
    for vm in vms + [pinned]:
        one.vm.action("terminate-hard", vm)


def test_the_scheduler_does_not_outlive_a_killed_core(tmp_path) -> None:
    server = NuboServer(tmp_path / "data", extra_config="scheduler = true\n").start()
    try:
        def scheduler() -> list[int]:
            return [p for p in child_pids(server.proc.pid)
                    if b"sched" in Path(f"/proc/{p}/cmdline").read_bytes().split(b"\0")]
        [pid] = wait_for("the scheduler process", scheduler)
    finally:
        server.proc.kill()  # SIGKILL: no chance to stop its children
        server.proc.wait()

    def gone() -> bool:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            return True
        return state == "Z"  # exited, waiting for a reaper
    try:
        wait_for("the orphaned scheduler to exit", gone, timeout=15)
    finally:
        if not gone():
            os.kill(pid, signal.SIGKILL)


def test_automatic_requirements_place_a_vm_in_its_network_cluster_and_datastore(one) -> None:
    cluster = one.cluster.allocate("auto-c")
    outside = monitored_host(one, "auto-0", template='POOL = "auto"')
    inside = one.host.allocate("auto-c1", "dummy", "dummy", cluster)
    one.host.update(inside, 'POOL = "auto"', 1)
    wait_for("host auto-c1 MONITORED", lambda: one.host.info(inside).STATE == MONITORED)
    first = one.datastore.allocate('NAME = "auto-sys-a"\nTYPE = SYSTEM_DS\nTM_MAD = dummy',
                                   cluster)
    second = one.datastore.allocate('NAME = "auto-sys-b"\nTYPE = SYSTEM_DS\nTM_MAD = dummy',
                                    cluster)
    vnet = one.vn.allocate('NAME = "auto-net"\nBRIDGE = "brauto"\nVN_MAD = "bridge"\n'
                           'AR = [ TYPE = "ETHER", SIZE = "8" ]', cluster)
    vm = one.vm.allocate(f'NAME = "in-cluster"\nCPU = 0.1\nMEMORY = 64\nNIC = [ NETWORK_ID = '
                         f'{vnet} ]\nDISK = [ TYPE = swap, SIZE = 16 ]\n'
                         'SCHED_REQUIREMENTS = "POOL = auto"\n'
                         'SCHED_DS_REQUIREMENTS = "NAME = \\"auto-sys-b\\""', False)
    assert one.vm.info(vm).TEMPLATE["AUTOMATIC_REQUIREMENTS"].startswith(
        f"(CLUSTER_ID = {cluster})")
    wait_state(one, vm, (ACTIVE, RUNNING))
    record = one.vm.info(vm).HISTORY_RECORDS.HISTORY[-1]
    assert (record.HID, record.DS_ID) == (inside, second)  # not the lower host id outside
    assert first != second
    # A VM whose datastore requirements match none of its cluster's stays PENDING, saying so.
    stuck = one.vm.allocate(f'NAME = "no-ds"\nCPU = 0.1\nMEMORY = 64\nNIC = [ NETWORK_ID = '
                            f'{vnet} ]\nSCHED_REQUIREMENTS = "POOL = auto"\n'
                            'SCHED_DS_REQUIREMENTS = "NAME = \\"system\\""', False)
    wait_for("a message", lambda: "SCHED_MESSAGE" in one.vm.info(stuck).USER_TEMPLATE)
    assert one.vm.info(stuck).STATE == PENDING
    for v in (vm, stuck):
        one.vm.action("terminate-hard", v)
    for hid in (outside, inside):
        one.host.status(hid, 1)
