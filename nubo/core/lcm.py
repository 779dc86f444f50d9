"""The life-cycle manager: moves VMs through the state machine and the drivers.

For an action (from the API) or a driver's answer it loads the VM, asks the pure
machine (nubo.lifecycle) for a decision, COMMITS the decision -- state, history,
host usage and the operation the VM now awaits (table ``vm_operation``) -- and
only then sends the decision's driver operations. A crash between the two leaves
a VM whose awaited operation says what to reconcile; never an operation that ran
for a state nobody stored.

Actions on one VM are serialised by a per-VM lock (striped: a fixed array of
locks indexed by VM id, so no lock table grows or needs cleaning) held from the
load to the last submit, so a VM's operations leave in the order its decisions
were committed; different VMs proceed in parallel. Driver answers arrive on the
driver manager's threads, which must not block, so they are handed to a small
worker pool.
"""
from __future__ import annotations

import logging
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any, Callable

from sqlalchemy import Connection, select, update

from nubo.core import transfer, zombies
from nubo.core.cloud import Cloud
from nubo.core.vm_commit import Awaited, Loaded, commit, load
from nubo.drivers import DriverManager, DriverResult
from nubo.errors import NoExistsError
from nubo.lifecycle import (Decision, DriverOp, LcmState, VmState, decide, on_event,
                            on_outcome)
from nubo.model import xmlobj
from nubo.store.schema import vm_operation, vm_pool

log = logging.getLogger("nubo.lcm")

_STRIPES = 64
#: Sent by OpenNebula to abort a driver's pending action; nubo's driver manager
#: times actions out itself and drops late answers (docs/drivers.md), so it is skipped.
_NOT_SENT = frozenset({"DRIVER_CANCEL"})
#: The answers whose INFO is the hypervisor's name for the VM (its DEPLOY_ID).
_GIVES_DEPLOY_ID = frozenset({"DEPLOY", "RESTORE"})


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

    def __init__(self, cloud: Cloud, drivers: DriverManager | None, workers: int = 4) -> None:
        self.cloud = cloud
        self.drivers = drivers
        self._locks = [threading.Lock() for _ in range(_STRIPES)]
        self._answers = ThreadPoolExecutor(workers, thread_name_prefix="lcm")
        self._seq_lock = threading.Lock()
        self._last_seq = 0
        self._closing = False
        self._frontend = cloud.config.frontend_name or socket.gethostname()

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
                if prepare is not None:
                    prepare(conn, loaded, decision)
                    loaded.hosts.clear()  # it may have changed hosts (move_usage)
                awaited = commit(conn, self.cloud.pools, loaded, decision, self.cloud.now(),
                                 next_seq=self._next_seq(), ds_id=ds_id, tm_mad=tm_mad,
                                 uid=uid, gid=gid)
                outbound = self._outbound(conn, loaded, decision, awaited)
            log.info("VM %d: %s -> %s", vm_id, action, _pair(decision))
            self._send(outbound)
        return decision

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
                awaited = commit(conn, self.cloud.pools, loaded, decision, self.cloud.now(),
                                 next_seq=self._next_seq(), deploy_id=deploy_id)
                outbound = self._outbound(conn, loaded, decision, awaited)
            log.info("VM %d: %s %s -> %s", vm_id, op.ref,
                     "SUCCESS" if result.success else "FAILURE", _pair(decision))
            self._send(outbound)

    def monitored(self, vm_id: int, *, version: int, event: str | None = None,
                  monitoring: str | None = None, last_poll: int = 0) -> Decision | None:
        """Monitoring's report on a VM (nubo.core.vm_monitor): store its MONITORING
        and LAST_POLL and/or run ``event`` (see nubo.lifecycle.on_event), committed
        before any operation is sent, under the VM's lock.

        ``version`` is the VM row's version when the probe was sent: if the VM
        changed since (an action or answer committed meanwhile), the report may
        predate that change and nothing is done (None); the next probe tells.
        """
        with self._locks[vm_id % _STRIPES]:
            with self.cloud.db.write() as conn:
                row = conn.execute(select(vm_pool.c.version)
                                   .where(vm_pool.c.oid == vm_id)).first()
                if row is None or row.version != version:
                    return None
                loaded = load(conn, self.cloud.pools, vm_id)
                if monitoring is not None:
                    loaded.vm.monitoring = type(loaded.vm.monitoring)(monitoring)
                    loaded.vm.last_poll = last_poll
                decision = on_event(loaded.view, event) if event is not None else None
                if decision is None or decision.ignored:
                    if monitoring is not None:
                        self.cloud.pools.vms.update(conn, loaded.vm)
                    return decision
                awaited = commit(conn, self.cloud.pools, loaded, decision, self.cloud.now(),
                                 next_seq=self._next_seq())
                outbound = self._outbound(conn, loaded, decision, awaited)
            log.info("VM %d: monitoring %s -> %s", vm_id, event, _pair(decision))
            self._send(outbound)
        return decision

    def reconcile(self) -> int:
        """At start-up: send again the operation each VM was waiting for when the core
        stopped (or crashed), under a new sequence number so that only the new answer
        counts. Drivers must make these operations repeatable, as the dummy's are
        (a DEPLOY of a VM already running is a no-op, a SHUTDOWN of a gone one
        succeeds). Returns how many VMs were asked about."""
        with self.cloud.db.read() as conn:
            vm_ids = [r.vm_id for r in conn.execute(select(vm_operation.c.vm_id))]
        for vm_id in vm_ids:
            try:
                self._ask_again(vm_id)
            except Exception:
                log.exception("VM %d: could not reconcile its awaited operation", vm_id)
        if vm_ids:
            log.info("reconciling %d VM(s) awaiting a driver operation", len(vm_ids))
        return len(vm_ids)

    def _ask_again(self, vm_id: int) -> None:
        with self._locks[vm_id % _STRIPES]:
            with self.cloud.db.write() as conn:
                loaded = load(conn, self.cloud.pools, vm_id)
                old = loaded.awaited
                if old is None:
                    return
                seq = self._next_seq()
                conn.execute(update(vm_operation).where(vm_operation.c.vm_id == vm_id)
                             .values(seq=seq))
                op = DriverOp(old.ref.driver, old.ref.action,
                              None if old.host_id < 0 else old.host_id)
                decision = Decision(VmState(loaded.vm.state), LcmState(loaded.vm.lcm_state),
                                    ops=(op,), awaiting=old.ref)
                outbound = self._outbound(conn, loaded, decision, replace(old, seq=seq))
            log.info("VM %d: asking again for %s", vm_id, old.ref)
            self._send(outbound)

    def close(self) -> None:
        """Stop taking answers (the driver manager fails in-flight ones as "shutdown";
        those VMs keep their awaited operation for the next start) and drain the workers."""
        self._closing = True
        self._answers.shutdown(wait=True)

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
                out.append(Outbound(vm.id, self.cloud.config.transfer_driver, op, hostname,
                                    transfer.payload(vm, op.action, payload, self._frontend),
                                    seq))
                continue
            driver = host.vm_mad if host else (vm.history[-1].vm_mad if vm.history else "")
            out.append(Outbound(vm.id, driver, op, hostname, payload, seq))
        return out

    def _send(self, outbound: list[Outbound]) -> None:
        for item in outbound:
            if self.drivers is None:
                log.warning("no drivers: %s %s not sent", item.op.driver, item.op.action)
                continue
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
        """A worker's task: an error must reach the log, not vanish in a Future."""
        try:
            self.answered(item.vm_id, item.op, item.seq, result)
        except Exception:
            log.exception("VM %d: handling the answer to %s failed", item.vm_id, item.op.ref)

    def _next_seq(self) -> int:
        """Increasing across restarts too (microseconds, bumped on ties)."""
        with self._seq_lock:
            self._last_seq = max(self._last_seq + 1, time.time_ns() // 1000)
            return self._last_seq


def driver_action(op: DriverOp) -> str:
    """The protocol action for an operation.

    Transfer operations (PROLOG, EPILOG, ...) go as one ``TRANSFER`` action to the
    transfer driver, as OpenNebula sends a whole transfer script (nubo.core.transfer).
    """
    return "TRANSFER" if op.driver == "tm" else op.action


def _pair(decision: Decision) -> str:
    return f"{decision.state.name}/{decision.lcm_state.name}"
