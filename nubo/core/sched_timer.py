"""The timer that runs VMs' scheduled actions when they fall due.

It keeps, for each VM with a pending action, the time of its next one (a heap),
and sleeps on a Condition until the earliest, or until a schedule changes
(``changed``: one.vm.schedadd/update/delete, a VM allocated with SCHED_ACTIONs):
never a poll. A due action runs through the API method OpenNebula would use,
as the VM's owner (the ``run`` callable, nubo.api.sched_runner), then its outcome
is recorded in the VM's body (DONE, MESSAGE, the next repetition; see
nubo.model.sched_action.after_run). The body is the only record: at start every
VM's pending actions are read back, and one that fell due while the core was down
runs once, not once per missed repetition.

``changed`` may be called inside the writer's transaction: the timer re-reads the
VM under the database's write lock, so it sees the change once committed.
"""
from __future__ import annotations

import heapq
import logging
import os
import threading
from datetime import timezone, tzinfo
from typing import Any, Callable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import and_

from nubo.core.sched_actions import actions_of, store
from nubo.errors import NuboError
from nubo.store.db import on_commit
from nubo.store.outage import DatabaseUnavailable
from nubo.model.sched_action import SchedAction, after_run
from nubo.model.vm import DONE, VirtualMachine

log = logging.getLogger("nubo.sched_actions")

#: Runs one action on one VM; returns None, or the error to record in MESSAGE.
Runner = Callable[[VirtualMachine, SchedAction], "str | None"]


def time_zone(name: str) -> tzinfo:
    """``sched_timezone``: an IANA name, or "" for the front-end's local zone (TZ, else
    /etc/localtime, else UTC), in which weekly/monthly/yearly repetitions are counted."""
    if name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise NuboError(f"sched_timezone: unknown time zone {name!r} (use an IANA name "
                            "such as Europe/Madrid, or \"\" for the local zone)") from None
    try:
        if os.environ.get("TZ"):
            return ZoneInfo(os.environ["TZ"].lstrip(":"))
        with open("/etc/localtime", "rb") as f:
            return ZoneInfo.from_file(f)
    except (OSError, ZoneInfoNotFoundError, ValueError):
        return timezone.utc


class ScheduledActionTimer:
    def __init__(self, cloud: Any, run: Runner, tz: tzinfo) -> None:
        self.cloud = cloud
        self.run = run
        self.tz = tz
        self._cond = threading.Condition()
        self._heap: list[tuple[int, int]] = []  # (due, vm id); stale when != _due[vm]
        self._due: dict[int, int] = {}
        self._dirty: set[int] = set()
        self._stopping = False
        self._thread: threading.Thread | None = None

    # -- entry points ----------------------------------------------------------------
    def start(self) -> None:
        """Read every live VM's pending actions back and start the timer thread."""
        pool = self.cloud.pools.vms
        c = pool.table.c
        with self.cloud.db.read() as conn:
            rows = pool.select_rows(conn, and_(c.state != DONE,
                                               c.body.contains("<SCHED_ACTION>")),
                                    columns=[c.oid])
        self._refresh({r.oid for r in rows})
        log.info("scheduled actions: %d VM(s) with pending actions", len(self._due))
        self._thread = threading.Thread(target=self._loop, name="sched-actions", daemon=True)
        self._thread.start()

    def changed(self, vm_id: int) -> None:
        """The VM's schedule may have changed: look at it again."""
        with self._cond:
            self._dirty.add(vm_id)
            self._cond.notify()

    def next_due(self, vm_id: int) -> int | None:
        with self._cond:
            return self._due.get(vm_id)

    def close(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify()
        if self._thread is not None:
            self._thread.join(timeout=30)

    # -- the loop --------------------------------------------------------------------
    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._stopping and not self._dirty:
                    wait = self._seconds_to_next()
                    if wait is not None and wait <= 0:
                        break
                    self._cond.wait(wait)
                if self._stopping:
                    return
                dirty, self._dirty = self._dirty, set()
            try:
                if dirty:
                    self._refresh(dirty)
                for vm_id in self._pop_due():
                    self._run_vm(vm_id)
            except Exception:  # the timer must outlive a bad VM or a database hiccup
                log.exception("scheduled actions: round failed")

    def _seconds_to_next(self) -> float | None:
        """Seconds until the earliest due VM (under the lock); None if there is none."""
        while self._heap and self._due.get(self._heap[0][1]) != self._heap[0][0]:
            heapq.heappop(self._heap)
        return self._heap[0][0] - self.cloud.clock() if self._heap else None

    def _pop_due(self) -> list[int]:
        now = self.cloud.now()
        due = []
        with self._cond:
            while self._heap and self._heap[0][0] <= now:
                when, vm_id = heapq.heappop(self._heap)
                if self._due.get(vm_id) == when:
                    del self._due[vm_id]
                    due.append(vm_id)
        return due

    def _refresh(self, vm_ids: set[int]) -> None:
        """Each VM's next due time, read after any transaction in flight commits (once
        the database is back, if it is out of reach)."""
        found = self.cloud.db.retrying(lambda: self._next_due(vm_ids),
                                       "scheduled actions: the next due times")
        with self._cond:
            for vm_id, when in found.items():
                if when is None:
                    self._due.pop(vm_id, None)
                else:
                    self._due[vm_id] = when
                    heapq.heappush(self._heap, (when, vm_id))

    def _next_due(self, vm_ids: set[int]) -> dict[int, int | None]:
        found: dict[int, int | None] = {}
        with self.cloud.db.write() as conn:
            for vm_id in vm_ids:
                vm = self.cloud.pools.vms.find(conn, vm_id)
                times = [a.time for a in actions_of(vm) if a.pending] if vm and \
                    vm.state != DONE else []
                found[vm_id] = min(times) if times else None
        return found

    # -- running ---------------------------------------------------------------------
    def _run_vm(self, vm_id: int) -> None:
        """Run the VM's due actions and record each outcome. While the database is out
        of reach each step waits for it: an action that could not run for that runs
        once it is back, instead of failing with "Internal error"."""
        db = self.cloud.db
        vm = db.retrying(lambda: self._find(vm_id), f"VM {vm_id}: scheduled actions")
        if vm is not None and vm.state != DONE:
            now = self.cloud.now()
            for action in sorted((a for a in actions_of(vm) if a.due(now)),
                                 key=lambda a: (a.time, a.id)):
                what = f"VM {vm_id}: scheduled action {action.id} ({action.action})"
                error = db.retrying(lambda a=action: self._execute(vm, a), what)
                db.retrying(lambda a=action, e=error: self._record(vm_id, a.id, e), what)
        self._refresh({vm_id})

    def _find(self, vm_id: int) -> VirtualMachine | None:
        with self.cloud.db.read() as conn:
            return self.cloud.pools.vms.find(conn, vm_id)

    def _execute(self, vm: VirtualMachine, action: SchedAction) -> str | None:
        try:
            error = self.run(vm, action)
        except DatabaseUnavailable:
            raise  # not the action's failure: it runs again once the database is back
        except Exception:
            log.exception("VM %d: scheduled action %d (%s) crashed", vm.id, action.id,
                          action.action)
            error = "Internal error"
        if error:
            log.warning("VM %d: scheduled action %d (%s) failed: %s", vm.id, action.id,
                        action.action, error)
        else:
            log.info("VM %d: scheduled action %d (%s) done", vm.id, action.id, action.action)
        return error

    def _record(self, vm_id: int, sched_id: int, error: str | None) -> None:
        """DONE, MESSAGE and the next repetition, on the VM as it is now."""
        pools = self.cloud.pools
        with self.cloud.db.write() as conn:
            vm = pools.vms.find(conn, vm_id)
            if vm is None:
                return
            actions = actions_of(vm)
            if not any(a.id == sched_id for a in actions):
                return  # deleted meanwhile
            store(vm, [after_run(a, self.cloud.now(), error, self.tz) if a.id == sched_id
                       else a for a in actions])
            pools.vms.update(conn, vm)


# -- telling the cloud's timer -------------------------------------------------------------

def changed(cloud: Any, vm_id: int, conn: Any = None) -> None:
    """Tell the cloud's timer (if its core runs one) that the VM's schedule changed; inside
    a write transaction ``conn``, once it has committed (the timer reads the VM back)."""
    timer = cloud.sched_timer
    if timer is None:
        return
    if conn is None or not on_commit(conn, lambda: timer.changed(vm_id)):
        timer.changed(vm_id)
