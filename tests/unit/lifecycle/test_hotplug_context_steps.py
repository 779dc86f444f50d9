"""A VM with a CONTEXT: NIC hotplug and updateconf first rebuild its CD-ROM (a TM
CONTEXT operation, awaited and journaled), then send the hypervisor action; a failed
rebuild is the change's failure; recover answers the change, not the rebuild."""
from __future__ import annotations

import pytest

from nubo.lifecycle import OpRef, decide
from nubo.lifecycle.states import LcmState, VmState
from test_lifecycle_outcomes import act, answer, pair, running

S, L = VmState, LcmState
CONTEXT = OpRef("tm", "CONTEXT")


@pytest.mark.parametrize("action,vmm_action,tasks", [
    ("nic-attach", "ATTACHNIC", ("clear_attach_nic", "delete_attach_nic")),
    ("nic-detach", "DETACHNIC", ("delete_attach_nic", "clear_attach_nic"))])
def test_a_running_vm_rebuilds_then_asks_the_hypervisor(action, vmm_action, tasks):
    cloud = running()
    d = act(cloud, action, context=True)
    assert [op.ref for op in d.ops] == [CONTEXT] and d.awaiting == CONTEXT
    assert pair(cloud) == (S.ACTIVE, L.HOTPLUG_NIC)
    d = answer(cloud)
    assert [op.ref for op in d.ops] == [OpRef("vmm", vmm_action)]
    assert pair(cloud) == (S.ACTIVE, L.HOTPLUG_NIC) and not d.tasks
    d = answer(cloud)
    assert pair(cloud) == (S.ACTIVE, L.RUNNING) and d.tasks == (tasks[0],)
    act(cloud, action, context=True)
    d = answer(cloud, ok=False)  # the rebuild failed: as the hypervisor's failure
    assert pair(cloud) == (S.ACTIVE, L.RUNNING) and d.tasks == (tasks[1],) and not d.ops


def test_updateconf_rebuilds_then_sends_updateconf():
    cloud = running()
    d = act(cloud, "updateconf", context=True)
    assert d.awaiting == CONTEXT and pair(cloud) == (S.ACTIVE, L.HOTPLUG)
    d = answer(cloud)
    assert [op.action for op in d.ops] == ["UPDATECONF"]
    answer(cloud)
    assert pair(cloud) == (S.ACTIVE, L.RUNNING)


def test_a_vm_without_context_goes_straight_to_the_hypervisor():
    cloud = running()
    d = act(cloud, "nic-attach")
    assert [op.action for op in d.ops] == ["ATTACHNIC"]


@pytest.mark.parametrize("action,task", [("nic-attach", "clear_attach_nic"),
                                         ("nic-detach", "delete_attach_nic")])
def test_a_powered_off_vm_rebuilds_and_stays_powered_off(action, task):
    cloud = running()
    act(cloud, "poweroff-hard")
    answer(cloud)
    d = act(cloud, action, context=True)
    assert d.awaiting == CONTEXT and pair(cloud) == (S.ACTIVE, L.HOTPLUG_NIC_POWEROFF)
    d = answer(cloud)
    assert pair(cloud) == (S.POWEROFF, L.LCM_INIT) and task in d.tasks and not d.ops
    d = act(cloud, "updateconf", context=True)
    assert [(op.ref, op.awaited) for op in d.ops] == [(CONTEXT, False)]
    assert pair(cloud) == (S.POWEROFF, L.LCM_INIT)


def test_recover_success_of_a_pending_rebuild_answers_the_change():
    cloud = running()
    act(cloud, "nic-attach", context=True)
    d = decide(cloud.views[0], "recover-success")
    assert not d.ops and "clear_attach_nic" in d.tasks and d.lcm_state is L.RUNNING
