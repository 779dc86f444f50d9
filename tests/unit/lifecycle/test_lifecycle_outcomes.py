"""Whole paths through the life-cycle, driven by driver answers and monitoring,
with the history times and host usage OpenNebula records along them."""
from __future__ import annotations

from types import SimpleNamespace

import pytest
from lifecycle_harness import Cloud

from nubo.lifecycle import (
    NewRecord, OpRef, Placement, Release, Reserve, Stamp, VmView, apply, decide, is_valid_pair,
    on_event, on_outcome, view_of,
)
from nubo.lifecycle.states import PLACED_STATES, LcmState, VmState

S, L = VmState, LcmState


def pair(cloud: Cloud, vm: int = 0) -> tuple[VmState, LcmState]:
    view = cloud.views[vm]
    return view.state, view.lcm_state


def act(cloud: Cloud, action: str, vm: int = 0, **params):
    decision = decide(cloud.views[vm], action, **params)
    cloud.commit(vm, decision)
    return decision


def answer(cloud: Cloud, ok: bool = True, vm: int = 0):
    """Answer the operation the VM awaits."""
    token = cloud.awaited_token[vm]
    index = next(i for i, f in enumerate(cloud.in_flight) if f.token == token)
    view = cloud.views[vm]
    decision = on_outcome(view, cloud.in_flight[index].op, ok)
    cloud.deliver(index, ok)
    return decision


def running(host: int = 10) -> Cloud:
    cloud = Cloud()
    cloud.add_vm(0)
    act(cloud, "deploy", host=host)
    answer(cloud)
    answer(cloud)
    assert pair(cloud) == (S.ACTIVE, L.RUNNING)
    return cloud


def stamps(decision) -> list[tuple[str, str]]:
    return [(e.record, e.field) for e in decision.history if isinstance(e, Stamp)
            and e.mode == "now"]


def test_deploy_to_done_records_every_phase():
    cloud = Cloud()
    cloud.add_vm(0)
    d = act(cloud, "deploy", host=10)
    assert d.history[0] == NewRecord(10) and d.capacity == (Reserve(10),)
    assert stamps(d) == [("current", "STIME"), ("current", "PSTIME")]
    d = answer(cloud)
    assert pair(cloud) == (S.ACTIVE, L.BOOT) and stamps(d) == [("current", "PETIME"),
                                                               ("current", "RSTIME")]
    answer(cloud)
    d = act(cloud, "terminate")
    assert pair(cloud) == (S.ACTIVE, L.SHUTDOWN)
    d = answer(cloud)
    assert pair(cloud) == (S.ACTIVE, L.EPILOG)
    assert stamps(d) == [("current", "ESTIME"), ("current", "RETIME")]
    d = answer(cloud)
    assert pair(cloud) == (S.DONE, L.LCM_INIT)
    assert stamps(d)[:2] == [("current", "EETIME"), ("current", "ETIME")]
    assert d.capacity == (Release(10),) and "release_resources" in d.tasks


def test_failures_and_their_recovery():
    cloud = Cloud()
    cloud.add_vm(0)
    act(cloud, "deploy", host=10)
    answer(cloud, ok=False)
    assert pair(cloud) == (S.ACTIVE, L.PROLOG_FAILURE)
    act(cloud, "retry")
    answer(cloud)
    answer(cloud, ok=False)
    assert pair(cloud) == (S.ACTIVE, L.BOOT_FAILURE) and cloud.views[0].hosts == {10}
    d = act(cloud, "recover-success")
    assert pair(cloud) == (S.ACTIVE, L.RUNNING) and d.deploy_id == "one-0"


def test_stop_and_resume_move_the_files_back():
    cloud = running()
    act(cloud, "stop")
    answer(cloud)
    assert pair(cloud) == (S.ACTIVE, L.EPILOG_STOP)
    answer(cloud)
    assert pair(cloud) == (S.STOPPED, L.LCM_INIT) and cloud.views[0].current.action == "stop"
    assert not cloud.views[0].hosts
    act(cloud, "resume")
    assert pair(cloud) == (S.PENDING, L.LCM_INIT)
    d = act(cloud, "deploy", host=11)
    assert d.lcm_state is L.PROLOG_RESUME
    d = answer(cloud)
    assert d.lcm_state is L.BOOT_STOPPED and d.ops[0].action == "RESTORE"
    answer(cloud)
    assert pair(cloud) == (S.ACTIVE, L.RUNNING) and cloud.views[0].hosts == {11}


def test_undeploy_and_redeploy():
    cloud = running()
    act(cloud, "undeploy-hard")
    answer(cloud)
    answer(cloud)
    assert pair(cloud) == (S.UNDEPLOYED, L.LCM_INIT)
    d = act(cloud, "deploy", host=12)
    assert d.lcm_state is L.PROLOG_UNDEPLOY
    assert answer(cloud).ops[0].action == "DEPLOY"


@pytest.mark.parametrize("kind,source_op,boot_op", [
    ("migrate", "SAVE", "RESTORE"), ("poweroff-migrate", "SHUTDOWN", "DEPLOY"),
    ("poweroff-hard-migrate", "CANCEL", "DEPLOY")])
def test_cold_migration(kind, source_op, boot_op):
    cloud = running(10)
    d = act(cloud, kind, host=11)
    assert d.ops[0].action == source_op and d.ops[0].host == 10
    assert cloud.views[0].hosts == {10, 11}
    d = answer(cloud)
    assert d.lcm_state is L.PROLOG_MIGRATE and d.capacity == (Release(10),)
    d = answer(cloud)
    assert d.ops[0].action == boot_op and d.ops[0].host == 11
    answer(cloud)
    assert pair(cloud) == (S.ACTIVE, L.RUNNING) and cloud.views[0].hosts == {11}


def test_failed_save_keeps_the_vm_on_its_source():
    cloud = running(10)
    act(cloud, "migrate", host=11)
    d = answer(cloud, ok=False)
    assert pair(cloud) == (S.ACTIVE, L.RUNNING)
    assert d.capacity == (Release(11),) and cloud.views[0].current.host == 10


@pytest.mark.parametrize("ok,host", [(True, 11), (False, 10)])
def test_live_migration(ok, host):
    cloud = running(10)
    act(cloud, "migrate-live", host=11)
    assert pair(cloud) == (S.ACTIVE, L.MIGRATE)
    answer(cloud, ok=ok)
    assert pair(cloud) == (S.ACTIVE, L.RUNNING)
    assert cloud.views[0].hosts == {host} and cloud.views[0].current.host == host


def test_recover_failure_of_a_migration_prolog_goes_back():
    cloud = running(10)
    act(cloud, "migrate", host=11)
    answer(cloud)
    answer(cloud, ok=False)
    assert pair(cloud) == (S.ACTIVE, L.PROLOG_MIGRATE_FAILURE)
    d = act(cloud, "recover-failure")
    assert d.lcm_state is L.BOOT_MIGRATE and d.ops[0].host == 10
    assert cloud.views[0].hosts == {10}


def test_monitoring():
    cloud = running(10)
    cloud.commit(0, on_event(cloud.views[0], "vm-missing"))
    assert pair(cloud) == (S.ACTIVE, L.UNKNOWN)
    cloud.commit(0, on_event(cloud.views[0], "vm-running"))
    assert pair(cloud) == (S.ACTIVE, L.RUNNING)
    cloud.commit(0, on_event(cloud.views[0], "vm-poweroff"))
    assert pair(cloud) == (S.POWEROFF, L.LCM_INIT) and cloud.views[0].current.action == "monitor"
    d = on_event(cloud.views[0], "vm-running")
    cloud.commit(0, d)
    assert pair(cloud) == (S.ACTIVE, L.RUNNING) and cloud.views[0].previous.host == 10
    cloud.commit(0, on_event(cloud.views[0], "host-error"))
    assert pair(cloud) == (S.ACTIVE, L.UNKNOWN)
    assert on_event(cloud.views[0], "vm-missing").ignored


def test_monitor_reports_the_shutdown_the_driver_has_not():
    cloud = running()
    act(cloud, "terminate")
    cloud.commit(0, on_event(cloud.views[0], "vm-poweroff"))
    assert pair(cloud) == (S.ACTIVE, L.EPILOG)
    cloud.drain()  # the late SHUTDOWN answer is stale, the epilog finishes
    assert pair(cloud) == (S.DONE, L.LCM_INIT)


def test_hard_action_supersedes_a_hanging_soft_one():
    cloud = running()
    act(cloud, "poweroff")
    shutdown = next(f for f in cloud.in_flight if f.op.action == "SHUTDOWN")
    act(cloud, "poweroff-hard")
    assert on_outcome(cloud.views[0], shutdown.op, False).ignored
    assert cloud.views[0].awaiting == OpRef("vmm", "CANCEL")
    cloud.drain()
    assert pair(cloud) == (S.POWEROFF, L.LCM_INIT)


def test_delete_recreate_waits_for_the_cleanup():
    cloud = running()
    act(cloud, "delete-recreate")
    assert pair(cloud) == (S.ACTIVE, L.CLEANUP_RESUBMIT) and not cloud.views[0].hosts
    d = answer(cloud, ok=False)
    assert pair(cloud) == (S.PENDING, L.LCM_INIT) and d.deploy_id == ""
    assert cloud.leases[0] == 1


@pytest.mark.parametrize("action,running_ops,poweroff_lcm", [
    ("disk-attach", ("PROLOG_ATTACH", "ATTACHDISK"), L.HOTPLUG_PROLOG_POWEROFF),
    ("disk-detach", ("DETACHDISK",), L.HOTPLUG_EPILOG_POWEROFF)])
@pytest.mark.parametrize("ok", [True, False])
def test_disk_hotplug(action, running_ops, poweroff_lcm, ok):
    """On a running VM an attached disk is made on the host (the transfer driver), then
    attached by the hypervisor; a failure of either drops it."""
    cloud = running()
    d = act(cloud, action)
    assert d.ops[0].action == running_ops[0] and d.history[0].action == action
    for op in running_ops[1:]:
        d = answer(cloud, ok=True)
        assert d.ops[0].action == op and pair(cloud) == (S.ACTIVE, L.HOTPLUG)
    d = answer(cloud, ok=ok)
    assert pair(cloud) == (S.ACTIVE, L.RUNNING) and d.tasks
    act(cloud, "poweroff-hard")
    answer(cloud)
    d = act(cloud, action)
    assert d.lcm_state is poweroff_lcm
    answer(cloud, ok=ok)
    assert pair(cloud) == (S.POWEROFF, L.LCM_INIT)


def test_updateconf_and_snapshots_return_to_running():
    cloud = running()
    for action in ("updateconf", "snapshot-create", "snapshot-revert", "snapshot-delete",
                   "nic-attach", "nic-detach", "resize"):
        act(cloud, action)
        assert cloud.views[0].lcm_state is not L.RUNNING
        answer(cloud, ok=action != "resize")
        assert pair(cloud) == (S.ACTIVE, L.RUNNING), action


@pytest.mark.parametrize("s,lcm", [(s, lcm) for s in VmState for lcm in LcmState
                                   if is_valid_pair(s, lcm)])
def test_delete_finishes_a_vm_from_any_state(s, lcm):
    placed = s in PLACED_STATES and lcm not in (L.CLEANUP_RESUBMIT, L.CLEANUP_DELETE)
    view = VmView(3, s, lcm, Placement(1), Placement(0, open=False),
                  frozenset({1}) if placed else frozenset())
    done = apply(view, decide(view, "delete"))
    assert done.state is S.DONE and not done.hosts and done.awaiting is None
    if s is not S.DONE:
        recreated = decide(view, "delete-recreate")
        assert recreated.state in (s, S.PENDING, S.ACTIVE)
        assert is_valid_pair(*recreated.pair)


def test_view_of_a_stored_vm():
    record = SimpleNamespace(hid=4, action=9, etime=123)
    vm = SimpleNamespace(id=8, state=4, lcm_state=0, history=[record], resched=0, deploy_id="")
    view = view_of(vm)
    assert view.state is S.STOPPED and view.current == Placement(4, "stop", open=False)
    assert decide(view, "deploy", host=5).lcm_state is L.PROLOG_RESUME


@pytest.mark.parametrize("hold", [False, True])
def test_recover_success_of_a_cloning_failure_rechecks_the_images(hold):
    """Back to CLONING with the images to check (the core's task), which then say
    where the VM goes; --failure leaves it failed."""
    from nubo.lifecycle import Task
    view = VmView(3, S.CLONING_FAILURE)
    d = decide(view, "recover-success")
    assert d.pair == (S.CLONING, L.LCM_INIT) and d.tasks == (Task.RECHECK_IMAGES,)
    assert not d.ops and not d.capacity
    then = on_event(apply(view, d), "images-ready", hold=hold)
    assert then.pair == ((S.HOLD if hold else S.PENDING), L.LCM_INIT)
    assert on_event(apply(view, d), "images-failed").pair == (S.CLONING_FAILURE, L.LCM_INIT)
    failed = decide(view, "recover-failure")
    assert failed.pair == (S.CLONING_FAILURE, L.LCM_INIT) and not failed.tasks
