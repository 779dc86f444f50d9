"""Random sequences of user actions, driver answers and monitoring events.

Invariants (checked by the harness after every committed decision): every stored
(STATE, LCM_STATE) pair is valid; DONE is terminal; a VM is counted on a host
only in states that have one (on the hosts of its records, on both during a
migration, on none once STOPPED/UNDEPLOYED/DONE) and never twice or released
twice; leases are released exactly once, on DONE; a VM awaits an operation
exactly when its state is transient, and that operation is in flight. At the end
every operation in flight is answered, each awaited answer is handled, and the
VMs settle in stable states.
"""
from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lifecycle_harness import Cloud

from nubo.errors import NuboError
from nubo.lifecycle import ACTIONS, EVENTS, VmState, decide, on_event
from nubo.lifecycle.states import TRANSIENT_LCM_STATES

VMS = (0, 1)
HOSTS = (10, 11, 12)

action_step = st.tuples(st.just("action"), st.sampled_from(VMS), st.sampled_from(ACTIONS),
                        st.sampled_from(HOSTS), st.booleans())
answer_step = st.tuples(st.just("answer"), st.integers(0, 7), st.booleans())
event_step = st.tuples(st.just("event"), st.sampled_from(VMS),
                       st.sampled_from([e for e in EVENTS if not e.startswith("images")]))
steps = st.lists(st.one_of(action_step, answer_step, answer_step, answer_step, event_step),
                 max_size=60)


def run(cloud: Cloud, step) -> None:
    kind = step[0]
    if kind == "action":
        _, vm, action, host, flag = step
        view = cloud.views[vm]
        try:
            decision = decide(view, action, host=host, cold=flag, live=flag or action != "resize")
        except NuboError:
            assert cloud.views[vm] is view  # a refusal changes nothing
            return
        cloud.commit(vm, decision)
    elif kind == "answer":
        _, index, success = step
        if cloud.in_flight:
            cloud.deliver(index % len(cloud.in_flight), success)
    else:
        _, vm, event = step
        cloud.commit(vm, on_event(cloud.views[vm], event))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps)
def test_random_lives_keep_the_invariants(sequence):
    cloud = Cloud()
    for vm in VMS:
        cloud.add_vm(vm)
    for step in sequence:
        run(cloud, step)
    cloud.drain(success=True)
    for vm, view in cloud.views.items():
        assert view.awaiting is None
        assert not (view.state is VmState.ACTIVE and view.lcm_state in TRANSIENT_LCM_STATES)
        # whatever happened, a VM can always be finished
        cloud.commit(vm, decide(view, "delete"))
        cloud.drain()
        assert cloud.views[vm].state is VmState.DONE
    assert all(not vms for vms in cloud.usage.values())
    assert all(held == 0 for held in cloud.leases.values())


@settings(max_examples=60, deadline=None)
@given(st.lists(st.booleans(), max_size=30))
def test_a_deployed_vm_settles_whatever_the_drivers_say(answers):
    cloud = Cloud()
    cloud.add_vm(0)
    cloud.commit(0, decide(cloud.views[0], "deploy", host=10))
    for ok in answers:
        if not cloud.in_flight:
            break
        cloud.deliver(0, ok)
    cloud.drain()
    assert cloud.views[0].lcm_state not in TRANSIENT_LCM_STATES
