"""The scheduler process: fetch the pools over XML-RPC, run a cycle, dispatch, repeat.

An API client only (it never touches the store), so it runs against any
OpenNebula-compatible endpoint. Each loop: PENDING VMs (``one.vmpool.infoextended``
state 1), hosts, clusters, datastores (and VM groups when a VM names one) become
records (nubo.sched.snapshot), a cycle (nubo.sched.cycle) decides, and the
decisions go out as ``one.vm.deploy`` calls (bounded concurrency), SCHED_MESSAGE
updates (``one.vm.update``, merge) and, for VMs flagged for rescheduling, live
migrations. Then it long-polls ``nubo.sched.wait`` until placement may have
changed, or the periodic interval passes (against an endpoint without that
method it just sleeps the interval).

A VM whose deploy fails (the API refuses it, or it ends in PROLOG_FAILURE /
BOOT_FAILURE) is sent back to PENDING with ``one.vm.recover`` delete-recreate and
placed again, the failed host tried last, up to ``retries`` placements.

A VM the cycle had to skip (an expression that cannot be used, or any failure while
placing it) is logged once, naming it, when it starts failing or the reason changes;
``nubo serve`` puts this log in nubo.log.
"""
from __future__ import annotations

import logging
import math
import threading
import time
import xmlrpc.client
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Any

from nubo.lifecycle.states import LcmState, VmState
from nubo.model.xmlobj import escape
from nubo.sched import snapshot
from nubo.sched.cycle import CycleResult, VmError, failure_message, run_cycle
from nubo.sched.poolcache import PoolCache
from nubo.sched.policies import HOST_POLICIES, SchedConfig
from nubo.sched.vmgroup_rules import GroupPlacements, parse_vmgroup_pool

log = logging.getLogger("nubo.sched")

# STATE/LCM_STATE numbers (nubo.lifecycle.states), as plain ints for XML-RPC arguments.
PENDING, ACTIVE = int(VmState.PENDING), int(VmState.ACTIVE)
RUNNING, BOOT_FAILURE, PROLOG_FAILURE = (int(LcmState.RUNNING), int(LcmState.BOOT_FAILURE),
                                         int(LcmState.PROLOG_FAILURE))
_FAILED = frozenset({BOOT_FAILURE, PROLOG_FAILURE})
RECOVER_DELETE_RECREATE = 4
FAULT_NO_METHOD = -506
#: Longest a wait call holds the connection (a shutting-down core waits for it).
WAKE_TIMEOUT = 2.0
#: Seconds after a burst of events before the cycle starts, to take them together.
DEBOUNCE = 0.02
INFLIGHT_CHECK = 2.0
INFLIGHT_FORGET = 600.0


class ApiFailure(Exception):
    """The endpoint answered [false, message, code, ...]."""

    def __init__(self, method: str, message: str, code: int) -> None:
        super().__init__(message)
        self.method, self.message, self.code = method, message, code


@dataclass
class Settings:
    endpoint: str
    session: str
    interval: float = 15.0
    concurrency: int = 16
    retries: int = 3
    config: SchedConfig = SchedConfig()


class Client:
    """XML-RPC calls with the session prepended; one connection per thread."""

    def __init__(self, endpoint: str, session: str) -> None:
        self.endpoint, self.session = endpoint, session
        self._local = threading.local()

    def _proxy(self) -> xmlrpc.client.ServerProxy:
        proxy = getattr(self._local, "proxy", None)
        if proxy is None:
            proxy = self._local.proxy = xmlrpc.client.ServerProxy(self.endpoint,
                                                                  allow_none=False)
        return proxy

    def call(self, method: str, *args: Any) -> Any:
        try:
            reply = getattr(self._proxy(), method)(self.session, *args)
        except (OSError, xmlrpc.client.ProtocolError):
            self._local.proxy = None  # a fresh connection next time
            raise
        if not reply[0]:
            raise ApiFailure(method, str(reply[1]), int(reply[2]) if len(reply) > 2 else 0)
        return reply[1]


class Scheduler:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.client = Client(settings.endpoint, settings.session)
        self.pool = ThreadPoolExecutor(max(1, settings.concurrency),
                                       thread_name_prefix="dispatch")
        self.stop_event = threading.Event()
        self.failed_hosts: dict[int, set[int]] = {}
        self.inflight: dict[int, tuple[int, float]] = {}  # vm -> (host, dispatched at)
        self.has_wait = True
        self.reported: dict[int, str] = {}  # VMs skipped by the last cycle, as logged
        self._last_check = 0.0
        # Unchanged VMs and hosts are not parsed again from one cycle to the next.
        self.vm_cache = PoolCache("VM", snapshot.vm_record)
        self.host_cache: PoolCache | None = None
        self._clusters: dict | None = None

    # -- the loop -----------------------------------------------------------------
    def run(self) -> None:
        """Cycle until ``stop()``; errors of one cycle are logged, the next one tries again."""
        log.info("scheduler started against %s (policy %s, interval %.0f s)",
                 self.settings.endpoint, HOST_POLICIES[self.settings.config.policy][0],
                 self.settings.interval)
        stamp = self._wait(-1, 0)
        next_full = 0.0
        while not self.stop_event.is_set():
            full = time.monotonic() >= next_full
            began = time.monotonic()
            busy = False
            try:
                busy = self.cycle(full=full) is not None
                self.check_inflight()
            except (OSError, xmlrpc.client.Error, ApiFailure) as e:
                log.warning("scheduling cycle failed: %s", e)
                self.stop_event.wait(1.0)
            except Exception:
                log.exception("scheduling cycle failed")
                self.stop_event.wait(1.0)
            if full:
                next_full = time.monotonic() + self.settings.interval
            # Events right after a long cycle that had VMs to place wait as long as it took
            # (at most 1 s): a busy cloud's scheduler takes at most about half the API's time.
            pause = max(DEBOUNCE, min(time.monotonic() - began, 1.0)) if busy else DEBOUNCE
            while not self.stop_event.is_set():
                left = next_full - time.monotonic()
                if left <= 0:
                    break
                timeout = min(left, WAKE_TIMEOUT, INFLIGHT_CHECK if self.inflight else left)
                new = self._wait(stamp, timeout)
                if new != stamp:
                    stamp = new
                    self.stop_event.wait(pause)
                    break
                if self.inflight:
                    self._check_logged()  # at most every INFLIGHT_CHECK seconds
        self.pool.shutdown(wait=True)
        log.info("scheduler stopped")

    def stop(self) -> None:
        self.stop_event.set()

    def _check_logged(self) -> None:
        try:
            self.check_inflight()
        except (OSError, xmlrpc.client.Error, ApiFailure) as e:
            log.warning("checking dispatched VMs failed: %s", e)

    def _wait(self, stamp: int, timeout: float) -> int:
        """nubo.sched.wait, or a plain sleep against endpoints without it."""
        if self.has_wait:
            try:
                seconds = max(0, min(30, math.ceil(timeout)))
                return int(self.client.call("nubo.sched.wait", stamp, seconds))
            except xmlrpc.client.Fault as f:  # -506 from oned (xmlrpc-c) and nubo
                log.info("the endpoint has no nubo.sched.wait (%s): periodic cycles only",
                         f.faultString)
                self.has_wait = False
            except (OSError, xmlrpc.client.Error, ApiFailure) as e:
                log.warning("waiting for changes failed: %s", e)
        self.stop_event.wait(timeout)
        return stamp

    # -- one cycle ----------------------------------------------------------------
    def cycle(self, full: bool = True) -> CycleResult | None:
        """Fetch, decide, dispatch. ``full`` also looks for VMs flagged for rescheduling."""
        started = time.perf_counter()
        call = self.client.call
        vms = snapshot.with_failed(
            self.vm_cache.records(call("one.vmpool.infoextended", -2, -1, -1, PENDING)),
            self.failed_hosts)
        resched = self._flagged() if full else []
        if full:  # forget the failed hosts of VMs that are neither pending nor watched
            keep = {v.id for v in vms} | set(self.inflight)
            self.failed_hosts = {k: v for k, v in self.failed_hosts.items() if k in keep}
        if not vms and not resched:
            if full:
                self._hosts()  # keeps the host records warm for the next VM
            return None
        hosts = self._hosts()
        datastores = snapshot.parse_datastores(call("one.datastorepool.info", -2, -1, -1))
        groups = self._groups(vms + resched)
        fetched = time.perf_counter()
        result = run_cycle(hosts, datastores, vms, self.settings.config, groups, resched)
        decided = time.perf_counter()
        self.report(result)
        self.dispatch(result, {v.id: v for v in vms})
        log.info("cycle: %d pending, %d hosts, %d groups: %d dispatched, %d left with a "
                 "message, %d migrations (fetch %.0f ms, decide %.0f ms, dispatch %.0f ms)",
                 len(vms), len(hosts), result.groups, len(result.placements),
                 len(result.messages), len(result.migrations), (fetched - started) * 1000,
                 (decided - fetched) * 1000, (time.perf_counter() - decided) * 1000)
        return result

    def _hosts(self) -> list:
        clusters = snapshot.cluster_templates(self.client.call("one.clusterpool.info"))
        if self.host_cache is None or clusters != self._clusters:
            self.host_cache = PoolCache("HOST", partial(snapshot.host_record, clusters=clusters),
                                        copy=True)
            self._clusters = clusters
        return sorted(self.host_cache.records(self.client.call("one.hostpool.info")),
                      key=lambda h: h.id)

    def _flagged(self) -> list:
        """RUNNING VMs flagged for rescheduling (short listing, then their full bodies)."""
        states = snapshot.vm_states(self.client.call("one.vmpool.info", -2, -1, -1, ACTIVE))
        ids = [str(v.id) for v in states if v.lcm_state == RUNNING and v.resched]
        if not ids:
            return []
        return snapshot.parse_vms(self.client.call("one.vmpool.infoset", ",".join(ids), True))

    def _groups(self, vms: list) -> GroupPlacements | None:
        if not any(v.vmgroup for v in vms):
            return None
        try:
            groups = parse_vmgroup_pool(self.client.call("one.vmgrouppool.info", -2, -1, -1))
        except xmlrpc.client.Fault as f:
            if f.faultCode != FAULT_NO_METHOD:
                raise
            return None  # no VM groups on this endpoint: their rules are not known
        hosts = snapshot.vm_hosts(self.client.call("one.vmpool.info", -2, -1, -1, -1))
        return GroupPlacements.of(groups, hosts)

    def report(self, result: CycleResult) -> None:
        """Log the VMs the cycle skipped, each once while its reason stays the same."""
        reported = {}
        for vm_id, error in result.failures.items():
            why = reported[vm_id] = failure_message(error)
            if self.reported.get(vm_id) == why:
                continue
            if isinstance(error, VmError):
                log.warning("VM %d: skipped by the scheduler: %s", vm_id, why)
            else:
                log.error("VM %d: skipped by the scheduler: %s", vm_id, why, exc_info=error)
        self.reported = reported

    def dispatch(self, result: CycleResult, vms: dict[int, Any]) -> None:
        futures = [self.pool.submit(self._deploy, p.vm_id, p.host_id, p.ds_id)
                   for p in result.placements]
        futures += [self.pool.submit(self._migrate, *m) for m in result.migrations]
        for vm_id, message in result.messages.items():
            vm = vms.get(vm_id)
            if vm is not None and not vm.sched_message.endswith(f" : {message}"):
                futures.append(self.pool.submit(self._message, vm_id, message))
        for f in futures:
            f.result()

    def _deploy(self, vm_id: int, host_id: int, ds_id: int) -> None:
        try:
            self.client.call("one.vm.deploy", vm_id, host_id, False, ds_id)
        except (ApiFailure, OSError, xmlrpc.client.Error) as e:
            log.warning("VM %d: deploy on host %d failed: %s", vm_id, host_id, e)
            self.failed_hosts.setdefault(vm_id, set()).add(host_id)
            return
        log.debug("VM %d: deployed on host %d, datastore %d", vm_id, host_id, ds_id)
        self.inflight[vm_id] = (host_id, time.monotonic())

    def _migrate(self, vm_id: int, source: int, target: int, ds_id: int) -> None:
        try:
            self.client.call("one.vm.migrate", vm_id, target, True, False, ds_id)
            log.info("VM %d: rescheduled from host %d to host %d", vm_id, source, target)
        except (ApiFailure, OSError, xmlrpc.client.Error) as e:
            log.warning("VM %d: migration to host %d failed: %s", vm_id, target, e)

    def _message(self, vm_id: int, message: str) -> None:
        text = f"{time.ctime()} : {message}"
        try:
            self.client.call("one.vm.update", vm_id,
                             f"<TEMPLATE><SCHED_MESSAGE>{escape(text)}</SCHED_MESSAGE></TEMPLATE>",
                             1)
            log.info("VM %d stays PENDING: %s", vm_id, message)
        except (ApiFailure, OSError, xmlrpc.client.Error) as e:
            log.warning("VM %d: SCHED_MESSAGE not written: %s", vm_id, e)

    # -- deploys that failed after the call ----------------------------------------
    def check_inflight(self) -> None:
        """Dispatched VMs that reached RUNNING are forgotten; those that failed in
        PROLOG/BOOT go back to PENDING (delete-recreate) while retries are left."""
        now = time.monotonic()
        if not self.inflight or now - self._last_check < INFLIGHT_CHECK:
            return
        self._last_check = now
        oldest = sorted(self.inflight, key=lambda v: self.inflight[v][1])[:2000]
        xml = self.client.call("one.vmpool.infoset", ",".join(map(str, oldest)), False)
        seen = set()
        for vm in snapshot.vm_states(xml):
            if vm.id not in self.inflight:
                continue
            seen.add(vm.id)
            host_id, since = self.inflight[vm.id]
            if vm.state == ACTIVE and vm.lcm_state in _FAILED:
                self.inflight.pop(vm.id)
                self._retry(vm.id, host_id, vm.placements)
            elif vm.state != ACTIVE or vm.lcm_state == RUNNING or now - since > INFLIGHT_FORGET:
                self.inflight.pop(vm.id)
        for vm_id in set(oldest) - seen:  # gone
            self.inflight.pop(vm_id, None)

    def _retry(self, vm_id: int, host_id: int, placements: int) -> None:
        self.failed_hosts.setdefault(vm_id, set()).add(host_id)
        if placements >= self.settings.retries:
            log.warning("VM %d: deploy failed on host %d; %d placements tried, left as it is",
                        vm_id, host_id, placements)
            return
        try:
            self.client.call("one.vm.recover", vm_id, RECOVER_DELETE_RECREATE)
            log.info("VM %d: deploy failed on host %d; back to PENDING to try another host",
                     vm_id, host_id)
        except (ApiFailure, OSError, xmlrpc.client.Error) as e:
            log.warning("VM %d: could not send it back to PENDING: %s", vm_id, e)
