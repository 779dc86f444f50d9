"""Changed security group rules reach the VMs that use them (oned's trigger_updatesg).

After one.secgroup.update or one.secgroup.commit every VM of the group is OUTDATED;
each is then re-rendered (its SECURITY_GROUP_RULEs from the groups' current rules).
A RUNNING VM becomes UPDATING and its host's virtualization driver is sent UPDATESG
with the VM's body; the answer moves it to UPDATED (or ERROR, with the driver's
message in the log). A VM that is not running is UPDATED at once: its network driver
reads the rules when it next boots. The marks are committed before the driver is asked,
so a core stopped meanwhile leaves the VM UPDATING, and ``one.secgroup.commit`` with
recover = true sends it again.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import Connection

from nubo.core import secgroup_rules
from nubo.core.cloud import Cloud
from nubo.core.pool_set import Pools
from nubo.drivers.spec import DriverResult
from nubo.lifecycle.states import LcmState, VmState
from nubo.model import xmlobj
from nubo.model.vm import VirtualMachine
from nubo.store import secgroup_vms

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Send:
    vm_id: int
    host_id: int
    body: str


def push(cloud: Cloud, group_id: int, only_pending: bool = False) -> list[int]:
    """Re-render the group's VMs and send UPDATESG for the running ones; answers the VMs
    handled. ``only_pending``: just those OUTDATED, UPDATING or in ERROR (commit recover)."""
    pools = cloud.pools
    sends: list[_Send] = []
    with cloud.db.write() as conn:
        group = pools.secgroups.find(conn, group_id)
        if group is None:
            return []
        members = secgroup_vms.members(conn, group_id)
        vms = sorted(v for state, ids in members.items()
                     if not only_pending or state != "updated" for v in ids)
        secgroup_vms.put_all(conn, group_id, vms, "outdated")
        pools.secgroups.update(conn, group)
        for vm_id in vms:
            vm = pools.vms.find(conn, vm_id)
            if vm is None or vm.state == VmState.DONE:
                secgroup_vms.remove(conn, group_id, vm_id)
                continue
            send = rerender(conn, pools, vm)
            sends += [send] if send is not None else []
    for send in sends:
        send_updatesg(cloud, send)
    return sorted(vms)


def rerender(conn: Connection, pools: Pools, vm: VirtualMachine) -> _Send | None:
    """The VM's rules rendered again and stored: a running VM is UPDATING in its groups
    and answers what to send its host (after the commit); any other is UPDATED."""
    running = (vm.state == VmState.ACTIVE and vm.lcm_state == LcmState.RUNNING
               and bool(vm.history))
    secgroup_rules.render(conn, pools, vm, "updating" if running else "updated")
    pools.vms.update(conn, vm)
    return _Send(vm.id, vm.history[-1].hid, xmlobj.render(vm, "VM")) if running else None


def send_updatesg(cloud: Cloud, send: _Send | None) -> None:
    """UPDATESG to the VM's host (nothing for None); the answer marks its groups."""
    if send is None:
        return
    lcm = cloud.lifecycle
    manager = lcm.registry.manager if lcm is not None else None
    if manager is None:
        log.warning("VM %d: no drivers, UPDATESG not sent", send.vm_id)
        return
    with cloud.db.read() as conn:
        host = cloud.pools.hosts.find(conn, send.host_id)
    if host is None:
        _answered(cloud, send.vm_id, False)
        return
    manager.submit_callback(lcm.registry.vmm(host), "UPDATESG", send.vm_id, host.name,
                            send.body, lambda result: _answered_logged(cloud, result))


def _answered_logged(cloud: Cloud, result: DriverResult) -> None:
    if not result.success:
        log.warning("VM %d: UPDATESG failed: %s", result.oid, result.info)
    try:
        cloud.db.retrying(lambda: _answered(cloud, result.oid, result.success),
                          f"VM {result.oid}: the answer to UPDATESG")
    except Exception:  # on a driver thread: the log is where it must go
        log.exception("VM %d: recording the answer to UPDATESG failed", result.oid)


def _answered(cloud: Cloud, vm_id: int, success: bool) -> None:
    """The VM is UPDATED (or ERROR) in every group it uses."""
    pools = cloud.pools
    with cloud.db.write() as conn:
        vm = pools.vms.find(conn, vm_id)
        if vm is None:
            return
        for gid in secgroup_rules.group_ids(vm.template):
            group = pools.secgroups.find(conn, gid)
            if group is not None and secgroup_vms.state_of(conn, gid, vm_id) == "updating":
                secgroup_vms.put(conn, gid, vm_id, "updated" if success else "error")
                pools.secgroups.update(conn, group)
