"""Every VM action from every state the dummy drivers can bring a VM to, through pyone on
a real ``nubo serve``: accepted where OpenNebula accepts it (tests/lifecycle_oracle.py,
a restatement of oned's checks), refused elsewhere with an ACTION error naming the
state, and a refusal changes nothing. An accepted action must lead somewhere settled,
never to a VM stuck in a transient state.

One server of its own (SQLite: which database holds the VM does not matter here).
"""
from __future__ import annotations

import uuid

import pyone
import pytest

from lifecycle_oracle import oracle
from nubo.lifecycle.states import LcmState, VmState, state_str
from server import NuboServer
from waits import wait_for

S, L = VmState, LcmState
#: How to bring a VM to each state: (template extra, steps), each step an API call.
SETUPS: dict[str, tuple[str, tuple[tuple, ...]]] = {
    "PENDING": ("", ()),
    "HOLD": ("", (("action", "hold"),)),
    "RUNNING": ("", (("deploy",),)),
    "POWEROFF": ("", (("deploy",), ("action", "poweroff"))),
    "SUSPENDED": ("", (("deploy",), ("action", "suspend"))),
    "STOPPED": ("", (("deploy",), ("action", "stop"))),
    "UNDEPLOYED": ("", (("deploy",), ("action", "undeploy"))),
    "DONE": ("", (("action", "terminate"),)),
    "BOOT_FAILURE": ('DUMMY_FAIL = "DEPLOY"', (("deploy",),)),
    "PROLOG_FAILURE": ('DUMMY_FAIL = "PROLOG"', (("deploy",),)),
}
#: (oracle's name, how to call it)
ACTIONS = [(name, ("action", name)) for name in (
    "terminate", "terminate-hard", "undeploy", "undeploy-hard", "hold", "release", "stop",
    "suspend", "resume", "reboot", "reboot-hard", "poweroff", "poweroff-hard", "resched",
    "unresched")] + [("deploy", ("deploy",)), ("migrate", ("migrate", False)),
                     ("migrate-live", ("migrate", True))]
_SETTLED = {S.PENDING, S.HOLD, S.STOPPED, S.SUSPENDED, S.DONE, S.POWEROFF, S.UNDEPLOYED}
_FAILED = {L.BOOT_FAILURE, L.PROLOG_FAILURE, L.EPILOG_FAILURE, L.BOOT_MIGRATE_FAILURE,
           L.PROLOG_MIGRATE_FAILURE, L.BOOT_UNDEPLOY_FAILURE, L.BOOT_STOPPED_FAILURE,
           L.PROLOG_RESUME_FAILURE, L.PROLOG_UNDEPLOY_FAILURE, L.EPILOG_STOP_FAILURE,
           L.EPILOG_UNDEPLOY_FAILURE, L.PROLOG_MIGRATE_POWEROFF_FAILURE,
           L.PROLOG_MIGRATE_SUSPEND_FAILURE}


@pytest.fixture(scope="module")
def cloud(tmp_path_factory):
    srv = NuboServer(tmp_path_factory.mktemp("matrix") / "data").start()
    one = pyone.OneServer(srv.endpoint, session=srv.session)
    hosts = [one.host.allocate(f"matrix-{uuid.uuid4().hex[:6]}", "dummy", "dummy", -1)
             for _ in range(2)]
    yield one, hosts
    assert srv.stop() == 0


def pair(one, vm_id: int) -> tuple[VmState, LcmState]:
    vm = one.vm.info(vm_id)
    return S(vm.STATE), L(vm.LCM_STATE)


def settled(one, vm_id: int) -> tuple[VmState, LcmState]:
    def probe():
        s, lcm = pair(one, vm_id)
        return (s, lcm) if s in _SETTLED or (s is S.ACTIVE and lcm in
                                             {L.RUNNING, L.UNKNOWN, *_FAILED}) else None
    return wait_for(f"VM {vm_id} settled", probe)


def call(one, hosts: list[int], vm_id: int, how: tuple) -> None:
    if how[0] == "action":
        one.vm.action(how[1], vm_id)
    elif how[0] == "deploy":
        # to the host it is not on (a STOPPED/UNDEPLOYED VM may go anywhere)
        one.vm.deploy(vm_id, hosts[0], False, -1)
    else:
        history = one.vm.info(vm_id).HISTORY_RECORDS.HISTORY or []
        on = history[-1].HID if history else hosts[0]
        one.vm.migrate(vm_id, hosts[1] if on == hosts[0] else hosts[0], how[1], False, -1, 0)


@pytest.mark.parametrize("state", list(SETUPS))
@pytest.mark.parametrize("action,how", ACTIONS, ids=[a for a, _ in ACTIONS])
def test_every_action_from_every_reachable_state(cloud, state, action, how):
    one, hosts = cloud
    extra, steps = SETUPS[state]
    vm_id = one.vm.allocate(f'NAME = "m-{uuid.uuid4().hex[:8]}"\nCPU = 0.1\nMEMORY = 16\n'
                            f'{extra}', False)
    for step in steps:
        call(one, hosts, vm_id, step)
        settled(one, vm_id)
    s, lcm = settled(one, vm_id)
    assert state in (s.name, lcm.name), f"setup reached {s.name}/{lcm.name}, not {state}"
    before = one.vm.info(vm_id)
    if oracle(action, s, lcm):
        call(one, hosts, vm_id, how)
        settled(one, vm_id)
    else:
        with pytest.raises(pyone.OneActionException, match=state_str(s, lcm)):
            call(one, hosts, vm_id, how)
        after = one.vm.info(vm_id)
        assert (after.STATE, after.LCM_STATE, after.RESCHED) == \
            (before.STATE, before.LCM_STATE, before.RESCHED)
        assert len(after.HISTORY_RECORDS.HISTORY or []) == \
            len(before.HISTORY_RECORDS.HISTORY or [])
    if pair(one, vm_id)[0] is not S.DONE:
        one.vm.recover(vm_id, 3)  # delete: from any state
        wait_for(f"VM {vm_id} DONE", lambda: pair(one, vm_id)[0] is S.DONE)
