"""What a host probe says about the host and its VMs: monitoring records and VM events.

A host's ``MONITOR`` answer lists the VMs running on it (``VM=[ID, DEPLOY_ID, POLL]``,
POLL being OpenNebula's poll string ``STATE=a CPU=.. MEMORY=.. NETRX=.. NETTX=..``).
Compared with the VMs the host counts (its ``VMS``), as read when the probe was
sent, it gives each VM's life-cycle event (nubo.lifecycle.on_event):

* a RUNNING or UNKNOWN VM not listed (or listed with STATE=d): ``vm-poweroff``
  (POWEROFF), as oned 6's MISSING_STATE default: shut down or destroyed outside nubo;
* a RUNNING VM listed with STATE=e (the hypervisor's FAILURE): ``vm-missing`` (UNKNOWN);
* a RUNNING or UNKNOWN VM listed paused (STATE=p/s): ``vm-suspended``;
* an UNKNOWN VM listed running: ``vm-running`` (back to RUNNING); a POWEROFF or
  SUSPENDED one too, once ``POWERON_GRACE`` seconds passed since it stopped;
* every RUNNING VM of a host whose probe failed: ``host-error`` (UNKNOWN).

Each VM is acted on through the life-cycle manager (its lock, commit before
send), and only if it did not change since the probe was sent: a report older
than the VM's last transition says nothing about it.

Records: every probe stores a host record and one per listed VM (tables
``host_monitoring`` / ``vm_monitoring``, the ``<MONITORING>`` element of
OpenNebula's monitoring_data.xsd), and each listed VM's MONITORING and LAST_POLL
beside it (nubo.store.last_poll: joined in when the VM is read, so a round writes no
VM body and moves no VM's version); records older than ``monitoring_expiration``
seconds are pruned.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from xml.sax.saxutils import escape

from sqlalchemy import Connection, delete, insert, select

from nubo.lifecycle import LcmState, VmState
from nubo.model import xmlobj
from nubo.model.limits import figure
from nubo.model.vm import VirtualMachine
from nubo.store import last_poll
from nubo.store.schema import host_monitoring, vm_monitoring, vm_pool
from nubo.template import Template

log = logging.getLogger("nubo.monitor")

#: Seconds a VM powered off (or suspended) by nubo must stay so before monitoring
#: may declare it running again (a probe sent before its shutdown would otherwise
#: bring it back), as OpenNebula's grace.
POWERON_GRACE = 30

_RUNNING = (VmState.ACTIVE, LcmState.RUNNING)
_UNKNOWN = (VmState.ACTIVE, LcmState.UNKNOWN)


@dataclass(frozen=True)
class Watched:
    """A VM the host counted when the probe was sent: its row version and state."""

    vm_id: int
    version: int
    state: int
    lcm_state: int
    stopped_at: int  # RETIME of its current record (when it stopped running), 0 if none


def watched_vms(conn: Connection, vm_ids: list[int]) -> list[Watched]:
    """The VMs ``vm_ids`` (a host's VMS) as they are now, read before the probe is sent."""
    if not vm_ids:
        return []
    rows = conn.execute(select(vm_pool.c.oid, vm_pool.c.version, vm_pool.c.state,
                               vm_pool.c.lcm_state, vm_pool.c.body)
                        .where(vm_pool.c.oid.in_(vm_ids))).all()
    out = []
    for r in rows:
        stopped_at = 0
        if r.state in (VmState.POWEROFF, VmState.SUSPENDED):
            vm = xmlobj.parse(VirtualMachine, r.body)
            stopped_at = vm.history[-1].retime if vm.history else 0
        out.append(Watched(r.oid, r.version, r.state, r.lcm_state, stopped_at))
    return out


@dataclass(frozen=True)
class Poll:
    """One VM as a probe reports it."""

    state: str  # a (active), p/s (paused, suspended), e (error), d (gone)
    figures: dict[str, str]


def parse_poll(text: str) -> Poll:
    figures = dict(part.split("=", 1) for part in text.split() if "=" in part)
    return Poll(figures.pop("STATE", "a").lower(), figures)


def listed_vms(figures: Template) -> dict[int, Poll]:
    """The probe's ``VM=[ID, DEPLOY_ID, POLL]`` entries by VM id."""
    out: dict[int, Poll] = {}
    for vector in figures.get_all("VM"):
        try:
            vm_id = int(str(vector.get("ID")))
        except (TypeError, ValueError, AttributeError):
            continue
        out[vm_id] = parse_poll(str(vector.get("POLL") or ""))
    return out


def event_for(vm: Watched, poll: Poll | None, now: int) -> str | None:
    """The life-cycle event a probe's report means for ``vm`` (None: nothing)."""
    pair = (vm.state, vm.lcm_state)
    if poll is None or poll.state == "d":
        return "vm-poweroff" if pair in (_RUNNING, _UNKNOWN) else None
    if poll.state == "e":
        return "vm-missing" if pair == _RUNNING else None
    if poll.state in ("p", "s"):
        return "vm-suspended" if pair in (_RUNNING, _UNKNOWN) else None
    if pair == _UNKNOWN:
        return "vm-running"
    if vm.state in (VmState.POWEROFF, VmState.SUSPENDED):
        return "vm-running" if now - vm.stopped_at >= POWERON_GRACE else None
    return None


def host_error_event(vm: Watched) -> str | None:
    return "host-error" if (vm.state, vm.lcm_state) == _RUNNING else None


# ---------------------------------------------------------------------------- records

def _number(value: object) -> str | None:
    try:
        number = float(str(value))
    except (TypeError, ValueError):
        return None
    if not math.isfinite(number):
        return None
    return str(int(number)) if number == int(number) else str(number)


def monitoring_xml(oid: int, timestamp: int, cpu: object, memory: object, netrx: object,
                   nettx: object) -> str:
    """A ``<MONITORING>`` element, in monitoring_data.xsd's (and vm.xsd's) order."""
    parts = ["<MONITORING>"]
    for name, value in (("CPU", cpu), ("ID", oid), ("MEMORY", memory), ("NETRX", netrx),
                        ("NETTX", nettx), ("TIMESTAMP", timestamp)):
        text = _number(value)
        if text is not None:
            if name != "CPU":
                text = str(figure(text))
            parts.append(f"<{name}>{escape(text)}</{name}>")
    parts.append("</MONITORING>")
    return "".join(parts)


def vm_record(vm_id: int, poll: Poll, now: int) -> str:
    f = poll.figures
    return monitoring_xml(vm_id, now, f.get("CPU"), f.get("MEMORY"), f.get("NETRX", 0),
                          f.get("NETTX", 0))


def host_record(host_id: int, figures: Template, now: int) -> str:
    """The host's usage: CPU (USEDCPU, 100 per core), MEMORY (USEDMEMORY, KB), NETRX/TX.
    Its capacity is in the host's HOST_SHARE (monitoring_data.xsd has no element for it)."""
    return monitoring_xml(host_id, now, figures.get("USEDCPU"), figures.get("USEDMEMORY"),
                          figures.get("NETRX") or 0, figures.get("NETTX") or 0)


def store_record(conn: Connection, table, oid: int, when: int, body: str) -> None:
    """Insert (or replace: two probes within a second) one record."""
    key, time_col = ((table.c.hid, table.c.last_mon_time) if table is host_monitoring
                     else (table.c.vmid, table.c.last_poll))
    conn.execute(delete(table).where(key == oid, time_col == when))
    conn.execute(insert(table).values({key.name: oid, time_col.name: when, "body": body}))


def store_vm_records(conn: Connection, records: dict[int, str], when: int) -> None:
    """A probe's VM records (``{vm id: <MONITORING>}``), and each VM's last poll: a few
    statements per host, whatever its number of VMs."""
    if not records:
        return
    ids = sorted(records)
    for start in range(0, len(ids), last_poll.CHUNK):
        conn.execute(delete(vm_monitoring).where(
            vm_monitoring.c.vmid.in_(ids[start:start + last_poll.CHUNK]),
            vm_monitoring.c.last_poll == when))
    conn.execute(insert(vm_monitoring), [{"vmid": vm_id, "last_poll": when,
                                          "body": records[vm_id]} for vm_id in ids])
    last_poll.record(conn, {vm_id: (when, records[vm_id]) for vm_id in ids})


def prune(conn: Connection, now: int, window: int) -> None:
    """Forget the records older than ``window`` seconds."""
    oldest = now - window
    conn.execute(delete(host_monitoring).where(host_monitoring.c.last_mon_time < oldest))
    conn.execute(delete(vm_monitoring).where(vm_monitoring.c.last_poll < oldest))
