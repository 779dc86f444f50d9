"""one.vm.deploy and one.vm.action: the life-cycle methods of a VM.

They authorise and check their arguments here, then hand the VM to the
life-cycle manager (nubo.core.lcm), which asks the state machine, commits and
sends the driver operations. A refusal (the VM's state forbids the action) is the
machine's ActionError, naming the state, and nothing changes.
"""
from __future__ import annotations

from nubo.api.methods.clusters import DATASTORE, HOST
from nubo.core.ops.common import check_lock, fetch
from nubo.api.methods.vms import VM
from nubo.api.registry import Bool, Int, Str, api
from nubo.core.ops.context import Call
from nubo.auth import acl as A
from nubo.core.lcm import LifeCycleManager
from nubo.core.vm_commit import vm_size
from nubo.errors import ActionError, InternalError
from nubo.lifecycle import VM_ACTION_NAMES
from nubo.model.host_capacity import fits
from nubo.model.infra import DS_SYSTEM, Cluster, Host
from nubo.model.vm import VirtualMachine

#: The system datastore a deploy uses when none is given (OpenNebula's "system", 0).
DEFAULT_SYSTEM_DS = 0
#: Actions oned.conf lists in VM_ADMIN_OPERATIONS by default; the rest need MANAGE.
_ADMIN_ACTIONS = frozenset({"resched", "unresched"})


def _lifecycle(call: Call) -> LifeCycleManager:
    if call.cloud.lifecycle is None:
        raise InternalError("the life-cycle manager is not running")
    return call.cloud.lifecycle


@api("one.vm.deploy", Int("id"), Int("host_id"), Bool("enforce", False), Int("ds_id", -1),
     Str("nic_template", ""))
def vm_deploy(call: Call, vm_id: int, host_id: int, enforce: bool, ds_id: int,
              nic_template: str) -> int:
    """Place a PENDING/HOLD (or STOPPED/UNDEPLOYED) VM on a host, on a system datastore.

    With ``enforce`` the host must have room for the VM (MAX_CPU/MAX_MEM, known
    once monitored, minus what its VMs use), checked as oned does before the
    deploy; ``nic_template`` is not applied yet.
    """
    lcm = _lifecycle(call)
    with call.cloud.db.read() as conn:
        vm = fetch(call, conn, VM, vm_id, A.ADMIN)
        check_lock(vm, A.ADMIN)
        host = fetch(call, conn, HOST, host_id, A.MANAGE)
        cluster = call.cloud.pools.clusters.find(conn, host.cluster_id)
        ds = fetch(call, conn, DATASTORE, DEFAULT_SYSTEM_DS if ds_id < 0 else ds_id, A.USE)
    if ds.type != DS_SYSTEM:
        raise ActionError(f"Datastore [{ds.id}] is not a system datastore", vm_id)
    if enforce and not has_room(host, cluster, vm):
        raise ActionError(f"Host {host.id} does not have enough capacity.", vm_id)
    lcm.act(vm_id, "deploy", host=host.id, ds_id=ds.id, tm_mad=ds.tm_mad,
            uid=call.uid, gid=call.session.gid)
    return vm_id


def has_room(host: Host, cluster: Cluster | None, vm: VirtualMachine) -> bool:
    """Room for the VM below the host's MAX_CPU/MAX_MEM (nubo.model.host_capacity)."""
    return fits(host, cluster, *vm_size(vm))


@api("one.vm.action", Str("action"), Int("id"))
def vm_action(call: Call, action: str, vm_id: int) -> int:
    """terminate[-hard], undeploy[-hard], poweroff[-hard], hold, release, stop, suspend,
    resume, reboot[-hard], resched, unresched."""
    lcm = _lifecycle(call)
    op = A.ADMIN if action in _ADMIN_ACTIONS else A.MANAGE
    with call.cloud.db.read() as conn:
        vm = fetch(call, conn, VM, vm_id, op)
        check_lock(vm, op)
    if action not in VM_ACTION_NAMES:
        raise ActionError(f'Virtual machine action "{action}" is not supported', vm_id)
    lcm.act(vm_id, action, uid=call.uid, gid=call.session.gid)
    return vm_id
