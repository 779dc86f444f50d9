"""What the state machine reads (a VM view) and what it returns (a decision).

The machine is pure: it never touches the store, a clock or a driver. The caller
(the dispatch manager for user actions, the life-cycle manager for driver
outcomes) builds a :class:`VmView` from the stored VM, asks for a
:class:`Decision`, commits the decision's state, history and host-usage changes
in one transaction, and only then sends its driver operations, in order. So a
crash between the commit and the send leaves a VM whose ``awaiting`` names the
operation to reconcile.

``VmView.awaiting`` is the one piece of state OpenNebula keeps implicitly (in its
driver queues) that nubo must store: the driver operation the VM's transient
state is waiting for. It lets an outcome be matched to its operation (an
outcome for anything else is stale and ignored) and tells a restarted core what
to ask the drivers.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal, Union

from nubo.lifecycle.states import LcmState, VmState
from nubo.lifecycle.tasks import Task

Record = Literal["current", "previous"]

# History record time fields (OpenNebula's HISTORY element names).
STIME, ETIME = "STIME", "ETIME"
PSTIME, PETIME, RSTIME, RETIME, ESTIME, EETIME = (
    "PSTIME", "PETIME", "RSTIME", "RETIME", "ESTIME", "EETIME")


# ------------------------------------------------------------------ driver operations

@dataclass(frozen=True, slots=True)
class OpRef:
    """An operation kind: which driver and which action (e.g. vmm DEPLOY)."""

    driver: Literal["vmm", "tm"]
    action: str

    def __str__(self) -> str:
        return f"{self.driver}.{self.action}"


@dataclass(frozen=True, slots=True)
class DriverOp:
    """A driver operation to send once the decision is committed.

    ``record`` says whose host it runs on: the current history record's or the
    previous one's (a migration saves on the source, restores on the target).
    ``awaited`` operations are the ones the VM's new state waits for; the others
    (reboot, DRIVER_CANCEL, the clean-up sent when a VM is deleted) are sent and
    their outcome is only logged.
    """

    driver: Literal["vmm", "tm"]
    action: str
    host: int | None
    record: Record = "current"
    awaited: bool = True

    @property
    def ref(self) -> OpRef:
        return OpRef(self.driver, self.action)


# ------------------------------------------------------------------- history effects

@dataclass(frozen=True, slots=True)
class NewRecord:
    """Open a history record for a new placement (deploy, migrate) on ``host``.

    ``host`` is None in a transition template: the action's ``host`` parameter.
    """

    host: int | None = None


@dataclass(frozen=True, slots=True)
class CopyRecord:
    """Open a record on the host of ``source`` (OpenNebula's cp_history /
    cp_previous_history): same host, system datastore and drivers, no times set."""

    source: Record = "current"


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """Close the current record for ``action`` and go on in a copy of it.

    OpenNebula's close_cp_history, used by hotplug actions: the closed record gets
    RETIME (if still 0), ETIME and the ACTION; the copy gets STIME and RSTIME, keeps
    the closed record's previous ACTION, and gets RETIME too if the closed one
    already had it (the VM was not running).
    """

    action: str


@dataclass(frozen=True, slots=True)
class Stamp:
    """Set a time field of a record.

    ``mode``: "now"; "zero" (reopen); "close" (set only if still 0 and, for RETIME,
    only if RSTIME is set: how OpenNebula closes records when a VM is finished).
    """

    record: Record
    field: str
    mode: Literal["now", "zero", "close"] = "now"


@dataclass(frozen=True, slots=True)
class SetAction:
    """Set a record's ACTION (a name of states.HISTORY_ACTIONS)."""

    record: Record
    action: str
    only_if_none: bool = False


HistoryEffect = Union[NewRecord, CopyRecord, Checkpoint, Stamp, SetAction]


# ------------------------------------------------------------------ capacity effects

@dataclass(frozen=True, slots=True)
class Reserve:
    """Count the VM's capacity in ``host``'s usage."""

    host: int


@dataclass(frozen=True, slots=True)
class Release:
    """Stop counting the VM's capacity in ``host``'s usage."""

    host: int


CapacityEffect = Union[Reserve, Release]


# ---------------------------------------------------------------------------- the VM

@dataclass(frozen=True, slots=True)
class Placement:
    """What the machine needs of a history record: its host, ACTION, and whether
    it is open (ETIME still 0)."""

    host: int
    action: str = "none"
    open: bool = True


@dataclass(frozen=True, slots=True)
class VmView:
    """The slice of a VM the machine decides on.

    ``current``/``previous`` are the last two history records; ``hosts`` the hosts
    whose usage currently counts this VM (two during a migration).
    """

    id: int
    state: VmState
    lcm_state: LcmState = LcmState.LCM_INIT
    current: Placement | None = None
    previous: Placement | None = None
    hosts: frozenset[int] = frozenset()
    awaiting: OpRef | None = None
    resched: bool = False
    deploy_id: str = ""

    def record(self, which: Record) -> Placement | None:
        return self.current if which == "current" else self.previous


# ------------------------------------------------------------------------ a decision

@dataclass(frozen=True)
class Decision:
    """The outcome of asking the machine: the VM's new state and what to do.

    ``tasks`` name bookkeeping the caller does on the VM's body and what it holds
    (nubo.lifecycle.tasks: release_resources, clear_attach_disk, ...). ``ignored``
    marks an event that does not apply to the VM's state (a stale or unexpected
    driver answer, a monitor report for a VM not running): nothing changes.
    """

    state: VmState
    lcm_state: LcmState
    ops: tuple[DriverOp, ...] = ()
    history: tuple[HistoryEffect, ...] = ()
    capacity: tuple[CapacityEffect, ...] = ()
    resched: bool | None = None
    tasks: tuple[Task, ...] = ()
    awaiting: OpRef | None = None
    deploy_id: str | None = None
    ignored: bool = False
    steps: tuple[str, ...] = field(default=(), compare=False)

    @property
    def pair(self) -> tuple[VmState, LcmState]:
        return self.state, self.lcm_state


# ------------------------------------------------------------------------- applying

def apply_history(view: VmView, effect: HistoryEffect) -> VmView:
    """The view after one history effect (records shift as OpenNebula's do)."""
    cur, prev = view.current, view.previous
    if isinstance(effect, NewRecord):
        assert effect.host is not None, "NewRecord needs a host"
        return replace(view, previous=cur, current=Placement(effect.host))
    if isinstance(effect, CopyRecord):
        source = cur if effect.source == "current" else prev
        if source is None:
            return view
        return replace(view, previous=cur, current=Placement(source.host))
    if isinstance(effect, Checkpoint):
        if cur is None:
            return view
        closed = replace(cur, action=effect.action, open=False)
        return replace(view, previous=closed, current=Placement(cur.host, cur.action))
    rec = view.record(effect.record)
    if rec is None:
        return view
    if isinstance(effect, Stamp):
        if effect.field != ETIME:
            return view
        rec = replace(rec, open=effect.mode == "zero")  # "now" and "close" both close it
    elif isinstance(effect, SetAction):
        if effect.only_if_none and rec.action != "none":
            return view
        rec = replace(rec, action=effect.action)
    return replace(view, **{effect.record: rec})


def apply_capacity(view: VmView, effect: CapacityEffect) -> VmView:
    if isinstance(effect, Reserve):
        return replace(view, hosts=view.hosts | {effect.host})
    return replace(view, hosts=view.hosts - {effect.host})


def apply(view: VmView, decision: Decision) -> VmView:
    """The view after committing ``decision`` (what the store will hold)."""
    if decision.ignored:
        return view
    for effect in decision.history:
        view = apply_history(view, effect)
    for cap in decision.capacity:
        view = apply_capacity(view, cap)
    resched = view.resched if decision.resched is None else decision.resched
    deploy_id = view.deploy_id if decision.deploy_id is None else decision.deploy_id
    return replace(view, state=decision.state, lcm_state=decision.lcm_state,
                   awaiting=decision.awaiting, resched=resched, deploy_id=deploy_id)
