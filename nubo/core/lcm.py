"""The life-cycle manager: moves VMs through the state machine and the drivers.

For an action (from the API) or a driver's answer it loads the VM, asks the pure
machine (nubo.lifecycle) for a decision, COMMITS the decision -- state, history,
host usage and the operation the VM now awaits (nubo.core.journal) -- and
only then sends the decision's driver operations. A crash between the two leaves
a VM whose awaited operation says what to reconcile; never an operation that ran
for a state nobody stored.

Actions on one VM are serialised by a per-VM lock (striped: a fixed array of
locks indexed by VM id, so no lock table grows or needs cleaning) held from the
load to the last submit, so a VM's operations leave in the order its decisions
were committed; different VMs proceed in parallel. Driver answers arrive on the
driver manager's threads, which must not block, so they are handed to a small
worker pool.

A driver's answer or a monitoring report that cannot be committed because the
database is out of reach is committed once it is back (nubo.store.outage): the
worker waits, the VM's other answers wait behind it. A commit cut short may have
happened without the core knowing, leaving a VM awaiting an operation nobody sent;
so once the database is back, as at start-up, every VM whose awaited operation is
not in flight is asked about again (``reconcile``).
"""
from __future__ import annotations

import logging
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, replace
from typing import Any, Callable

from sqlalchemy import Connection, select

from nubo.core import journal, transfer_payload, zombies
from nubo.core.cloud import Cloud
from nubo.core.vm_commit import Awaited, Loaded, commit, load
from nubo.drivers import DriverManager, DriverRegistry, DriverResult, capabilities
from nubo.errors import ActionError, NoExistsError
from nubo.lifecycle import (Decision, DriverOp, LcmState, VmState, decide, on_event,
                            on_outcome)
from nubo.model import xmlobj
from nubo.store.outage import DatabaseUnavailable
from nubo.store.schema import vm_pool

log = logging.getLogger("nubo.lcm")

_STRIPES = 64
#: Sent by OpenNebula to abort a driver's pending action; nubo's driver manager
#: times actions out itself and drops late answers (docs/drivers.md), so it is skipped.
_NOT_SENT = frozenset({"DRIVER_CANCEL"})
#: The answers whose INFO is the hypervisor's name for the VM (its DEPLOY_ID).
_GIVES_DEPLOY_ID = frozenset({"DEPLOY", "RESTORE"})
#: VMs asked about again in one transaction by ``reconcile`` (one commit, not one each).
RECONCILE_BATCH = 50


@dataclass(frozen=True)
class Outbound:
    """A committed operation ready to send: where, what, and the answer's ``seq``
    (None for an operation whose answer is only logged)."""

    vm_id: int
    driver: str
    op: DriverOp
    host: str | None
    payload: str
    seq: int | None


class LifeCycleManager:
    """Runs user actions and driver answers through the machine, one VM at a time."""

    def __init__(self, cloud: Cloud, drivers: DriverManager | DriverRegistry | None,
                 workers: int = 4) -> None:
        self.cloud = cloud
        self.registry = DriverRegistry.of(drivers, cloud.config)
        self.drivers = self.registry.manager
        self._locks = [threading.Lock() for _ in range(_STRIPES)]
        self._answers = ThreadPoolExecutor(workers, thread_name_prefix="lcm")
        self._seq_lock = threading.Lock()
        self._last_seq = 0
        self._closing = False
        self._frontend = cloud.config.frontend_name or socket.gethostname()
        # (VM id, seq) of the awaited operations sent and not yet answered (or whose
        # answer waits for the database): the ones reconcile must not ask again.
        self._in_flight: set[tuple[int, int]] = set()
        self._in_flight_lock = threading.Lock()
        self._reconcile_lock = threading.Lock()
        self._reconcile_again = False
        self._reconciler: threading.Thread | None = None
        cloud.db.outage.on_back(self._after_outage)

    # -- entry points ----------------------------------------------------------------
    def act(self, vm_id: int, action: str, *, ds_id: int = 0, tm_mad: str = "",
            uid: int = -1, gid: int = -1,
            prepare: Callable[[Connection, Loaded, Decision], None] | None = None,
            **params: Any) -> Decision:
        """Do ``action`` to the VM (the machine's name: deploy, poweroff-hard, ...).

        Raises the machine's refusal (ActionError naming the state) and changes
        nothing if the VM's state forbids it. ``ds_id``/``tm_mad`` are the system
        datastore of a new placement, ``uid``/``gid`` the requester (history).
        ``prepare``, if given, edits the loaded VM (and whatever else it needs) in the
        committing transaction, after the machine accepted the action and before the
        decision is committed (resize, hotplug); raising from it changes nothing.
        """
        with self._locks[vm_id % _STRIPES]:
            with self.cloud.db.write() as conn:
                loaded = load(conn, self.cloud.pools, vm_id)
                decision = decide(loaded.view, action, **params)
                self._check_able(loaded, action, decision)
                if prepare is not None:
                    prepare(conn, loaded, decision)
                outbound = self._commit(conn, loaded, decision, ds_id=ds_id, tm_mad=tm_mad,
                                        uid=uid, gid=gid)
            log.info("VM %d: %s -> %s", vm_id, action, _pair(decision))
            self._send(outbound)
        return decision

    def _check_able(self, loaded: Loaded, action: str, decision: Decision) -> None:
        """Refuse, before anything changes, an action the driver of the VM's host has
        not declared it can do (nubo.drivers.capabilities)."""
        vm = loaded.vm
        if not vm.history:
            return
        record = vm.history[-1]
        needed = capabilities.needed(action, loaded.view.state == VmState.ACTIVE,
                                     [op.action for op in decision.ops if op.driver == "vmm"])
        if not needed:
            return
        host = loaded.hosts.get(record.hid)
        driver = self.registry.vmm(host) if host is not None else record.vm_mad
        missing = self.registry.missing(driver, needed)
        if missing:
            raise ActionError(f'Action "{action}" is not supported by driver {driver} of '
                              f"host {record.hostname}: it cannot "
                              f"{capabilities.describe(missing[0])}", vm.id)

    def answered(self, vm_id: int, op: DriverOp, seq: int | None, result: DriverResult) -> None:
        """A driver answered ``op`` (on a worker thread): move the VM if it awaits it."""
        if not result.success:
            log.warning("VM %d: %s %s failed (%s): %s", vm_id, op.driver, op.action,
                        result.origin, result.info)
        if seq is None or result.origin == "shutdown":
            return  # only logged; or the core is stopping: the VM keeps awaiting it
        with self._locks[vm_id % _STRIPES]:
            with self.cloud.db.write() as conn:
                try:
                    loaded = load(conn, self.cloud.pools, vm_id)
                except NoExistsError:
                    loaded = None
                if loaded is None or loaded.awaited is None or loaded.awaited.seq != seq:
                    astray = zombies.started_astray(conn, self.cloud.pools, vm_id, op, result)
                    log.info("VM %d: stale answer to %s %s %s", vm_id, op.driver, op.action,
                             "undone" if astray else "dropped")
                    if astray and self.drivers is not None and result.host:
                        # A late success on a host nubo moved the VM from (or of a VM it
                        # finished): that copy would run twice.
                        zombies.destroy(self.drivers, result.driver, result.host,
                                        zombies.Stray(vm_id, result.info),
                                        f"a late {op.action} SUCCESS: the VM is no longer "
                                        "placed there")
                    return
                decision = on_outcome(loaded.view, op, result.success)
                if decision.ignored:
                    log.info("VM %d: answer to %s ignored: %s", vm_id, op.ref,
                             "; ".join(decision.steps))
                    return
                if not result.success:
                    loaded.vm.user_template.set(
                        "ERROR", f"{op.action}: {result.info or result.origin}")
                deploy_id = (result.info if result.success and op.action in _GIVES_DEPLOY_ID
                             and result.info not in ("", "-") else None)
                outbound = self._commit(conn, loaded, decision, deploy_id=deploy_id)
            log.info("VM %d: %s %s -> %s", vm_id, op.ref,
                     "SUCCESS" if result.success else "FAILURE", _pair(decision))
            self._send(outbound)

    def monitored(self, vm_id: int, *, version: int, event: str | None = None
                  ) -> Decision | None:
        """Monitoring's report of an event on a VM (see nubo.lifecycle.on_event),
        committed before any operation is sent, under the VM's lock; while the database
        is out of reach, once it is back. Its MONITORING and LAST_POLL are not written
        here: monitoring stores them beside the VM (nubo.store.last_poll).

        ``version`` is the VM row's version when the probe was sent: if the VM
        changed since (an action or answer committed meanwhile), the report may
        predate that change and nothing is done (None); the next probe tells.
        """
        return self.cloud.db.retrying(lambda: self._monitored(vm_id, version, event),
                                      f"VM {vm_id}: monitoring's report")

    def _monitored(self, vm_id: int, version: int, event: str | None) -> Decision | None:
        with self._locks[vm_id % _STRIPES]:
            with self.cloud.db.write() as conn:
                row = conn.execute(select(vm_pool.c.version)
                                   .where(vm_pool.c.oid == vm_id)).first()
                if row is None or row.version != version:
                    return None
                loaded = load(conn, self.cloud.pools, vm_id)
                decision = on_event(loaded.view, event) if event is not None else None
                if decision is None or decision.ignored:
                    return decision
                outbound = self._commit(conn, loaded, decision)
            log.info("VM %d: monitoring %s -> %s", vm_id, event, _pair(decision))
            self._send(outbound)
        return decision

    def reconcile(self) -> int:
        """Send again the operation each VM awaits, unless it is in flight: at start-up
        (every one: the core stopped or crashed while they were out) and once the
        database is back after an outage (those whose commit was cut short and never
        sent). Each goes under a new sequence number so that only the new answer
        counts. Drivers must make these operations repeatable, as the dummy's are (a
        DEPLOY of a VM already running is a no-op, a SHUTDOWN of a gone one succeeds).

        Runs beside the API: each VM is asked about under its lock, so an action on
        it meanwhile (which sends its own operation) is never undone; VMs go
        ``RECONCILE_BATCH`` to a transaction. Returns how many VMs were asked about.
        """
        with self.cloud.db.read() as conn:
            rows = journal.pending(conn, journal.VM)
        todo = [vm_id for vm_id, seq in rows if not self._is_in_flight(vm_id, seq)]
        if todo:
            log.info("reconciling %d VM(s) awaiting a driver operation", len(todo))
        asked = 0
        for i in range(0, len(todo), RECONCILE_BATCH):
            if self._closing:
                break
            batch = todo[i:i + RECONCILE_BATCH]
            done = self._ask_again(batch)
            if done is None:  # one VM spoils the batch: each on its own
                done = sum(self._ask_again([vm_id]) or 0 for vm_id in batch)
            asked += done
        if todo:
            log.info("reconciled: %d VM(s) asked again", asked)
        return asked

    def reconcile_in_background(self) -> threading.Thread:
        """``reconcile`` on a thread of its own (at start-up, beside the API)."""
        thread = self._reconciler = threading.Thread(target=self._reconcile_passes,
                                                     name="reconcile", daemon=True)
        thread.start()
        return thread

    def _after_outage(self) -> None:
        """The database is back: VMs whose commit was cut short may await an operation
        that was never sent."""
        self._reconcile_passes()

    def _reconcile_passes(self) -> None:
        """One reconciliation pass at a time; one more if one was asked for meanwhile
        (an outage ended during the pass: it may have missed what that left)."""
        while True:
            if not self._reconcile_lock.acquire(blocking=False):
                self._reconcile_again = True
                return
            try:
                self._reconcile_again = False
                self.cloud.db.retrying(self.reconcile, "reconciliation")
            except DatabaseUnavailable:
                log.info("reconciliation stopped with the database unavailable (the core "
                         "is stopping)")
            except Exception:
                log.exception("reconciliation failed")
            finally:
                self._reconcile_lock.release()
            if not self._reconcile_again or self._closing:
                return

    def _ask_again(self, vm_ids: list[int]) -> int | None:
        """Ask again about each VM not in flight, in one transaction; the count, or None
        if one of them could not be (nothing was then done)."""
        stripes = sorted({vm_id % _STRIPES for vm_id in vm_ids})
        with ExitStack() as held:
            for stripe in stripes:  # in order: nobody else holds two
                held.enter_context(self._locks[stripe])
            outbound: list[Outbound] = []
            asked: list[str] = []
            try:
                with self.cloud.db.write() as conn:
                    for vm_id in vm_ids:
                        found = self._ask_again_in(conn, vm_id)
                        if found is not None:
                            outbound += found[1]
                            asked.append(f"VM {vm_id}: asking again for {found[0]}")
            except DatabaseUnavailable:
                raise
            except Exception:
                if len(vm_ids) == 1:
                    log.exception("VM %d: could not reconcile its awaited operation",
                                  vm_ids[0])
                    return 0
                return None
            for line in asked:
                log.info("%s", line)
            self._send(outbound)
        return len(asked)

    def _ask_again_in(self, conn: Connection, vm_id: int):  # noqa: ANN202
        """In ``conn``: the VM's awaited operation (if any, and not in flight) under a
        new sequence number; (its reference, the operations to send) or None."""
        loaded = load(conn, self.cloud.pools, vm_id)
        old = loaded.awaited
        if old is None or self._is_in_flight(vm_id, old.seq):
            return None
        seq = self._next_seq()
        journal.renumber(conn, journal.VM, vm_id, seq)
        op = DriverOp(old.ref.driver, old.ref.action,
                      None if old.host_id < 0 else old.host_id)
        decision = Decision(VmState(loaded.vm.state), LcmState(loaded.vm.lcm_state),
                            ops=(op,), awaiting=old.ref)
        return old.ref, self._outbound(conn, loaded, decision, replace(old, seq=seq))

    def close(self) -> None:
        """Stop taking answers (the driver manager fails in-flight ones as "shutdown";
        those VMs keep their awaited operation for the next start) and drain the workers
        (answers waiting for the database give up once it is closing)."""
        self._closing = True
        if self._reconciler is not None:  # it stops after its current batch
            self._reconciler.join(30)
        self._answers.shutdown(wait=True)

    # -- committing ------------------------------------------------------------------
    def _commit(self, conn: Connection, loaded: Loaded, decision: Decision,
                **where: Any) -> list[Outbound]:
        """Commit ``decision`` (``where``: commit's placement and requester arguments),
        then each event its tasks ask for next (nubo.core.vm_tasks.FollowUp), on the VM
        as just stored, in the same transaction; the operations to send, in order."""
        awaited = commit(conn, self.cloud.pools, loaded, decision, self.cloud.now(),
                         next_seq=self._next_seq(), **where)
        outbound = self._outbound(conn, loaded, decision, awaited)
        for follow_up in loaded.follow_ups:
            again = load(conn, self.cloud.pools, loaded.vm.id)
            then = on_event(again.view, follow_up.event, **follow_up.params)
            if not then.ignored:
                log.info("VM %d: %s -> %s", loaded.vm.id, follow_up.event, _pair(then))
                outbound += self._commit(conn, again, then)
        return outbound

    # -- sending ---------------------------------------------------------------------
    def _outbound(self, conn: Connection, loaded: Loaded, decision: Decision,
                  awaited: Awaited | None) -> list[Outbound]:
        """The decision's operations with their driver, host name and payload (the VM
        as committed), read in the committing transaction."""
        vm = loaded.vm
        payload = loaded.body if loaded.body is not None else xmlobj.render(vm, "VM")
        out = []
        for op in decision.ops:
            if op.action in _NOT_SENT:
                continue
            host = None
            if op.host is not None:
                host = loaded.hosts.get(op.host) or self.cloud.pools.hosts.take(conn, op.host)
                loaded.hosts[op.host] = host
            seq = awaited.seq if awaited and op.awaited and op.ref == awaited.ref else None
            hostname = host.name if host else None
            if op.driver == "tm":
                tm_mad = vm.history[-1].tm_mad if vm.history else ""
                out.append(Outbound(vm.id, self.registry.tm(tm_mad), op, hostname,
                                    transfer_payload.payload(vm, op.action, payload, self._frontend,
                                                             self.cloud.config.datastore_dir),
                                    seq))
                continue
            driver = (self.registry.vmm(host) if host else
                      vm.history[-1].vm_mad if vm.history else "")
            out.append(Outbound(vm.id, driver, op, hostname, payload, seq))
        return out

    def _send(self, outbound: list[Outbound]) -> None:
        for item in outbound:
            if self.drivers is None:
                log.warning("no drivers: %s %s not sent", item.op.driver, item.op.action)
                continue
            if item.seq is not None:
                with self._in_flight_lock:
                    self._in_flight.add((item.vm_id, item.seq))
            self.drivers.submit_callback(
                item.driver, driver_action(item.op), item.vm_id, item.host, item.payload,
                lambda result, i=item: self._hand_over(i, result))

    def _hand_over(self, item: Outbound, result: DriverResult) -> None:
        """On a driver manager thread: queue the answer for a worker."""
        try:
            self._answers.submit(self._answered_logged, item, result)
        except RuntimeError:  # shutting down: the awaited operation stays stored
            log.info("VM %d: answer to %s after shutdown dropped", item.vm_id, item.op.ref)

    def _answered_logged(self, item: Outbound, result: DriverResult) -> None:
        """A worker's task: the answer committed, once the database lets it (an error
        must reach the log, not vanish in a Future)."""
        try:
            self.cloud.db.retrying(
                lambda: self.answered(item.vm_id, item.op, item.seq, result),
                f"VM {item.vm_id}: the answer to {item.op.ref}")
        except DatabaseUnavailable:  # the core is stopping: the VM keeps awaiting it
            log.info("VM %d: the answer to %s not committed (stopping with the database "
                     "unavailable); asked again at the next start", item.vm_id, item.op.ref)
        except Exception:
            log.exception("VM %d: handling the answer to %s failed", item.vm_id, item.op.ref)
        if item.seq is not None:
            with self._in_flight_lock:
                self._in_flight.discard((item.vm_id, item.seq))

    def _is_in_flight(self, vm_id: int, seq: int) -> bool:
        with self._in_flight_lock:
            return (vm_id, seq) in self._in_flight

    def _next_seq(self) -> int:
        """Increasing across restarts too (microseconds, bumped on ties)."""
        with self._seq_lock:
            self._last_seq = max(self._last_seq + 1, time.time_ns() // 1000)
            return self._last_seq


def driver_action(op: DriverOp) -> str:
    """The protocol action for an operation.

    Transfer operations (PROLOG, EPILOG, ...) go as one ``TRANSFER`` action to the
    transfer driver, as OpenNebula sends a whole transfer script (nubo.core.transfer_payload).
    """
    return "TRANSFER" if op.driver == "tm" else op.action


def _pair(decision: Decision) -> str:
    return f"{decision.state.name}/{decision.lcm_state.name}"
