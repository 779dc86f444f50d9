"""Host monitoring: probe every host through its information driver (IM_MAD).

Every ``interval`` seconds (plus up to 10 % jitter, so that many cores or a
restart do not probe in lock-step) each host that is not OFFLINE is sent
``MONITOR`` with its body as payload. A DISABLED host is probed too, as oned
does, and stays DISABLED: its VMs are still watched (a host disabled by the
fault-tolerance hook that comes back is where zombies run). A success makes it
MONITORED and records its capacity (HOST_SHARE TOTAL CPU and memory, and MAX after
the reservations: nubo.model.host_capacity) and the
probe's figures in its TEMPLATE (setting it offline forgets the capacity ones, see
nubo.core.ops.hosts); ``host_error_probes`` failures in a row make it ERROR with
the driver's message in TEMPLATE/ERROR (fewer are only logged: one lost probe is
no host failure). VMs a probe lists that the host does not count are zombies or
wilds (nubo.core.zombies): shown on the host and, by ``zombie_policy``, destroyed.

What a probe says about the host's VMs (a VM gone or powered off outside nubo,
found running again; every VM of a host in ERROR) goes through the life-cycle
manager as monitoring events, and every probe leaves monitoring records: see
nubo.core.vm_monitor.
"""
from __future__ import annotations

import logging
import random
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

from sqlalchemy import Connection, select

from nubo.core import datastore_capacity, sched_events
from nubo.core import vm_monitor as vmm
from nubo.core import zombies
from nubo.core.cloud import Cloud
from nubo.drivers import DriverManager, DriverRegistry, DriverResult
from nubo.hooks import events as hook_events
from nubo.model import xmlobj
from nubo.model.limits import figure
from nubo.model.host_capacity import host_capacity
from nubo.model.infra import (HOST_DISABLED, HOST_ERROR, HOST_MONITORED, HOST_OFFLINE, Cluster,
                              Datastore, Host)
from nubo.model.xmlobj import RawXml
from nubo.store.schema import cluster_pool, host_monitoring, host_pool
from nubo.template import Template, TemplateSyntaxError, parse

log = logging.getLogger("nubo.monitor")

#: Probe figures kept in the host's TEMPLATE (what one.host.status(offline) removes).
PROBED = ("HYPERVISOR", "CPUSPEED", "TOTALCPU", "TOTALMEMORY", "FREECPU", "FREEMEMORY",
          "USEDCPU", "USEDMEMORY", "NETRX", "NETTX",
          # what a real host's probe adds (nubo.drivers.kvm.probe), as oned keeps them:
          # for REQUIREMENTS (ARCH, MODELNAME...) and whether guests may use KVM
          "HOSTNAME", "ARCH", "MODELNAME", "KVM_USABLE", "KVM_REASON")


class HostMonitor:
    """A thread that probes the hosts on an interval; ``probe_all`` runs one round."""

    def __init__(self, cloud: Cloud, drivers: DriverManager | DriverRegistry, interval: float,
                 expiration: int | None = None) -> None:
        self.cloud = cloud
        self.drivers = DriverRegistry.of(drivers, cloud.config)
        self.interval = interval
        self.expiration = (expiration if expiration is not None
                           else getattr(cloud.config, "monitoring_expiration", 43200))
        self.error_probes = max(1, getattr(cloud.config, "host_error_probes", 3))
        self.zombie_policy = getattr(cloud.config, "zombie_policy", "destroy")
        # By host id, changed under the store's write lock (in _record): failed probes in
        # a row, and the zombies the last probe saw (destroyed when seen twice in a row).
        self._failures: dict[int, int] = {}
        self._zombies: dict[int, set[int]] = {}
        self._clusters: dict[int, tuple[int, Cluster]] = {}  # by id: (row version, cluster)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="host-monitor", daemon=True)
        self._answers = ThreadPoolExecutor(2, thread_name_prefix="monitor")

    def start(self) -> None:
        if self.interval > 0:
            self._thread.start()

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(5)
        self._answers.shutdown(wait=True)

    def _run(self) -> None:
        # The first round right away (a restarted core learns its hosts' state at once),
        # then one every interval.
        delay = 0.0
        while not self._stop.wait(delay):
            try:
                self.probe_all()
            except Exception:
                log.exception("host monitoring round failed")
            delay = self.interval * (1 + random.uniform(0, 0.1))

    def probe_all(self) -> int:
        """Send MONITOR to every host that is not offline, and to every datastore;
        returns how many hosts."""
        count = self._probe(host_pool.c.state != HOST_OFFLINE)
        self._probe_datastores()
        if self.expiration > 0:
            with self.cloud.db.write() as conn:
                vmm.prune(conn, self.cloud.now(), self.expiration)
        return count

    def probe(self, host_id: int) -> int:
        """Probe one host now (just created or enabled), outside the rounds."""
        return self._probe((host_pool.c.oid == host_id) & (host_pool.c.state != HOST_OFFLINE))

    def _probe(self, where) -> int:  # noqa: ANN001 - a SQLAlchemy clause
        """MONITOR the hosts ``where`` selects. The VMs each host counts are read with it
        (their row versions), so the answer is compared with the VMs as they were."""
        with self.cloud.db.read() as conn:
            rows = conn.execute(select(host_pool.c.body).where(where)).all()
            hosts = [xmlobj.parse(Host, r.body) for r in rows]
            watched = {h.id: vmm.watched_vms(conn, list(h.vms)) for h in hosts}
        for host in hosts:
            self.drivers.submit_callback(
                self.drivers.im(host), "MONITOR", host.id, host.name,
                xmlobj.render(host, "HOST"),
                lambda result, w=watched[host.id]: self._hand_over(result, w))
        return len(hosts)

    def _probe_datastores(self) -> None:
        """MONITOR each datastore through its datastore driver (DS_MAD's, by the
        registry): its USED/TOTAL/FREE_MB (what the scheduler checks a system
        datastore's room against)."""
        with self.cloud.db.read() as conn:
            stores = [xmlobj.parse(Datastore, body)
                      for body in self.cloud.pools.datastores.bodies(conn)]
        for ds in stores:
            driver = self.drivers.ds(ds.ds_mad)
            if not driver:
                continue
            self.drivers.submit_callback(
                driver, "MONITOR", ds.id, None, xmlobj.render(ds, "DATASTORE"),
                lambda result: self._on_worker(
                    lambda: self._record_datastore(result), f"datastore {result.oid}"))

    def _on_worker(self, work: Callable[[], None], what: str) -> None:
        """Run ``work`` on a monitor worker (driver threads must not block), logging what
        it raises (an exception in a Future would vanish); while the database is out of
        reach, once it is back."""
        def logged() -> None:
            try:
                self.cloud.db.retrying(work, f"{what}: its probe")
            except Exception:
                log.exception("%s: recording its probe failed", what)
        try:
            self._answers.submit(logged)
        except RuntimeError:  # shutting down
            pass

    def _record_datastore(self, result: DriverResult) -> None:
        """Store a datastore probe's figures (a failure is logged; the old ones stay)."""
        figures, why = probe_figures(result)
        numbers = None if figures is None else datastore_capacity.read_figures(figures)
        if numbers is None:
            log.warning("datastore %d: monitoring failed: %s", result.oid,
                        why or "its figures are not numbers")
            return
        datastore_capacity.store_figures(self.cloud, result.oid, numbers)

    def _hand_over(self, result: DriverResult, watched: list[vmm.Watched]) -> None:
        self._on_worker(lambda: self._record(result, watched), f"host {result.host}")

    def _record(self, result: DriverResult, watched: list[vmm.Watched] | None = None) -> None:
        """Store one probe's outcome (on a worker: driver threads must not block), then
        act on what it says about the host's VMs."""
        figures, why = probe_figures(result)
        now = self.cloud.now()
        vm_records: dict[int, str] = {}
        doomed: list[zombies.Stray] = []
        with self.cloud.db.write() as conn:
            host = self.cloud.pools.hosts.find(conn, result.oid)
            if host is None or host.state == HOST_OFFLINE:
                return  # deleted or set offline while the probe ran
            disabled = host.state == HOST_DISABLED
            if figures is None:
                if disabled:  # stays DISABLED; its failures start again from 0 once enabled
                    self._failures.pop(host.id, None)
                    return
                if not self._failed_enough(host, why):
                    return
                if host.state != HOST_ERROR:
                    log.warning("host %s: monitoring failed: %s", host.name, why)
                host.template.set("ERROR", f"MONITOR: {why}")
                new_state = HOST_ERROR
            else:
                _apply_figures(host, figures, self._cluster(conn, host.cluster_id))
                host.monitoring = RawXml(last_monitoring(host.id, figures, now))
                host.template.remove("ERROR")
                new_state = HOST_DISABLED if disabled else HOST_MONITORED
                vmm.store_record(conn, host_monitoring, host.id, now,
                                 vmm.host_record(host.id, figures, now))
                vm_records = _vm_records(figures, watched or [], now)
                vmm.store_vm_records(conn, vm_records, now)
                doomed = self._strays(host, figures, watched or [])
            if host.state != new_state:
                host.prev_state = host.state
                host.state = new_state
                hook_events.host_committed(conn, host)  # state hooks run once this commits
                sched_events.note(conn, new_state == HOST_MONITORED)  # wake the scheduler
            self.cloud.pools.hosts.update(conn, host)
        self._vm_events(figures, watched or [], now)
        for stray in doomed:
            zombies.destroy(self.drivers, self.drivers.vmm(host), host.name, stray,
                            "a zombie: nubo placed it elsewhere or finished it")

    def _cluster(self, conn: Connection, cid: int) -> Cluster | None:
        """A host's cluster (its RESERVED_CPU/MEM), parsed again only when it changed: a
        round asks for it once per host."""
        version = conn.execute(select(cluster_pool.c.version)
                               .where(cluster_pool.c.oid == cid)).scalar()
        if version is None:
            return None
        known = self._clusters.get(cid)
        if known is None or known[0] != version:
            cluster = self.cloud.pools.clusters.find(conn, cid)
            if cluster is None:
                return None
            known = self._clusters[cid] = (version, cluster)
        return known[1]

    def _failed_enough(self, host: Host, why: str) -> bool:
        """Count a failed probe: True once the host is to be (or already is) in ERROR."""
        failures = self._failures[host.id] = self._failures.get(host.id, 0) + 1
        if host.state == HOST_ERROR or failures >= self.error_probes:
            return True
        log.warning("host %s: monitoring failed (%d of %d in a row before ERROR): %s",
                    host.name, failures, self.error_probes, why)
        return False

    def _strays(self, host: Host, figures: Template,
                watched: list[vmm.Watched]) -> list[zombies.Stray]:
        """Show the zombies and wilds of a successful probe on the host; the zombies to
        destroy (policy ``destroy``, seen by the previous probe too: a VM that moved
        while a probe ran is not taken for one)."""
        self._failures.pop(host.id, None)
        counted = set(host.vms) | {vm.vm_id for vm in watched}
        found, wilds = zombies.strays(figures, counted)
        if zombies.show(host, found, wilds) and (found or wilds):
            log.warning("host %s runs VMs nubo does not place there: zombies [%s], wilds [%s]",
                        host.name, ", ".join(f"{z.vm_id} ({z.deploy_id})" for z in found),
                        ", ".join(w.deploy_id for w in wilds))
        before = self._zombies.get(host.id, set())
        self._zombies[host.id] = {z.vm_id for z in found}
        if self.zombie_policy != "destroy":
            return []
        return [z for z in found if z.vm_id in before]

    def _vm_events(self, figures: Template | None, watched: list[vmm.Watched],
                   now: int) -> None:
        """The event the probe means for each VM the host counted, if any (through the
        life-cycle manager, one VM at a time under its lock). Their MONITORING is
        already stored, beside the VMs (vmm.store_vm_records)."""
        lcm = getattr(self.cloud, "lifecycle", None)
        if lcm is None:
            return
        listed = vmm.listed_vms(figures) if figures is not None else {}
        for vm in watched:
            if figures is None:
                event = vmm.host_error_event(vm)
            else:
                event = vmm.event_for(vm, listed.get(vm.vm_id), now)
            if event is None:
                continue
            try:
                lcm.monitored(vm.vm_id, version=vm.version, event=event)
            except Exception:
                log.exception("VM %d: acting on its host's probe failed", vm.vm_id)


def probe_figures(result: DriverResult) -> tuple[Template | None, str]:
    """A probe's figures, or None and why there are none (the driver's failure, or
    monitoring data that does not parse)."""
    if not result.success:
        return None, result.info or result.origin
    try:
        return parse(result.info_bytes().decode()), ""
    except (ValueError, UnicodeDecodeError, TemplateSyntaxError) as e:
        return None, f"unreadable monitoring data: {e}"


def _figure(figures: Template, name: str) -> int:
    """A probe's number (0 when missing or not a number)."""
    try:
        return figure(figures.get(name) or 0)
    except (TypeError, ValueError):
        return 0


def last_monitoring(host_id: int, figures: Template, now: int) -> str:
    """The host body's MONITORING (host.xsd): the last probe's time and figures, as
    oned shows them in one.host.info (CPU in hundredths of a core, memory in KB)."""
    def number(name: str) -> int:
        return _figure(figures, name)
    return (f"<MONITORING><TIMESTAMP>{now}</TIMESTAMP><ID>{host_id}</ID><CAPACITY>"
            f"<FREE_CPU>{number('FREECPU')}</FREE_CPU>"
            f"<FREE_MEMORY>{number('FREEMEMORY')}</FREE_MEMORY>"
            f"<USED_CPU>{number('USEDCPU')}</USED_CPU>"
            f"<USED_MEMORY>{number('USEDMEMORY')}</USED_MEMORY></CAPACITY>"
            f"<SYSTEM><NETRX>{number('NETRX')}</NETRX><NETTX>{number('NETTX')}</NETTX>"
            "</SYSTEM></MONITORING>")


def _vm_records(figures: Template, watched: list[vmm.Watched], now: int) -> dict[int, str]:
    """The records of the host's VMs the probe lists as present."""
    listed = vmm.listed_vms(figures)
    out = {}
    for vm in watched:
        poll = listed.get(vm.vm_id)
        if poll is not None and poll.state not in ("d", "e"):
            out[vm.vm_id] = vmm.vm_record(vm.vm_id, poll, now)
    return out


def _apply_figures(host: Host, figures: Template, cluster: Cluster | None) -> None:
    """Capacity into HOST_SHARE (MAX after the host's or its cluster's reservations), the
    probe's figures into TEMPLATE."""
    share = host.host_share
    share.total_cpu = _figure(figures, "TOTALCPU")
    share.total_mem = _figure(figures, "TOTALMEMORY")
    for name in PROBED:
        value = figures.get(name)
        if value is not None:
            host.template.set(name, str(value))
    share.max_cpu, share.max_mem = host_capacity(host, cluster)
