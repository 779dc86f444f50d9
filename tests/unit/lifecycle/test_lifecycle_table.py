"""Every action from every state: allowed where OpenNebula allows it, refused with
OpenNebula's message elsewhere, and refusals change nothing.

``oracle`` (tests/lifecycle_oracle.py) restates OpenNebula's checks independently of
the machine's tables.
"""
from __future__ import annotations

import pytest

from nubo.errors import ActionError, InternalError, NuboError
from nubo.lifecycle import ACTIONS, Placement, VmView, allowed_in, decide, is_valid_pair
from nubo.lifecycle.states import PLACED_STATES, LcmState, VmState, state_str

from lifecycle_oracle import oracle

S, L = VmState, LcmState
PAIRS = [(s, lcm) for s in S for lcm in L if is_valid_pair(s, lcm)]


def view_in(s: VmState, lcm: LcmState, action: str = "none") -> VmView:
    return VmView(id=7, state=s, lcm_state=lcm,
                  current=Placement(1, action, open=s in PLACED_STATES),
                  previous=Placement(0, "none", open=False),
                  hosts=frozenset({1}) if s in PLACED_STATES else frozenset())


@pytest.mark.parametrize("action", ACTIONS)
def test_every_action_from_every_state(action):
    for s, lcm in PAIRS:
        view = view_in(s, lcm)
        expected = oracle(action, s, lcm)
        try:
            decision = decide(view, action, host=2)
        except NuboError as error:
            assert not expected, f"{action} refused in {state_str(s, lcm)}: {error}"
            assert not allowed_in(s, lcm, action)
            kind = InternalError if action == "updateconf" else ActionError
            assert isinstance(error, kind)
            assert error.object_id == 7
            if action != "delete-recreate":
                assert state_str(s, lcm) in error.message
            continue
        assert expected, f"{action} allowed in {state_str(s, lcm)}"
        assert allowed_in(s, lcm, action)
        assert is_valid_pair(*decision.pair), (action, s, lcm, decision.pair)
        assert all(op.host is not None for op in decision.ops)
        assert not decision.ignored


MESSAGES = [
    ("poweroff", S.PENDING, L.LCM_INIT,
     'Error performing action "poweroff": This action is not available for state PENDING'),
    ("terminate", S.ACTIVE, L.PROLOG,
     'Error performing action "terminate": Could not terminate VM 7, wrong state PROLOG.'),
    ("deploy", S.ACTIVE, L.RUNNING, "Deploy action is not available for state RUNNING"),
    ("migrate-live", S.PENDING, L.LCM_INIT, "Migrate action is not available for state PENDING"),
    ("recover-success", S.PENDING, L.LCM_INIT,
     "Could not perform a recover operation on VM 7, wrong state PENDING."),
    ("retry", S.STOPPED, L.LCM_INIT, "Could not perform a retry on VM 7, wrong state STOPPED."),
    ("delete-recreate", S.DONE, L.LCM_INIT, "Cannot delete-recreate a VM already in DONE state"),
    ("disk-detach", S.ACTIVE, L.BOOT, "Could not detach disk from VM 7, wrong state BOOT."),
    ("nic-attach", S.STOPPED, L.LCM_INIT, "Could not add a new NIC to VM 7, wrong state STOPPED."),
    ("resize", S.SUSPENDED, L.LCM_INIT, "Cannot resize a VM in state SUSPENDED"),
    ("updateconf", S.STOPPED, L.LCM_INIT, "configuration cannot be updated in state STOPPED"),
    ("frobnicate", S.PENDING, L.LCM_INIT, 'Action "frobnicate" is not supported'),
]


@pytest.mark.parametrize("action,s,lcm,message", MESSAGES)
def test_refusal_messages(action, s, lcm, message):
    with pytest.raises(NuboError) as caught:
        decide(view_in(s, lcm), action, host=2)
    assert caught.value.message == message


def test_snapshot_messages_name_the_snapshot():
    with pytest.raises(ActionError, match="Could not revert VM 7 to snapshot 3, wrong state"):
        decide(view_in(S.POWEROFF, L.LCM_INIT), "snapshot-revert", snap_id=3)
    with pytest.raises(ActionError, match="Could not delete snapshot 4 for VM 7, wrong state"):
        decide(view_in(S.POWEROFF, L.LCM_INIT), "snapshot-delete", snap_id=4)


def test_request_checks():
    with pytest.raises(ActionError, match="VM is not running in any host"):
        decide(VmView(7, S.POWEROFF), "disk-attach")
    with pytest.raises(ActionError, match="Cannot resize a pinned VM"):
        decide(view_in(S.ACTIVE, L.RUNNING), "resize", pinned=True)
    with pytest.raises(ActionError, match="Hotplug resize not supported by driver lxc"):
        decide(view_in(S.ACTIVE, L.RUNNING), "resize", live=False, vmm_mad="lxc")
    open_previous = VmView(7, S.ACTIVE, L.RUNNING, Placement(1), Placement(0), frozenset({1}))
    with pytest.raises(ActionError, match="Migrate action is not available for state RUNNING"):
        decide(open_previous, "migrate", host=2)
    with pytest.raises(NuboError, match="needs a target host"):
        decide(view_in(S.PENDING, L.LCM_INIT), "deploy")


R = (S.ACTIVE, L.RUNNING)
# (action, from, params, to, driver operations in order)
TRANSITIONS = [
    ("deploy", (S.PENDING, L.LCM_INIT), {}, (S.ACTIVE, L.PROLOG), ["tm.PROLOG"]),
    ("deploy", (S.HOLD, L.LCM_INIT), {}, (S.ACTIVE, L.PROLOG), ["tm.PROLOG"]),
    ("terminate", R, {}, (S.ACTIVE, L.SHUTDOWN), ["vmm.SHUTDOWN"]),
    ("terminate-hard", R, {}, (S.ACTIVE, L.SHUTDOWN), ["vmm.CANCEL"]),
    ("terminate-hard", (S.ACTIVE, L.SHUTDOWN), {}, (S.ACTIVE, L.SHUTDOWN),
     ["vmm.DRIVER_CANCEL", "vmm.CANCEL"]),
    ("terminate", (S.POWEROFF, L.LCM_INIT), {}, (S.ACTIVE, L.EPILOG), ["tm.EPILOG"]),
    ("terminate", (S.STOPPED, L.LCM_INIT), {}, (S.ACTIVE, L.EPILOG), ["tm.EPILOG_LOCAL"]),
    ("terminate", (S.PENDING, L.LCM_INIT), {}, (S.DONE, L.LCM_INIT), []),
    ("terminate", (S.DONE, L.LCM_INIT), {}, (S.DONE, L.LCM_INIT), []),
    ("terminate", (S.ACTIVE, L.BOOT_FAILURE), {}, (S.DONE, L.LCM_INIT),
     ["vmm.DRIVER_CANCEL", "vmm.CLEANUP"]),
    ("undeploy", R, {}, (S.ACTIVE, L.SHUTDOWN_UNDEPLOY), ["vmm.SHUTDOWN"]),
    ("undeploy-hard", (S.POWEROFF, L.LCM_INIT), {}, (S.ACTIVE, L.EPILOG_UNDEPLOY),
     ["tm.EPILOG_STOP"]),
    ("poweroff", (S.ACTIVE, L.UNKNOWN), {}, (S.ACTIVE, L.SHUTDOWN_POWEROFF), ["vmm.SHUTDOWN"]),
    ("poweroff-hard", (S.ACTIVE, L.SHUTDOWN_POWEROFF), {}, (S.ACTIVE, L.SHUTDOWN_POWEROFF),
     ["vmm.DRIVER_CANCEL", "vmm.CANCEL"]),
    ("hold", (S.PENDING, L.LCM_INIT), {}, (S.HOLD, L.LCM_INIT), []),
    ("release", (S.HOLD, L.LCM_INIT), {}, (S.PENDING, L.LCM_INIT), []),
    ("stop", R, {}, (S.ACTIVE, L.SAVE_STOP), ["vmm.SAVE"]),
    ("stop", (S.SUSPENDED, L.LCM_INIT), {}, (S.ACTIVE, L.EPILOG_STOP), ["tm.EPILOG_STOP"]),
    ("suspend", R, {}, (S.ACTIVE, L.SAVE_SUSPEND), ["vmm.SAVE"]),
    ("resume", (S.SUSPENDED, L.LCM_INIT), {}, (S.ACTIVE, L.BOOT_SUSPENDED), ["vmm.RESTORE"]),
    ("resume", (S.POWEROFF, L.LCM_INIT), {}, (S.ACTIVE, L.BOOT_POWEROFF), ["vmm.DEPLOY"]),
    ("resume", (S.ACTIVE, L.UNKNOWN), {}, (S.ACTIVE, L.BOOT_UNKNOWN), ["vmm.DEPLOY"]),
    ("resume", (S.STOPPED, L.LCM_INIT), {}, (S.PENDING, L.LCM_INIT), []),
    ("resume", (S.UNDEPLOYED, L.LCM_INIT), {}, (S.PENDING, L.LCM_INIT), []),
    ("reboot", R, {}, R, ["vmm.REBOOT"]),
    ("reboot-hard", R, {}, R, ["vmm.RESET"]),
    ("resched", R, {}, R, []),
    ("migrate", R, {}, (S.ACTIVE, L.SAVE_MIGRATE), ["vmm.SAVE"]),
    ("poweroff-migrate", R, {}, (S.ACTIVE, L.SAVE_MIGRATE), ["vmm.SHUTDOWN"]),
    ("poweroff-hard-migrate", R, {}, (S.ACTIVE, L.SAVE_MIGRATE), ["vmm.CANCEL"]),
    ("migrate-live", R, {}, (S.ACTIVE, L.MIGRATE), ["vmm.MIGRATE"]),
    ("migrate", (S.POWEROFF, L.LCM_INIT), {}, (S.ACTIVE, L.PROLOG_MIGRATE_POWEROFF),
     ["tm.PROLOG_MIGRATE"]),
    ("migrate", (S.SUSPENDED, L.LCM_INIT), {}, (S.ACTIVE, L.PROLOG_MIGRATE_SUSPEND),
     ["tm.PROLOG_MIGRATE"]),
    ("migrate-live", (S.ACTIVE, L.UNKNOWN), {}, (S.ACTIVE, L.PROLOG_MIGRATE_UNKNOWN),
     ["tm.PROLOG_MIGRATE"]),
    ("disk-attach", R, {}, (S.ACTIVE, L.HOTPLUG), ["tm.PROLOG_ATTACH"]),
    ("disk-attach", (S.POWEROFF, L.LCM_INIT), {}, (S.ACTIVE, L.HOTPLUG_PROLOG_POWEROFF),
     ["tm.PROLOG_ATTACH"]),
    ("disk-detach", R, {}, (S.ACTIVE, L.HOTPLUG), ["vmm.DETACHDISK"]),
    ("disk-detach", (S.POWEROFF, L.LCM_INIT), {}, (S.ACTIVE, L.HOTPLUG_EPILOG_POWEROFF),
     ["tm.EPILOG_DETACH"]),
    ("nic-attach", R, {}, (S.ACTIVE, L.HOTPLUG_NIC), ["vmm.ATTACHNIC"]),
    ("nic-attach", (S.POWEROFF, L.LCM_INIT), {}, (S.POWEROFF, L.LCM_INIT), []),
    ("nic-attach", (S.POWEROFF, L.LCM_INIT), {"cold": True}, (S.ACTIVE, L.HOTPLUG_NIC_POWEROFF),
     ["vmm.ATTACHNIC"]),
    ("nic-detach", R, {}, (S.ACTIVE, L.HOTPLUG_NIC), ["vmm.DETACHNIC"]),
    ("snapshot-create", R, {}, (S.ACTIVE, L.HOTPLUG_SNAPSHOT), ["vmm.SNAPSHOTCREATE"]),
    ("snapshot-revert", R, {}, (S.ACTIVE, L.HOTPLUG_SNAPSHOT), ["vmm.SNAPSHOTREVERT"]),
    ("snapshot-delete", R, {}, (S.ACTIVE, L.HOTPLUG_SNAPSHOT), ["vmm.SNAPSHOTDELETE"]),
    ("resize", R, {}, (S.ACTIVE, L.HOTPLUG_RESIZE), ["vmm.RESIZE"]),
    ("resize", (S.POWEROFF, L.LCM_INIT), {}, (S.POWEROFF, L.LCM_INIT), []),
    ("updateconf", R, {}, (S.ACTIVE, L.HOTPLUG), ["vmm.UPDATECONF"]),
    ("updateconf", R, {"live": False}, R, []),
    ("retry", (S.ACTIVE, L.BOOT_FAILURE), {}, (S.ACTIVE, L.BOOT), ["vmm.DEPLOY"]),
    ("retry", (S.ACTIVE, L.PROLOG_FAILURE), {}, (S.ACTIVE, L.PROLOG), ["tm.PROLOG"]),
    ("retry", (S.ACTIVE, L.EPILOG_STOP_FAILURE), {}, (S.ACTIVE, L.EPILOG_STOP),
     ["tm.EPILOG_STOP"]),
    ("retry", (S.ACTIVE, L.PROLOG_MIGRATE_FAILURE), {}, (S.ACTIVE, L.PROLOG_MIGRATE),
     ["tm.PROLOG_MIGRATE"]),
    ("recover-success", (S.ACTIVE, L.UNKNOWN), {}, R, []),
    ("recover-success", (S.ACTIVE, L.BOOT_FAILURE), {}, R, []),
    ("recover-success", (S.ACTIVE, L.PROLOG_FAILURE), {}, (S.ACTIVE, L.BOOT), ["vmm.DEPLOY"]),
    ("recover-failure", (S.ACTIVE, L.PROLOG_FAILURE), {}, (S.ACTIVE, L.PROLOG_FAILURE), []),
    ("recover-success", (S.ACTIVE, L.EPILOG_FAILURE), {}, (S.DONE, L.LCM_INIT), []),
    ("recover-success", (S.ACTIVE, L.CLEANUP_RESUBMIT), {}, (S.PENDING, L.LCM_INIT), []),
    ("delete", R, {}, (S.DONE, L.LCM_INIT), ["vmm.DRIVER_CANCEL", "vmm.CLEANUP"]),
    ("delete", (S.POWEROFF, L.LCM_INIT), {}, (S.DONE, L.LCM_INIT), ["tm.EPILOG_DELETE"]),
    ("delete", (S.STOPPED, L.LCM_INIT), {}, (S.DONE, L.LCM_INIT), ["tm.EPILOG_DELETE_LOCAL"]),
    ("delete", (S.ACTIVE, L.PROLOG_MIGRATE), {}, (S.DONE, L.LCM_INIT),
     ["tm.DRIVER_CANCEL", "tm.EPILOG_DELETE_BOTH"]),
    ("delete-recreate", R, {}, (S.ACTIVE, L.CLEANUP_RESUBMIT),
     ["vmm.DRIVER_CANCEL", "vmm.CLEANUP"]),
    ("delete-recreate", (S.POWEROFF, L.LCM_INIT), {}, (S.ACTIVE, L.CLEANUP_RESUBMIT),
     ["vmm.CLEANUP"]),
    ("delete-recreate", (S.ACTIVE, L.CLEANUP_RESUBMIT), {}, (S.PENDING, L.LCM_INIT), []),
    ("delete-recreate", (S.HOLD, L.LCM_INIT), {}, (S.PENDING, L.LCM_INIT), []),
    ("delete-recreate", (S.STOPPED, L.LCM_INIT), {}, (S.PENDING, L.LCM_INIT), []),
]


@pytest.mark.parametrize("action,start,params,end,ops", TRANSITIONS,
                         ids=[f"{t[0]}-{state_str(*t[1])}" for t in TRANSITIONS])
def test_transition(action, start, params, end, ops):
    decision = decide(view_in(*start), action, host=2, **params)
    assert decision.pair == end
    assert [f"{op.driver}.{op.action}" for op in decision.ops] == ops


def test_deploy_resumes_what_stop_and_undeploy_left():
    stopped = decide(view_in(S.STOPPED, L.LCM_INIT, action="stop"), "deploy", host=2)
    assert stopped.lcm_state is L.PROLOG_RESUME
    assert [op.action for op in stopped.ops] == ["PROLOG_RESUME"]
    for action in ("undeploy", "undeploy-hard"):
        undeployed = decide(view_in(S.UNDEPLOYED, L.LCM_INIT, action=action), "deploy", host=2)
        assert undeployed.lcm_state is L.PROLOG_UNDEPLOY
    # a stopped VM that was delete-recreated starts afresh
    fresh = decide(view_in(S.PENDING, L.LCM_INIT, action="delete-recreate"), "deploy", host=2)
    assert fresh.lcm_state is L.PROLOG


def test_migration_runs_on_the_source_and_counts_both_hosts():
    decision = decide(view_in(S.ACTIVE, L.RUNNING), "migrate", host=2)
    assert [(op.action, op.host, op.record) for op in decision.ops] == [("SAVE", 1, "previous")]
    assert [type(c).__name__ for c in decision.capacity] == ["Reserve"]
    poweroff = decide(view_in(S.POWEROFF, L.LCM_INIT), "migrate", host=2)
    assert [(type(c).__name__, c.host) for c in poweroff.capacity] == [("Reserve", 2),
                                                                       ("Release", 1)]
