"""Writing a life-cycle decision into the store: the VM body, its history records and
the usage of its hosts, in the caller's transaction.

The state machine (nubo.lifecycle) says *what* changes in its own terms (records
"current"/"previous", Reserve/Release of a host); this module is the one place
that turns those terms into OpenNebula's HISTORY elements and HOST_SHARE counters,
so the API actions, the driver answers and (later) monitoring share it.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

from sqlalchemy import Connection

from nubo.core import journal, sched_events, vm_tasks
from nubo.core.pool_set import Pools
from nubo.core.vm_resources import vm_size
from nubo.core.vm_tasks import FollowUp, TaskContext
from nubo.core.vmgroup_membership import leave_vm_group
from nubo.errors import NoExistsError
from nubo.hooks import events as hook_events
from nubo.lifecycle import (Checkpoint, CopyRecord, Decision, NewRecord, OpRef, Release,
                            Reserve, SetAction, Stamp, VmState, VmView, view_of)
from nubo.lifecycle.decision import RETIME
from nubo.lifecycle.states import HISTORY_ACTION_IDS
from nubo.model.infra import Host
from nubo.model.limits import saturate
from nubo.model.vm import HistoryRecord, VirtualMachine


@dataclass(frozen=True)
class Awaited:
    """The operation a VM waits for: its kind, the host it runs on and ``seq``, the
    number that tells this instance's answer from an earlier one's."""

    ref: OpRef
    host_id: int
    seq: int


@dataclass
class Loaded:
    """A VM as the life-cycle manager sees it: body, view and awaited operation."""

    vm: VirtualMachine
    view: VmView
    awaited: Awaited | None
    #: The hosts read (and parsed) in this transaction, by id, reused by ``commit`` and
    #: the life-cycle manager; whoever changes a host in the transaction by other means
    #: must clear it.
    hosts: dict[int, Host] = field(default_factory=dict)
    #: The VM's body as ``commit`` stored it (the payload of its driver operations).
    body: str | None = None
    #: The size (CPU, memory) its hosts count, as loaded (before a resize changes it).
    size: tuple[int, int] = (0, 0)
    #: The events ``commit``'s tasks asked for next (nubo.core.vm_tasks.FollowUp).
    follow_ups: list[FollowUp] = field(default_factory=list)


def load(conn: Connection, pools: Pools, vm_id: int) -> Loaded:
    """The VM, its view (hosts counting it read from their VMS lists) and its awaited op."""
    vm = pools.vms.take(conn, vm_id)
    if vm is None:
        raise NoExistsError(f"Error getting virtual machine [{vm_id}].", vm_id)
    entry = journal.awaited(conn, journal.VM, vm_id)
    awaited = (None if entry is None
               else Awaited(OpRef(entry.driver, entry.action), entry.host_id, entry.seq))
    hosts = set()
    parsed: dict[int, Host] = {}
    for record in vm.history[-2:]:
        host = parsed.get(record.hid)
        if host is None:
            host = pools.hosts.take(conn, record.hid)
            if host is not None:
                parsed[record.hid] = host
        if host is not None and vm_id in host.vms:
            hosts.add(record.hid)
    view = view_of(vm, hosts=frozenset(hosts), awaiting=awaited.ref if awaited else None)
    return Loaded(vm, view, awaited, parsed, size=vm_size(vm))


# ------------------------------------------------------------------------ history

def new_record(vm: VirtualMachine, host: Host, now: int, *, ds_id: int, tm_mad: str,
               uid: int = -1, gid: int = -1) -> HistoryRecord:
    """A fresh placement record on ``host`` (STIME now, every other time 0)."""
    return HistoryRecord(
        oid=vm.id, seq=len(vm.history), hostname=host.name, hid=host.id, cid=host.cluster_id,
        stime=now, etime=0, vm_mad=host.vm_mad, tm_mad=tm_mad, ds_id=ds_id, plan_id=-1,
        action_id=-1, pstime=0, petime=0, rstime=0, retime=0, estime=0, eetime=0, action=0,
        uid=uid, gid=gid, request_id="-1")


def _copy(vm: VirtualMachine, source: HistoryRecord) -> HistoryRecord:
    """A record on the same host, datastore and drivers as ``source``, no times set."""
    return replace(source, seq=len(vm.history), stime=0, etime=0, pstime=0, petime=0,
                   rstime=0, retime=0, estime=0, eetime=0, action=0, plan_id=-1, action_id=-1)


def _record(vm: VirtualMachine, which: str) -> HistoryRecord | None:
    index = -1 if which == "current" else -2
    return vm.history[index] if len(vm.history) >= -index else None


def apply_history(vm: VirtualMachine, effect: object, now: int, hosts: dict[int, Host],
                  ds_id: int, tm_mad: str, uid: int, gid: int) -> None:
    """One history effect on the VM's records (model.HistoryEffect's meaning)."""
    if isinstance(effect, NewRecord):
        assert effect.host is not None
        vm.history.append(new_record(vm, hosts[effect.host], now, ds_id=ds_id, tm_mad=tm_mad,
                                     uid=uid, gid=gid))
        return
    if isinstance(effect, CopyRecord):
        source = _record(vm, effect.source)
        if source is not None:
            vm.history.append(_copy(vm, source))
        return
    if isinstance(effect, Checkpoint):
        closed = _record(vm, "current")
        if closed is None:
            return
        was_stopped = closed.retime != 0
        copy = replace(_copy(vm, closed), stime=now, rstime=now, action=closed.action,
                       retime=now if was_stopped else 0)
        if closed.retime == 0:
            closed.retime = now
        closed.etime = now
        closed.action = HISTORY_ACTION_IDS[effect.action]
        vm.history.append(copy)
        return
    rec = _record(vm, effect.record)  # type: ignore[attr-defined]
    if rec is None:
        return
    if isinstance(effect, Stamp):
        attr = effect.field.lower()
        if effect.mode == "now":
            setattr(rec, attr, now)
        elif effect.mode == "zero":
            setattr(rec, attr, 0)
        elif getattr(rec, attr) == 0 and (effect.field != RETIME or rec.rstime != 0):
            setattr(rec, attr, now)
    elif isinstance(effect, SetAction):
        if not (effect.only_if_none and rec.action != 0):
            rec.action = HISTORY_ACTION_IDS[effect.action]


# ---------------------------------------------------------------------- host usage

def apply_capacity(vm: VirtualMachine, effect: Reserve | Release, host: Host) -> None:
    """Count (or stop counting) the VM in the host's usage and its VMS list."""
    cpu, mem = vm_size(vm)
    share = host.host_share
    counted = vm.id in host.vms
    if isinstance(effect, Reserve) and not counted:
        host.vms = sorted([*host.vms, vm.id])
        share.running_vms += 1
        share.cpu_usage = saturate(share.cpu_usage + cpu)
        share.mem_usage = saturate(share.mem_usage + mem)
    elif isinstance(effect, Release) and counted:
        host.vms = [v for v in host.vms if v != vm.id]
        share.running_vms = max(0, share.running_vms - 1)
        share.cpu_usage = max(0, share.cpu_usage - cpu)
        share.mem_usage = max(0, share.mem_usage - mem)


# -------------------------------------------------------------------------- commit

def commit(conn: Connection, pools: Pools, loaded: Loaded, decision: Decision, now: int, *,
           next_seq: int, deploy_id: str | None = None, ds_id: int = 0, tm_mad: str = "",
           uid: int = -1, gid: int = -1) -> Awaited | None:
    """Store ``decision``: state, history, host usage and the awaited operation.

    Returns the awaited operation as stored (None if the VM awaits nothing).
    """
    vm = loaded.vm
    host_ids = {e.host for e in decision.history if isinstance(e, NewRecord) and e.host is not None}
    host_ids |= {e.host for e in decision.capacity}
    hosts = {hid: loaded.hosts.get(hid) or _take_host(conn, pools, hid) for hid in host_ids}
    loaded.hosts.update(hosts)
    for effect in decision.history:
        apply_history(vm, effect, now, hosts, ds_id, tm_mad, uid, gid)
    for cap in decision.capacity:
        apply_capacity(vm, cap, hosts[cap.host])
    for host in hosts.values():
        pools.hosts.update(conn, host)
    loaded.follow_ups = vm_tasks.run(TaskContext(conn, pools, vm, loaded.size),
                                     decision.tasks)
    if (vm.state, vm.lcm_state) != decision.pair:
        vm.prev_state, vm.prev_lcm_state = vm.state, vm.lcm_state
    vm.state, vm.lcm_state = int(decision.state), int(decision.lcm_state)
    if decision.resched is not None:
        vm.resched = int(decision.resched)
    for chosen in (decision.deploy_id, deploy_id):
        if chosen is not None:
            vm.deploy_id = chosen
    if decision.state == VmState.DONE and vm.etime == 0:
        vm.etime = now
        leave_vm_group(conn, pools, vm)  # vmgroup: a finished VM leaves its role
    loaded.body = pools.vms.store(conn, vm)
    hook_events.vm_committed(conn, vm, loaded.view)  # state hooks run once this commits
    sched_events.note_decision(conn, decision)  # wake the scheduler (PENDING, capacity freed)
    return _store_awaited(conn, vm, decision, next_seq)


def _take_host(conn: Connection, pools: Pools, hid: int) -> Host:
    host = pools.hosts.take(conn, hid)
    if host is None:
        raise NoExistsError(f"Error getting host [{hid}].", hid)
    return host


def _store_awaited(conn: Connection, vm: VirtualMachine, decision: Decision,
                   seq: int) -> Awaited | None:
    if decision.awaiting is None:
        journal.forget(conn, journal.VM, vm.id)
        return None
    op = next((o for o in decision.ops if o.awaited and o.ref == decision.awaiting), None)
    host_id = op.host if op is not None and op.host is not None else -1
    awaited = Awaited(decision.awaiting, host_id, seq)
    journal.expect(conn, journal.VM, vm.id, driver=awaited.ref.driver,
                   action=awaited.ref.action, host_id=host_id, seq=seq)
    return awaited
