"""Transition templates and how they become decisions.

Every table in this package maps a VM state to a :class:`T`, a template that
says where the VM goes and what must happen, in terms relative to the VM (its
"current" and "previous" history records) rather than concrete hosts. The
resolver turns a template into a :class:`~nubo.lifecycle.decision.Decision` for one
VM: it walks the effects in order so that "current" means what it means at that
point (after a migration opens its new record, "previous" is the source host),
emits host-usage changes only when they change something (a VM is counted on a
host at most once and released only if counted), and chains into follow-up
triggers the way OpenNebula's managers call each other (``then``).
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal, Union

from nubo.lifecycle.decision import (
    CapacityEffect, Checkpoint, CopyRecord, Decision, DriverOp, HistoryEffect, NewRecord,
    OpRef, Record, Release, Reserve, SetAction, VmView, apply, apply_capacity,
    apply_history,
)
from nubo.lifecycle.states import LcmState, VmState
from nubo.lifecycle.tasks import Task

Params = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Op:
    """A driver operation template: sent to the host of ``on``."""

    driver: Literal["vmm", "tm"]
    action: str
    on: Record = "current"
    awaited: bool = True


def vmm(action: str, on: Record = "current", awaited: bool = True) -> Op:
    """A hypervisor (virtualization driver) operation."""
    return Op("vmm", action, on, awaited)


def tm(action: str, on: Record = "current", awaited: bool = True) -> Op:
    """A transfer driver operation (a whole transfer script, see transfer.py)."""
    return Op("tm", action, on, awaited)


@dataclass(frozen=True, slots=True)
class Hold:
    """Count the VM on the host of ``record`` (if it is not counted there yet)."""

    record: Record = "current"


@dataclass(frozen=True, slots=True)
class Free:
    """Stop counting the VM on the host of ``record`` (if counted there).

    ``keep_if_shared``: not if the other record is on the same host (a migration
    between system datastores of one host leaves the VM on it).
    """

    record: Record = "current"
    keep_if_shared: bool = False


@dataclass(frozen=True, slots=True)
class FreeAll:
    """Stop counting the VM anywhere (it leaves its hosts)."""


Effect = Union[HistoryEffect, Hold, Free, FreeAll]


@dataclass(frozen=True)
class T:
    """A transition template.

    ``state``/``lcm``: the target (None keeps it; an ``lcm`` alone means ACTIVE;
    a non-ACTIVE ``state`` means LCM_INIT). ``effects``: history and host-usage
    changes, in order. ``ops``: driver operations, sent after the commit, in order.
    ``then``: a trigger run next on the resulting VM (OpenNebula's managers
    chaining, e.g. epilog success -> the dispatch manager's done).
    """

    state: VmState | None = None
    lcm: LcmState | None = None
    effects: tuple[Effect, ...] = ()
    ops: tuple[Op, ...] = ()
    resched: bool | None = None
    tasks: tuple[Task, ...] = ()
    then: str | None = None
    deploy_id: str | None = None

    def __post_init__(self) -> None:
        for task in self.tasks:  # a task the core has no handler for cannot be written
            if not isinstance(task, Task):
                raise TypeError(f"not a life-cycle task: {task!r} (nubo.lifecycle.tasks)")


Rule = Union[T, Callable[[VmView, Params], T]]
Key = Union[VmState, tuple[VmState, LcmState]]
Table = Mapping[Key, Rule]

NOTHING = T()  # allowed, changes nothing


def A(lcm: LcmState) -> tuple[VmState, LcmState]:
    """The table key for ACTIVE in ``lcm``."""
    return (VmState.ACTIVE, lcm)


def each(keys: Any, rule: Rule) -> dict[Key, Rule]:
    """The same rule for several keys (LcmState members mean ACTIVE in them)."""
    return {(A(k) if isinstance(k, LcmState) else k): rule for k in keys}


def lookup(table: Table, view: VmView) -> Rule | None:
    """The rule for the view's state: an exact (ACTIVE, lcm) entry, else the state's."""
    rule = table.get((view.state, view.lcm_state))
    return table.get(view.state) if rule is None else rule


# ------------------------------------------------------------------------ resolving

_TRIGGERS: dict[str, Table] = {}


def register(name: str, table: Table) -> Table:
    """Make ``table`` reachable as ``then=name`` (and as an outcome trigger)."""
    _TRIGGERS[name] = table
    return table


def trigger_table(name: str) -> Table:
    return _TRIGGERS[name]


def _target(view: VmView, t: T) -> tuple[VmState, LcmState]:
    if t.state is None and t.lcm is None:
        return view.state, view.lcm_state
    if t.state is None or t.state is VmState.ACTIVE:
        return VmState.ACTIVE, t.lcm if t.lcm is not None else view.lcm_state
    return t.state, LcmState.LCM_INIT


def _other(record: Record) -> Record:
    return "previous" if record == "current" else "current"


def _history(sim: VmView, effect: HistoryEffect, params: Params) -> HistoryEffect | None:
    """The concrete effect, or None when it does not apply to this VM."""
    if isinstance(effect, NewRecord):
        host = effect.host if effect.host is not None else params.get("host")
        if host is None:
            raise ValueError("this action needs a host")
        return NewRecord(int(host))
    if isinstance(effect, CopyRecord):
        return effect if sim.record(effect.source) is not None else None
    if isinstance(effect, Checkpoint):
        return effect if sim.current is not None else None
    rec = sim.record(effect.record)
    if rec is None:
        return None
    if isinstance(effect, SetAction) and effect.only_if_none:
        return SetAction(effect.record, effect.action) if rec.action == "none" else None
    return effect


def _capacity(sim: VmView, effect: Hold | Free | FreeAll) -> list[CapacityEffect]:
    if isinstance(effect, FreeAll):
        return [Release(h) for h in sorted(sim.hosts)]
    rec = sim.record(effect.record)
    if rec is None:
        return []
    if isinstance(effect, Hold):
        return [] if rec.host in sim.hosts else [Reserve(rec.host)]
    if rec.host not in sim.hosts:
        return []
    other = sim.record(_other(effect.record))
    if effect.keep_if_shared and other is not None and other.host == rec.host:
        return []
    return [Release(rec.host)]


def realize(view: VmView, t: T, params: Params, *, consumed: bool = False,
            step: str = "") -> Decision:
    """The decision ``t`` means for ``view``.

    ``consumed``: the decision answers the operation the VM was awaiting, so the
    VM no longer awaits it unless the template sends a new one.
    """
    sim = view
    history: list[HistoryEffect] = []
    capacity: list[CapacityEffect] = []
    for effect in t.effects:
        if isinstance(effect, (Hold, Free, FreeAll)):
            for cap in _capacity(sim, effect):
                capacity.append(cap)
                sim = apply_capacity(sim, cap)
            continue
        concrete = _history(sim, effect, params)
        if concrete is not None:
            history.append(concrete)
            sim = apply_history(sim, concrete)
    ops = []
    for op in t.ops:
        rec = sim.record(op.on)
        host = None if rec is None else rec.host
        ops.append(DriverOp(op.driver, op.action, host, op.on, op.awaited))
    state, lcm = _target(view, t)
    awaited = [op.ref for op in ops if op.awaited]
    if awaited:
        awaiting: OpRef | None = awaited[-1]
    elif consumed or (state, lcm) != (view.state, view.lcm_state):
        awaiting = None
    else:
        awaiting = view.awaiting
    decision = Decision(state, lcm, tuple(ops), tuple(history), tuple(capacity), t.resched,
                        t.tasks, awaiting, t.deploy_id, steps=(step,) if step else ())
    if t.then is None:
        return decision
    return merge(decision, run_trigger(apply(view, decision), t.then, params))


def run_trigger(view: VmView, name: str, params: Params, *, consumed: bool = False) -> Decision:
    """Run trigger ``name`` on ``view``; a state it has no rule for is an error here
    (callers that may meet one check :func:`lookup` first)."""
    rule = lookup(_TRIGGERS[name], view)
    if rule is None:
        raise LookupError(f"{name}: no rule for {view.state.name}/{view.lcm_state.name}")
    t = rule(view, params) if callable(rule) else rule
    return realize(view, t, params, consumed=consumed, step=name)


def merge(first: Decision, second: Decision) -> Decision:
    """One decision doing ``first`` then ``second`` (computed on first's result)."""
    return replace(
        second,
        ops=first.ops + second.ops,
        history=first.history + second.history,
        capacity=first.capacity + second.capacity,
        resched=first.resched if second.resched is None else second.resched,
        tasks=first.tasks + second.tasks,
        deploy_id=first.deploy_id if second.deploy_id is None else second.deploy_id,
        steps=first.steps + second.steps,
    )


def ignored(view: VmView, step: str = "") -> Decision:
    """Nothing happens: the event does not apply to the VM in its state."""
    return Decision(view.state, view.lcm_state, awaiting=view.awaiting, ignored=True,
                    steps=(step,) if step else ())
