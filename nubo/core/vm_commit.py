"""Writing a life-cycle decision into the store: the VM body, its history records and
the usage of its hosts, in the caller's transaction.

The state machine (nubo.lifecycle) says *what* changes in its own terms (records
"current"/"previous", Reserve/Release of a host); this module is the one place
that turns those terms into OpenNebula's HISTORY elements and HOST_SHARE counters,
so the API actions, the driver answers and (later) monitoring share it.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace

from sqlalchemy import Connection

from nubo.core import journal, sched_events, vm_resources
from nubo.core.pools import Pools
from nubo.core.vmgroups import leave_vm_group
from nubo.errors import NoExistsError
from nubo.hooks import events as hook_events
from nubo.lifecycle import (Checkpoint, CopyRecord, Decision, NewRecord, OpRef, Release,
                            Reserve, SetAction, Stamp, VmState, VmView, view_of)
from nubo.lifecycle.model import RETIME
from nubo.lifecycle.states import HISTORY_ACTION_IDS
from nubo.model.infra import Host
from nubo.model.limits import saturate
from nubo.model.vm import HistoryRecord, VirtualMachine
from nubo.template import Template

log = logging.getLogger(__name__)

# Bookkeeping tasks of a decision this slice does not do yet (images, leases, VNC
# ports, snapshots, hotplug state): logged so that their absence is visible.
_DEFERRED_TASKS = frozenset({"release_resources", "drop_snapshots"})


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
    return Loaded(vm, view, awaited, parsed)


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

def vm_size(vm: VirtualMachine) -> tuple[int, int]:
    """CPU (hundredths) and memory (KB) the VM counts for, as OpenNebula's HOST_SHARE."""
    def number(name: str) -> float:
        try:
            return float(vm.template.get(name) or 0)
        except (TypeError, ValueError):
            return 0.0
    return int(round(number("CPU") * 100)), int(number("MEMORY") * 1024)


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


# ------------------------------------------------------------ body bookkeeping tasks
# A hotplug in flight marks its DISK/NIC/SNAPSHOT with ATTACH="YES" / ACTIVE="YES" in
# the VM body (as OpenNebula does); the driver's answer keeps it (clear) or drops it
# (delete). Leases of a NIC dropped here, and of every NIC when the VM is finished,
# are freed through nubo.core.leases (rows deleted: freed at most once).

def _marked(vm: VirtualMachine, name: str, flag: str) -> list:
    return [v for v in vm.template.get_vectors(name) if (v.get(flag) or "").upper() == "YES"]


def _drop_vectors(vm: VirtualMachine, name: str, doomed: list) -> None:
    if doomed:
        vm.template = Template([a for a in vm.template if not any(a is d for d in doomed)])


def _free_nic_leases(conn: Connection, pools: Pools, vm: VirtualMachine, nics: list) -> None:
    from nubo.core import leases
    for nic in nics:
        vnet_id, ip, mac = nic.get("NETWORK_ID"), nic.get("IP"), nic.get("MAC")
        if vnet_id is None or not vnet_id.lstrip("-").isdigit() or int(vnet_id) < 0:
            continue
        if not (ip or mac):
            continue
        for row in leases.leases_of(conn, ("VM", vm.id)):
            if row.vnet_id != int(vnet_id):
                continue
            vnet = pools.vnets.find(conn, row.vnet_id)
            if vnet is None:
                continue
            ar = next((a for a in leases.ranges_of(vnet) if a.ar_id == row.ar_id), None)
            if ar is None:
                continue
            address = ar.address(row.index).attributes()
            if (mac and address.get("MAC") == mac) or (ip and address.get("IP") == ip):
                leases.free_rows(conn, row.vnet_id, ar_id=row.ar_id, owner=("VM", vm.id),
                                 index=row.index)
                leases.save(conn, pools.vnets, vnet, leases.ranges_of(vnet))


def _clear_flag(name: str, flag: str):
    def task(conn: Connection, pools: Pools, vm: VirtualMachine) -> None:
        for vector in _marked(vm, name, flag):
            vector.remove(flag)
    return task


def _delete_marked(name: str, flag: str):
    def task(conn: Connection, pools: Pools, vm: VirtualMachine) -> None:
        doomed = _marked(vm, name, flag)
        if name == "NIC":
            _free_nic_leases(conn, pools, vm, doomed)
        elif name == "DISK":
            for disk in doomed:
                vm_resources.release_image(conn, pools, vm.id, disk)
        _drop_vectors(vm, name, doomed)
    return task


def _release_resources(conn: Connection, pools: Pools, vm: VirtualMachine) -> None:
    """free_vm_resources: every lease and image the VM holds (VNC ports: not kept yet)."""
    vm_resources.release(conn, pools, vm)


def _revert_resize(conn: Connection, pools: Pools, vm: VirtualMachine) -> None:
    """A failed live resize: back to the size kept in USER_TEMPLATE/RESIZE_PREVIOUS
    (and the host usage)."""
    old = vm.user_template.get_vector("RESIZE_PREVIOUS")
    if old is None:
        return
    before = vm_size(vm)
    for key in ("CPU", "VCPU", "MEMORY"):
        value = old.get(key)
        if value:
            vm.template.set(key, value)
    vm.user_template.remove("RESIZE_PREVIOUS")
    move_usage(conn, pools, vm, before)


def _reset_resize(conn: Connection, pools: Pools, vm: VirtualMachine) -> None:
    vm.user_template.remove("RESIZE_PREVIOUS")


def move_usage(conn: Connection, pools: Pools, vm: VirtualMachine,
               before: tuple[int, int]) -> None:
    """The VM's size changed from ``before``: update the hosts that count it."""
    cpu, mem = vm_size(vm)
    for hid in sorted({record.hid for record in vm.history[-2:]}):
        host = pools.hosts.find(conn, hid)
        if host is None or vm.id not in host.vms:
            continue
        share = host.host_share
        share.cpu_usage = saturate(max(0, share.cpu_usage + cpu - before[0]))
        share.mem_usage = saturate(max(0, share.mem_usage + mem - before[1]))
        pools.hosts.update(conn, host)


BODY_TASKS = {
    "clear_attach_disk": _clear_flag("DISK", "ATTACH"),
    "delete_attach_disk": _delete_marked("DISK", "ATTACH"),
    "clear_attach_nic": _clear_flag("NIC", "ATTACH"),
    "delete_attach_nic": _delete_marked("NIC", "ATTACH"),
    "clear_active_snapshot": _clear_flag("SNAPSHOT", "ACTIVE"),
    "delete_active_snapshot": _delete_marked("SNAPSHOT", "ACTIVE"),
    "release_resources": _release_resources,
    "revert_resize": _revert_resize,
    "reset_resize": _reset_resize,
}


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
    for task in decision.tasks:
        if task == "reset_deploy_id":
            vm.deploy_id = ""
        elif task in BODY_TASKS:
            BODY_TASKS[task](conn, pools, vm)
        elif task in _DEFERRED_TASKS:
            log.debug("VM %d: task %s not done yet", vm.id, task)
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
