"""A VM's life-cycle operations: deploy, the one.vm.action verbs, migrate and recover.

Each is one function in the shape of every operation: authorise (the levels of
oned.conf's VM_ADMIN_OPERATIONS / VM_MANAGE_OPERATIONS defaults), check what the
request needs besides the VM's state (a system datastore, room on the host), then
hand the VM to the life-cycle manager (nubo.core.lcm). It asks the state machine
(nubo.lifecycle) under the VM's lock: a state that forbids the action is refused
there with OpenNebula's message and nothing changes; otherwise the decision (state,
history, host usage, tasks) is committed in one transaction and only then are its
driver operations sent. The changes the hotplug operations make to the VM's body
are in nubo.core.ops.vm_hotplug, their scheduled actions in nubo.core.ops.vm_sched.

Adding a VM action that reuses existing states takes three steps:

1. its row in the machine's tables: a ``{state: T(...)}`` table under its name in
   nubo/lifecycle/actions.py (``ONE_VM_ACTION`` for a one.vm.action verb) and, if
   OpenNebula words its refusal its own way, the message in
   ``nubo.lifecycle.machine._WRONG_STATE``; any bookkeeping it needs beyond state,
   history and host usage is a ``Task`` with its handler (nubo.core.vm_tasks);
2. one operation here (a one.vm.action verb needs none: :func:`act_on_vm` runs
   every verb of the table) and its XML-RPC binding in nubo/api/methods/vm_actions.py;
3. one CLI verb in nubo/cli/vm_verbs.py (``action(...)`` for a one.vm.action verb).
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from nubo.auth import acl as A
from nubo.core.lcm import LifeCycleManager
from nubo.core.ops.common import check_lock, fetch
from nubo.core.ops.call import Call
from nubo.core.ops.clusters import DATASTORE, HOST
from nubo.core.ops.vms import VM
from nubo.core.vm_commit import Loaded
from nubo.core.vm_resources import vm_size
from nubo.errors import ActionError, ApiError, InternalError
from nubo.lifecycle import (MIGRATE_KINDS, RECOVER_OPERATIONS, VM_ACTION_NAMES, Decision,
                            LcmState, VmState)
from nubo.model.host_capacity import fits
from nubo.model import vm_disks
from nubo.model.infra import DS_SYSTEM, Cluster, Datastore, Host
from nubo.model.vm import VirtualMachine
from nubo.model.vnc_ports import VncPortError
from nubo.store import vnc_ports

#: The system datastore a deploy uses when none is given (OpenNebula's "system", 0).
DEFAULT_SYSTEM_DS = 0
#: Actions oned.conf lists in VM_ADMIN_OPERATIONS by default; the rest need MANAGE.
_ADMIN_ACTIONS = frozenset({"resched", "unresched"})


def life_cycle(call: Call) -> LifeCycleManager:
    """The life-cycle manager that carries VM actions out (none in a bare core)."""
    if call.cloud.lifecycle is None:
        raise InternalError("the life-cycle manager is not running")
    return call.cloud.lifecycle


def usable_vm(call: Call, vm_id: int, op: int) -> VirtualMachine:
    """The VM, if the requester may do ``op`` to it and no lock forbids it."""
    with call.cloud.db.read() as conn:
        vm = fetch(call, conn, VM, vm_id, op)
    check_lock(vm, op)
    return vm


def act(call: Call, vm_id: int, action: str, **params: Any) -> Decision:
    """Do ``action`` to the VM through the life-cycle manager, as the requester."""
    return life_cycle(call).act(vm_id, action, uid=call.uid, gid=call.session.gid, **params)


def has_room(host: Host, cluster: Cluster | None, vm: VirtualMachine) -> bool:
    """Room for the VM below the host's MAX_CPU/MAX_MEM after its reservations
    (nubo.model.host_capacity), beside what its VMs use (deploy and migrate with
    ``enforce``)."""
    return fits(host, cluster, *vm_size(vm))


def available_mb(ds: Datastore) -> int | None:
    """Room left on a datastore for new disks: FREE_MB, and below LIMIT_MB (Datastore::
    get_avail_mb); None when not checked: DATASTORE_CAPACITY_CHECK = NO, or neither
    monitored yet nor limited."""
    if (ds.template.get("DATASTORE_CAPACITY_CHECK") or "YES").strip().upper() in ("NO", "FALSE"):
        return None
    limit = (ds.template.get("LIMIT_MB") or "").strip()
    limited = int(limit) - ds.used_mb if limit.isdigit() else None
    if ds.total_mb <= 0:
        return limited
    return ds.free_mb if limited is None else min(ds.free_mb, limited)


def check_disk_room(call: Call, vm: VirtualMachine, system: Datastore) -> None:
    """The VM's disks fit where PROLOG puts them (DATASTORE_CAPACITY_CHECK): on the system
    datastore, and clones with CLONE_TARGET = SELF in their image datastores."""
    disks = [d.get for d in vm.template.get_vectors("DISK")]
    needs = [(system, vm_disks.system_ds_mb(disks))]
    with call.cloud.db.read() as conn:
        for ds_id, mb in sorted(vm_disks.image_ds_mb(disks).items()):
            ds = call.cloud.pools.datastores.find(conn, ds_id)
            if ds is not None:
                needs.append((ds, mb))
    for ds, mb in needs:
        avail = available_mb(ds)
        if mb > 0 and avail is not None and mb > avail:
            raise ActionError(f"Not enough space in datastore [{ds.id}] {ds.name}: the VM's "
                              f"disks need {mb} MB, {max(avail, 0)} MB are free", vm.id)


def _placement(call: Call, vm_id: int, host_id: int, ds_id: int, enforce: bool
               ) -> tuple[VirtualMachine, Host, Cluster | None, Datastore | None]:
    """What a deploy or migrate reads, authorised in oned's order: the VM (ADMIN, not
    locked), the host (MANAGE) and, with ``enforce``, its cluster (for its reservations),
    the system datastore (USE; none when ``ds_id`` < 0)."""
    life_cycle(call)
    with call.cloud.db.read() as conn:
        vm = fetch(call, conn, VM, vm_id, A.ADMIN)
        check_lock(vm, A.ADMIN)
        host = fetch(call, conn, HOST, host_id, A.MANAGE)
        cluster = call.cloud.pools.clusters.find(conn, host.cluster_id) if enforce else None
        ds = fetch(call, conn, DATASTORE, ds_id, A.USE) if ds_id >= 0 else None
    return vm, host, cluster, ds


def deploy_vm(call: Call, vm_id: int, host_id: int, enforce: bool, ds_id: int) -> int:
    """one.vm.deploy: place a PENDING/HOLD (or STOPPED/UNDEPLOYED) VM on a host, on a
    system datastore (VM:ADMIN, HOST:MANAGE, DATASTORE:USE).

    With ``enforce`` the host must have room for the VM, checked as oned does before
    the deploy; the datastores must always have room for its disks.
    """
    vm, host, cluster, ds = _placement(call, vm_id, host_id,
                                       DEFAULT_SYSTEM_DS if ds_id < 0 else ds_id, enforce)
    if ds.type != DS_SYSTEM:
        raise ActionError(f"Datastore [{ds.id}] is not a system datastore", vm_id)
    if enforce and not has_room(host, cluster, vm):
        raise ActionError(f"Host {host.id} does not have enough capacity.", vm_id)
    check_disk_room(call, vm, ds)
    def vnc_port(conn: Connection, loaded: Loaded, decision: Decision) -> None:
        reserve_vnc_port(conn, loaded.vm, host.cluster_id, call.cloud.config.vnc_ports_start)
    act(call, vm_id, "deploy", host=host.id, ds_id=ds.id, tm_mad=ds.tm_mad, prepare=vnc_port)
    return vm_id


def reserve_vnc_port(conn: Connection, vm: VirtualMachine, cluster_id: int, start: int) -> None:
    """A VM with GRAPHICS holds a port of its cluster (its PORT if it has one, as oned's
    set_vnc_port), written back as its PORT; oned's message when none can be had."""
    graphics = vm.template.get_vector("GRAPHICS")
    if graphics is None:
        return
    text = (graphics.get("PORT") or "").strip()
    try:
        port = vnc_ports.reserve(conn, cluster_id, vm.id, start,
                                 int(text) if text.isdigit() else None)
    except VncPortError as e:
        raise ActionError(str(e), vm.id) from None
    graphics.set("PORT", str(port))


def act_on_vm(call: Call, action: str, vm_id: int) -> int:
    """one.vm.action: terminate[-hard], undeploy[-hard], poweroff[-hard], hold, release,
    stop, suspend, resume, reboot[-hard], resched, unresched."""
    life_cycle(call)
    usable_vm(call, vm_id, A.ADMIN if action in _ADMIN_ACTIONS else A.MANAGE)
    if action not in VM_ACTION_NAMES:
        raise ActionError(f'Virtual machine action "{action}" is not supported', vm_id)
    act(call, vm_id, action)
    return vm_id


def migrate_vm(call: Call, vm_id: int, host_id: int, live: bool, enforce: bool, ds_id: int,
               migration_type: int) -> int:
    """one.vm.migrate: move a RUNNING (live or cold), POWEROFF, SUSPENDED or UNKNOWN VM
    to another host (VM:ADMIN, HOST:MANAGE, and DATASTORE:USE for a given system
    datastore). The system datastore stays the VM's unless ``ds_id`` names another."""
    vm, host, cluster, ds = _placement(call, vm_id, host_id, ds_id, enforce)
    kind = "migrate-live" if live else MIGRATE_KINDS.get(migration_type)
    if kind is None:
        raise ApiError(f"Wrong migration type {migration_type}", vm_id)
    if ds is not None and ds.type != DS_SYSTEM:
        raise ActionError(f"Datastore [{ds.id}] is not a system datastore", vm_id)
    current = vm.history[-1] if vm.history else None
    ds_id = ds.id if ds is not None else (current.ds_id if current else 0)
    tm_mad = ds.tm_mad if ds is not None else (current.tm_mad if current else "")
    if current is not None and current.hid == host.id and current.ds_id == ds_id:
        allowed = (vm.state, vm.lcm_state) == (VmState.ACTIVE, LcmState.RUNNING) or \
            vm.state in (VmState.POWEROFF, VmState.SUSPENDED) or \
            (vm.state, vm.lcm_state) == (VmState.ACTIVE, LcmState.UNKNOWN)
        if allowed:
            raise ActionError(f"VM is already running on host [{host.id}] and datastore "
                              f"[{ds_id}]", vm_id)
    if enforce and not has_room(host, cluster, vm):
        raise ActionError(f"Host {host.id} does not have enough capacity.", vm_id)
    act(call, vm_id, kind, host=host.id, ds_id=ds_id, tm_mad=tm_mad)
    return vm_id


def recover_vm(call: Call, vm_id: int, operation: int) -> int:
    """one.vm.recover: 0 failure, 1 success, 2 retry, 3 delete, 4 delete-recreate
    (VM:ADMIN)."""
    life_cycle(call)
    usable_vm(call, vm_id, A.ADMIN)
    action = RECOVER_OPERATIONS.get(operation)
    if action is None:
        raise ApiError(f"Wrong recovery operation code {operation}", vm_id)
    act(call, vm_id, action)
    return vm_id
