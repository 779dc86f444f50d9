"""A network's changes reaching the VMs using it (oned 6.10's update propagation).

After one.vn.update every VM with a lease of the network whose NICs now differ (BRIDGE,
VLAN_ID, PHYDEV, MTU and the other inherited attributes) gets its NICs rewritten and is
listed in the network's OUTDATED_VMS, in one transaction. Then each VM running on a
host moves to UPDATING_VMS while its host's virtualization driver applies the change
(UPDATESG: the dummy driver answers it for a VM it runs; real network drivers are not
part of nubo yet) and to UPDATED_VMS, or to ERROR_VMS with a failure, which puts the
network in UPDATE_FAILURE (one.vn.recover retries or accepts it); a VM on no host has
nothing to apply and is UPDATED at once. The lists are sorted sets of VM ids, so a
second update while one runs moves the VMs back to OUTDATED and they are sent again.
"""
from __future__ import annotations

import logging

from sqlalchemy import Connection

from nubo.core import leases
from nubo.core.ops import vnet_states
from nubo.core.ops.call import Call
from nubo.core.vm_nics import refresh_nic
from nubo.lifecycle import LcmState, VmState
from nubo.model.resources import VNET_UPDATE_FAILURE, VirtualNetwork

log = logging.getLogger(__name__)

ACTION = "UPDATESG"
_LISTS = ("outdated_vms", "updating_vms", "updated_vms", "error_vms")


def _move(vnet: VirtualNetwork, vm_id: int, to: str | None) -> None:
    """Put a VM in one of the network's lists (none: out of all of them)."""
    for name in _LISTS:
        ids = set(getattr(vnet, name)) - {vm_id}
        if name == to:
            ids.add(vm_id)
        setattr(vnet, name, sorted(ids))


def propagate(call: Call, vnet_id: int) -> list[int]:
    """Rewrite the NICs of the network's VMs and send the running ones their update;
    returns the VMs whose NICs changed."""
    pools = call.cloud.pools
    sends: list[tuple[int, str, str]] = []
    changed: list[int] = []
    with call.cloud.db.write() as conn:
        vnet = pools.vnets.get(conn, vnet_id)
        users = sorted({r.owner[1] for r in leases.leases(conn, vnet_id)
                        if r.owner[0] == "VM" and r.owner[1] >= 0})
        for vm_id in users:
            vm = pools.vms.find(conn, vm_id)
            if vm is None:
                continue
            nics = [n for kind in ("NIC", "NIC_ALIAS") for n in vm.template.get_vectors(kind)
                    if n.get("NETWORK_ID") == str(vnet_id)]
            if not any([refresh_nic(n, vnet) for n in nics]):
                continue
            pools.vms.update(conn, vm)
            changed.append(vm_id)
            target = _host_driver(call, conn, vm)
            if target is None:
                _move(vnet, vm_id, "updated_vms")
            else:
                _move(vnet, vm_id, "updating_vms")
                sends.append((vm_id, *target))
        if changed:
            pools.vnets.update(conn, vnet)
    for vm_id, driver, host in sends:  # after commit: the driver acts on what is stored
        _send(call, vnet_id, vm_id, driver, host)
    return changed


def resend(call: Call, vnet_id: int) -> None:
    """Send the network's OUTDATED_VMS their update again (one.vn.recover retry)."""
    sends: list[tuple[int, str, str]] = []
    with call.cloud.db.write() as conn:
        vnet = call.cloud.pools.vnets.get(conn, vnet_id)
        for vm_id in list(vnet.outdated_vms):
            vm = call.cloud.pools.vms.find(conn, vm_id)
            target = _host_driver(call, conn, vm) if vm is not None else None
            _move(vnet, vm_id, "updated_vms" if target is None else "updating_vms")
            if target is not None:
                sends.append((vm_id, *target))
        call.cloud.pools.vnets.update(conn, vnet)
    for vm_id, driver, host in sends:
        _send(call, vnet_id, vm_id, driver, host)


def _host_driver(call: Call, conn: Connection, vm) -> tuple[str, str] | None:  # noqa: ANN001
    """(driver, host name) of a VM running on a host, None for one on no host."""
    lifecycle = call.cloud.lifecycle
    if (lifecycle is None or not vm.history or vm.state != VmState.ACTIVE
            or vm.lcm_state != LcmState.RUNNING):
        return None
    host = call.cloud.pools.hosts.find(conn, vm.history[-1].hid)
    if host is None:
        return None
    return lifecycle.registry.vmm(host), host.name


def _send(call: Call, vnet_id: int, vm_id: int, driver: str, host: str) -> None:
    lifecycle = call.cloud.lifecycle
    assert lifecycle is not None
    with call.cloud.db.read() as conn:
        body = call.cloud.pools.vms.body(conn, vm_id)

    def answered(result) -> None:  # noqa: ANN001  (a DriverResult, on a driver thread)
        try:
            if not result.success:
                log.warning("network %d: %s of VM %d failed: %s", vnet_id, ACTION, vm_id,
                            result.info)
            with call.cloud.db.write() as conn:
                vnet = call.cloud.pools.vnets.find(conn, vnet_id)
                if vnet is not None and vm_id in vnet.updating_vms:
                    _move(vnet, vm_id, "updated_vms" if result.success else "error_vms")
                    if not result.success:  # one.vn.recover retries or accepts it
                        vnet_states.set_state(vnet, VNET_UPDATE_FAILURE,
                                              f"Error updating VM {vm_id}: {result.info}")
                    call.cloud.pools.vnets.update(conn, vnet)
        except Exception:  # a driver thread must not die; the VM stays UPDATING
            log.exception("network %d: recording the update of VM %d", vnet_id, vm_id)

    lifecycle.registry.submit_callback(driver, ACTION, vm_id, host, body, answered)
