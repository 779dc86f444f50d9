"""A toy cloud around the pure machine: what the managers will do, in miniature.

It keeps host usage (which VMs each host counts), leases (released once, at
DONE), the driver operations in flight with the token the dispatcher would give
them, and checks the life-cycle invariants after every committed decision.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from nubo.lifecycle import (
    DriverOp, LcmState, Release, Reserve, VmState, VmView, apply, is_valid_pair, on_outcome,
)
from nubo.lifecycle.states import PLACED_STATES, TRANSIENT_LCM_STATES, TWO_HOST_LCM_STATES

S, L = VmState, LcmState
# ACTIVE states whose VM holds no host: cleaning up, or collecting the files of a VM
# that was stopped/undeployed (terminate from there).
HOSTLESS_ACTIVE = {L.CLEANUP_RESUBMIT, L.CLEANUP_DELETE, L.EPILOG, L.EPILOG_FAILURE}


@dataclass
class Flight:
    token: int
    vm: int
    op: DriverOp


@dataclass
class Cloud:
    views: dict[int, VmView] = field(default_factory=dict)
    usage: dict[int, set[int]] = field(default_factory=dict)   # host -> VM ids it counts
    leases: dict[int, int] = field(default_factory=dict)       # VM id -> leases held
    in_flight: list[Flight] = field(default_factory=list)
    awaited_token: dict[int, int | None] = field(default_factory=dict)
    handled: int = 0
    _tokens: itertools.count = field(default_factory=itertools.count)

    def add_vm(self, vm_id: int, state: VmState = S.PENDING) -> None:
        self.views[vm_id] = VmView(vm_id, state)
        self.leases[vm_id] = 1
        self.awaited_token[vm_id] = None

    # ------------------------------------------------------------------ committing
    def commit(self, vm_id: int, decision) -> None:
        before = self.views[vm_id]
        if decision.ignored:
            return
        if before.state is S.DONE:
            assert decision.state is S.DONE, "DONE is terminal"
        for cap in decision.capacity:
            counted = self.usage.setdefault(cap.host, set())
            if isinstance(cap, Reserve):
                assert vm_id not in counted, f"VM {vm_id} counted twice on host {cap.host}"
                counted.add(vm_id)
            else:
                assert isinstance(cap, Release)
                assert vm_id in counted, f"VM {vm_id} released from {cap.host} not holding it"
                counted.remove(vm_id)
        if "release_resources" in decision.tasks:
            assert self.leases[vm_id] == 1, "leases released twice"
            self.leases[vm_id] = 0
        for op in decision.ops:
            token = next(self._tokens)
            self.in_flight.append(Flight(token, vm_id, op))
            if op.awaited:
                self.awaited_token[vm_id] = token
        if decision.awaiting is None:
            self.awaited_token[vm_id] = None
        self.views[vm_id] = apply(before, decision)
        self.check(vm_id)

    def deliver(self, index: int, success: bool) -> None:
        """A driver answers one in-flight operation; stale answers are dropped as the
        dispatcher drops them (by token), after checking the machine ignores them."""
        flight = self.in_flight.pop(index)
        view = self.views[flight.vm]
        current = self.awaited_token[flight.vm] == flight.token
        if not current:
            if flight.op.ref != view.awaiting:
                assert on_outcome(view, flight.op, success).ignored
            return
        assert view.awaiting == flight.op.ref
        decision = on_outcome(view, flight.op, success)
        assert not decision.ignored, f"{flight.op.ref} unhandled in {view.lcm_state.name}"
        self.handled += 1
        self.commit(flight.vm, decision)

    def drain(self, success: bool = True, limit: int = 200) -> None:
        """Answer everything in flight (and what the answers send) until nothing is."""
        for _ in range(limit):
            if not self.in_flight:
                return
            self.deliver(0, success)
        raise AssertionError("operations never settle")

    # ------------------------------------------------------------------- invariants
    def check(self, vm_id: int) -> None:
        view = self.views[vm_id]
        state, lcm = view.state, view.lcm_state
        assert is_valid_pair(state, lcm), (state, lcm)
        counted_on = {h for h, vms in self.usage.items() if vm_id in vms}
        assert counted_on == view.hosts
        records = {r.host for r in (view.current, view.previous) if r is not None}
        assert view.hosts <= records
        if state not in PLACED_STATES:
            assert not view.hosts, f"{state.name} VM still counted on {view.hosts}"
        elif state is not S.ACTIVE or lcm not in HOSTLESS_ACTIVE:
            assert view.current is not None and view.current.host in view.hosts, (state, lcm)
        if lcm in TWO_HOST_LCM_STATES:
            assert view.hosts == records
        elif state in (S.POWEROFF, S.SUSPENDED) or lcm in (L.RUNNING, L.UNKNOWN):
            assert view.hosts == {view.current.host}
        assert (view.awaiting is not None) == (state is S.ACTIVE and lcm in TRANSIENT_LCM_STATES)
        token = self.awaited_token[vm_id]
        assert (token is not None) == (view.awaiting is not None)
        if token is not None:
            flight = next(f for f in self.in_flight if f.token == token)
            assert flight.op.ref == view.awaiting
        assert self.leases[vm_id] == (0 if state is S.DONE else 1)
