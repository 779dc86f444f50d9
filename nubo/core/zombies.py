"""VMs a host runs that nubo does not place there: zombies and wilds.

A host that was cut off comes back still running the VMs nubo meanwhile
recreated elsewhere (or finished); a DEPLOY that was under way when its host
failed may succeed late, after nubo moved the VM. Such a VM runs twice. As
OpenNebula names them, a *zombie* is a VM of nubo's (it has an ID) that the host
runs but does not count (its VMS), a *wild* one nubo never created (no ID).

Both are found by host probes (nubo.core.monitor: shown in the host's TEMPLATE as
``ZOMBIES``/``TOTAL_ZOMBIES`` and ``WILDS``/``TOTAL_WILDS``, the DEPLOY_IDs
comma-separated, and logged), and zombies are destroyed there (a ``CANCEL``
through the host's VM_MAD) when ``zombie_policy`` is ``destroy``. A late
success of an operation that starts a VM on a host that no longer counts it
(nubo.core.lcm) is undone at once: nubo started that copy itself.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import Connection

from nubo.core.pool_set import Pools
from nubo.core.vm_monitor import parse_poll
from nubo.drivers import DriverManager, DriverRegistry, DriverResult
from nubo.lifecycle import DriverOp
from nubo.model.infra import Host
from nubo.model.xmlobj import escape
from nubo.template import Template

log = logging.getLogger("nubo.monitor")

POLICIES = ("report", "destroy")
#: Driver operations whose success means the VM now runs on the operation's host.
STARTS_VM = frozenset({"DEPLOY", "RESTORE"})


@dataclass(frozen=True, order=True)
class Stray:
    """A VM a probe lists that its host does not count: nubo's id (-1 for a wild one)
    and the hypervisor's name for it."""

    vm_id: int
    deploy_id: str


def strays(figures: Template, counted: set[int]) -> tuple[list[Stray], list[Stray]]:
    """(zombies, wilds) among the probe's ``VM=[ID, DEPLOY_ID, POLL]`` entries; a VM
    listed gone (POLL STATE=d, or e) is not running."""
    zombies, wilds = [], []
    for vector in figures.get_vectors("VM"):
        if parse_poll(vector.get("POLL") or "").state in ("d", "e"):
            continue
        deploy_id = vector.get("DEPLOY_ID") or ""
        try:
            vm_id = int(vector.get("ID") or "-1")
        except ValueError:
            vm_id = -1
        if vm_id < 0:
            wilds.append(Stray(-1, deploy_id or "?"))
        elif vm_id not in counted:
            zombies.append(Stray(vm_id, deploy_id or f"one-{vm_id}"))
    return sorted(zombies), sorted(wilds)


def show(host: Host, zombies: list[Stray], wilds: list[Stray]) -> bool:
    """Record them in the host's TEMPLATE (as oned's ZOMBIES / WILDS); True if that
    changed what was shown."""
    changed = False
    for name, found in (("ZOMBIES", zombies), ("WILDS", wilds)):
        text = ", ".join(s.deploy_id for s in found)
        if (host.template.get(name) or "") == text:
            continue
        changed = True
        if found:
            host.template.set(name, text)
            host.template.set(f"TOTAL_{name}", str(len(found)))
        else:
            host.template.remove(name)
            host.template.remove(f"TOTAL_{name}")
    return changed


def started_astray(conn: Connection, pools: Pools, vm_id: int, op: DriverOp,
                   result: DriverResult) -> bool:
    """A (stale) answer that left the VM running on a host that does not count it."""
    if not result.success or op.action not in STARTS_VM or op.host is None or not result.host:
        return False
    host = pools.hosts.find(conn, op.host)
    return host is None or vm_id not in host.vms


def destroy(drivers: DriverManager | DriverRegistry, driver: str, host: str, stray: Stray, why: str) -> None:
    """CANCEL the VM on that host (the payload names it by ID and DEPLOY_ID); the
    outcome is logged."""
    log.warning("host %s: destroying VM %d (%s): %s", host, stray.vm_id, stray.deploy_id, why)
    payload = (f"<VM><ID>{stray.vm_id}</ID><DEPLOY_ID>{escape(stray.deploy_id)}</DEPLOY_ID>"
               "</VM>")

    def done(result: DriverResult) -> None:
        if result.success:
            log.info("host %s: VM %d (%s) destroyed", host, stray.vm_id, stray.deploy_id)
        else:
            log.warning("host %s: destroying VM %d (%s) failed (%s): %s", host, stray.vm_id,
                        stray.deploy_id, result.origin, result.info)
    drivers.submit_callback(driver, "CANCEL", stray.vm_id, host, payload, done)
