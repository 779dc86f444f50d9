"""Scheduled actions through pyone against a real ``nubo serve``: one.vm.schedadd/update/
delete, SCHED_ACTION at allocate, and the core running them when they fall due."""
from __future__ import annotations

import time
import uuid

import pyone
import pytest

from server import NuboServer
from waits import ACTIVE, HOLD, PENDING, POWEROFF, RUNNING, wait_for, wait_state
from xsd import assert_valid, raw_call


def uniq(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def raw(nubo, method: str, *args):
    return raw_call(nubo.endpoint, method, nubo.session, *args)


def new_vm(one, extra: str = "", hold: bool = False) -> int:
    return one.vm.allocate(f'NAME = "{uniq("sa")}"\nCPU = 0.1\nMEMORY = 16\n{extra}', hold)


def scheds(one, vm_id: int) -> dict[int, dict]:
    found = one.vm.info(vm_id).TEMPLATE.get("SCHED_ACTION", [])
    found = found if isinstance(found, list) else [found]
    return {int(a["ID"]): a for a in found}


def sched(one, vm_id: int, sched_id: int) -> dict:
    return scheds(one, vm_id)[sched_id]


def ran(one, vm_id: int, sched_id: int) -> dict | None:
    """The action once the core recorded a run (DONE set), else None."""
    a = sched(one, vm_id, sched_id)
    return a if int(a["DONE"]) > 0 else None


def test_schedadd_update_delete_and_schema(one, nubo):
    vm = new_vm(one)
    stime = one.vm.info(vm).STIME
    sid = one.vm.schedadd(vm, 'SCHED_ACTION = [ ACTION = "poweroff", TIME = "+86400", '
                              'REPEAT = "0", DAYS = "5,1", END_TYPE = "1", END_VALUE = "3" ]')
    a = sched(one, vm, sid)
    assert (a["ACTION"], int(a["TIME"]), a["DAYS"], a["END_VALUE"], a["DONE"]) == \
        ("poweroff", stime + 86400, "1,5", "3", "-1")
    assert a["PARENT_ID"] == str(vm) and a["TYPE"] == "VM"
    info = raw(nubo, "one.vm.info", vm)[1]
    assert f"<SCHED_ACTIONS><ID>{sid}</ID></SCHED_ACTIONS>" in info
    assert_valid(info, "vm.xsd")
    assert_valid(raw(nubo, "one.vmpool.infoextended", -2, -1, -1, -1)[1], "vm_pool_extended.xsd")

    second = one.vm.schedadd(vm, 'SCHED_ACTION = [ ACTION = "reboot", TIME = "1900000000" ]')
    assert second > sid and sorted(scheds(one, vm)) == [sid, second]
    one.vm.schedupdate(vm, sid, 'SCHED_ACTION = [ ACTION = "suspend", DAYS = "2" ]')
    a = sched(one, vm, sid)
    assert (a["ACTION"], int(a["TIME"]), a["DAYS"], a["REPEAT"]) == \
        ("suspend", stime + 86400, "2", "0")
    one.vm.scheddelete(vm, sid)
    assert list(scheds(one, vm)) == [second]
    with pytest.raises(pyone.OneNoExistsException, match=f"no scheduled action {sid}"):
        one.vm.scheddelete(vm, sid)
    assert_valid(raw(nubo, "one.vm.info", vm)[1], "vm.xsd")


@pytest.mark.parametrize("template, message", [
    ('ACTION = "stop"', "No SCHED_ACTION vector"),
    ('SCHED_ACTION = [ TIME = "+5" ]', "No ACTION"),
    ('SCHED_ACTION = [ ACTION = "dance", TIME = "+5" ]', "dance is not supported"),
    ('SCHED_ACTION = [ ACTION = "stop", TIME = "tomorrow" ]', "Unable to parse the time"),
    ('SCHED_ACTION = [ ACTION = "stop", TIME = "+5", REPEAT = "0" ]', "DAYS are empty"),
    ('SCHED_ACTION = [ ACTION = "stop", TIME = "+5", REPEAT = "1", DAYS = "32" ]',
     r"\[1,31\] range"),
])
def test_bad_sched_actions_change_nothing(one, template, message):
    vm = new_vm(one)
    with pytest.raises(pyone.OneApiException, match=message):
        one.vm.schedadd(vm, template)
    assert scheds(one, vm) == {}
    good = one.vm.schedadd(vm, 'SCHED_ACTION = [ ACTION = "stop", TIME = "1900000000" ]')
    if template.startswith("SCHED_ACTION") and message != "No ACTION":  # update keeps ACTION
        with pytest.raises(pyone.OneApiException, match=message):
            one.vm.schedupdate(vm, good, template)
        assert sched(one, vm, good)["ACTION"] == "stop"


def test_allocate_takes_sched_actions_and_checks_them(one, nubo):
    vm = new_vm(one, 'SCHED_ACTION = [ ACTION = "terminate", TIME = "+3600" ]\n'
                     'SCHED_ACTION = [ ACTION = "snapshot-create", ARGS = "s1", '
                     'TIME = "1900000000" ]')
    info = one.vm.info(vm)
    assert [a["ACTION"] for a in scheds(one, vm).values()] == ["terminate", "snapshot-create"]
    assert int(list(scheds(one, vm).values())[0]["TIME"]) == info.STIME + 3600
    assert "SCHED_ACTION" not in info.USER_TEMPLATE
    assert_valid(raw(nubo, "one.vm.info", vm)[1], "vm.xsd")
    before = len(one.vmpool.info(-2, -1, -1, -1).VM)
    with pytest.raises(pyone.OneInternalException, match=r"SCHED_ACTION #2: Wrong REPEAT"):
        new_vm(one, 'SCHED_ACTION = [ ACTION = "stop", TIME = "+5" ]\n'
                    'SCHED_ACTION = [ ACTION = "stop", TIME = "+5", REPEAT = "9" ]')
    assert len(one.vmpool.info(-2, -1, -1, -1).VM) == before
    tid = one.template.allocate(f'NAME = "{uniq("t")}"\nCPU = 0.1\nMEMORY = 16\n'
                                'SCHED_ACTION = [ ACTION = "hold", TIME = "+7200" ]')
    made = one.template.instantiate(tid, "", False, "", False)
    assert [a["ACTION"] for a in scheds(one, made).values()] == ["hold"]


def test_due_action_runs_and_is_recorded(one, nubo):
    vm = new_vm(one)
    due = int(time.time()) + 1
    sid = one.vm.schedadd(vm, f'SCHED_ACTION = [ ACTION = "hold", TIME = "{due}" ]')
    a = wait_for("the hold to run", lambda: ran(one, vm, sid))
    assert one.vm.info(vm).STATE == HOLD
    assert int(a["DONE"]) >= due and not a["MESSAGE"]
    assert_valid(raw(nubo, "one.vm.info", vm)[1], "vm.xsd")


def test_a_failed_action_records_its_error(one):
    vm = new_vm(one, f'SCHED_ACTION = [ ACTION = "stop", TIME = "{int(time.time())}" ]')
    sid = next(iter(scheds(one, vm)))
    a = wait_for("the stop to be tried", lambda: ran(one, vm, sid))
    assert "This action is not available for state PENDING" in a["MESSAGE"]
    assert one.vm.info(vm).STATE == PENDING


def test_runs_as_the_owner_through_the_api_checks(one):
    vm = new_vm(one)
    sid = one.vm.schedadd(vm, f'SCHED_ACTION = [ ACTION = "hold", TIME = "{int(time.time()) + 1}" ]')
    one.vm.lock(vm, 4, False)
    a = wait_for("the hold to be tried", lambda: ran(one, vm, sid))
    assert "locked" in a["MESSAGE"] and one.vm.info(vm).STATE == PENDING
    one.vm.unlock(vm)


def test_poweroff_of_a_running_vm(one):
    host = one.host.allocate(uniq("sa-host"), "dummy", "dummy", -1)
    vm = new_vm(one)
    one.vm.deploy(vm, host)
    wait_state(one, vm, (ACTIVE, RUNNING))
    sid = one.vm.schedadd(vm, f'SCHED_ACTION = [ ACTION = "poweroff", TIME = "{int(time.time())}" ]')
    wait_state(one, vm, (POWEROFF, 0))
    assert not sched(one, vm, sid)["MESSAGE"]


def test_missed_repetitions_run_once_and_the_next_is_later(one):
    now = int(time.time())
    first = now - 5 * 3600 + 30  # five hourly runs already missed
    vm = new_vm(one, f'SCHED_ACTION = [ ACTION = "hold", TIME = "{first}", REPEAT = "3", '
                     'DAYS = "1", END_TYPE = "1", END_VALUE = "10" ]')
    sid = next(iter(scheds(one, vm)))
    a = wait_for("the hold to run", lambda: ran(one, vm, sid))
    assert one.vm.info(vm).STATE == HOLD
    # A second run would fail (already HOLD) and leave a MESSAGE; it ran once, counted once.
    assert not a["MESSAGE"] and a["END_VALUE"] == "9"
    assert int(a["TIME"]) == first + 5 * 3600 and int(a["TIME"]) > now


def test_a_deleted_action_never_runs(one):
    vm = new_vm(one)
    sid = one.vm.schedadd(vm, f'SCHED_ACTION = [ ACTION = "hold", TIME = "{int(time.time()) + 2}" ]')
    one.vm.scheddelete(vm, sid)
    marker = one.vm.schedadd(vm, f'SCHED_ACTION = [ ACTION = "stop", TIME = "{int(time.time()) + 2}" ]')
    wait_for("the later action to be tried", lambda: ran(one, vm, marker))
    assert one.vm.info(vm).STATE == PENDING  # the hold did not run


def test_an_action_missed_while_down_runs_once_at_start(tmp_path):
    server = NuboServer(tmp_path / "data").start()
    try:
        one = pyone.OneServer(server.endpoint, session=server.session)
        # Far enough ahead that a loaded machine still stops nubo before it falls due.
        due = int(time.time()) + 6
        vm = new_vm(one, f'SCHED_ACTION = [ ACTION = "hold", TIME = "{due}", REPEAT = "3", '
                         'DAYS = "1" ]')
        sid = next(iter(scheds(one, vm)))
    finally:
        assert server.stop() == 0
    assert time.time() < due, "nubo stopped after the action fell due: nothing was missed"
    wait_for("the action to fall due while nubo is down", lambda: time.time() > due + 1)
    server = NuboServer(tmp_path / "data").start()
    try:
        one = pyone.OneServer(server.endpoint, session=server.session)
        a = wait_for("the missed hold to run", lambda: ran(one, vm, sid))
        assert one.vm.info(vm).STATE == HOLD and not a["MESSAGE"]
        assert int(a["TIME"]) == due + 3600 and int(a["DONE"]) > due
    finally:
        assert server.stop() == 0


def test_a_scheduled_disk_snapshot_of_a_running_vm(one):
    host = one.host.allocate(uniq("sa-host"), "dummy", "dummy", -1)
    image = one.image.allocate(f'NAME = "{uniq("sa-img")}"\nTYPE = "DATABLOCK"\nSIZE = 1', 1)
    wait_for("the image READY", lambda: one.image.info(image).STATE == 1)
    vm = new_vm(one, f'DISK = [ IMAGE_ID = {image} ]')
    one.vm.deploy(vm, host)
    wait_state(one, vm, (ACTIVE, RUNNING))
    sid = one.vm.schedadd(vm, 'SCHED_ACTION = [ ACTION = "disk-snapshot-create", '
                              f'ARGS = "0, nightly", TIME = "{int(time.time())}" ]')
    a = wait_for("the disk snapshot to run", lambda: ran(one, vm, sid))
    assert not a["MESSAGE"], a["MESSAGE"]
    wait_state(one, vm, (ACTIVE, RUNNING))
    snaps = one.vm.info(vm).SNAPSHOTS
    snaps = snaps if isinstance(snaps, list) else [snaps]
    assert [(s.DISK_ID, [x.NAME for x in s.SNAPSHOT]) for s in snaps] == [(0, ["nightly"])]
