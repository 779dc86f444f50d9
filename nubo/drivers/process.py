"""One driver: its actions in flight and in queue, its timeouts, its restarts.

Every action ends exactly once: it is marked ``done`` under the driver's lock by
whichever comes first -- the answer, its timeout, the driver's death, shutdown --
and only that path delivers it (outside the lock, so a callback may submit
again). Answers are matched to actions by (ACTION, ID), oldest first, because
that is all OpenNebula's protocol carries.
"""
from __future__ import annotations

import logging
import signal
import threading
import time
from collections import deque
from collections.abc import Callable
from functools import partial

from nubo.drivers import capabilities as caps
from nubo.drivers import protocol as p
from nubo.drivers.pipes import Run, describe_exit
from nubo.drivers.scheduler import Scheduler, TimerHandle
from nubo.drivers.spec import (PROBES, DriverResult, DriverSpec, DriverStats, LogCallback,
                               Origin)

log = logging.getLogger("nubo.drivers")
action_log = logging.getLogger("nubo.drivers.actions")

Deliver = Callable[[DriverResult], None]
#: A timed-out action's key is remembered this long so that its late answer is
#: recognised and dropped instead of being taken for a newer action's answer.
ZOMBIE_GRACE = 120.0
_GARBAGE_LOGGED = 20  # per run, then every 1000th


class _Action:
    __slots__ = ("action", "oid", "host", "line", "timeout", "submitted", "deliver",
                 "done", "timer", "sent", "probe", "counted")

    def __init__(self, action: str, oid: int, host: str | None, line: bytes, timeout: float,
                 deliver: Deliver) -> None:
        self.action, self.oid, self.host, self.line = action, oid, host, line
        self.timeout = timeout
        self.submitted = time.monotonic()
        self.deliver = deliver
        self.done = False
        self.sent = False
        self.probe = action in PROBES  # in the probe lane
        self.counted = False  # holds one of its host's slots (host_concurrency)
        self.timer: TimerHandle | None = None


class DriverProcess:
    """A driver: spawns its command, speaks the protocol, restarts it when it dies."""

    def __init__(self, spec: DriverSpec, scheduler: Scheduler, on_log: LogCallback) -> None:
        self.spec = spec
        self._sched = scheduler
        self._on_log = on_log
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)  # readiness, and completions when closing
        self._state = "stopped"  # starting, running, backoff, closed
        self._accepting = True
        self._run: Run | None = None
        self._inflight: dict[tuple[str, int], deque[_Action]] = {}
        self._n_inflight = 0
        self._n_probes = 0  # of _n_inflight, in the probe lane
        # Queues, which may hold done (timed out) actions, skipped: actions waiting for a
        # slot of the driver, probes waiting for one of the probe lane, and actions
        # waiting for a slot of their host (host_concurrency; by host name).
        self._backlog: deque[_Action] = deque()
        self._probe_backlog: deque[_Action] = deque()
        self._held: dict[str, deque[_Action]] = {}
        self._host_busy: dict[str, int] = {}  # slots taken per host
        self._queued = 0
        self._zombies: dict[tuple[str, int], deque[float]] = {}
        self._failures = 0  # consecutive short-lived runs
        self._restart_timer: TimerHandle | None = None
        self._last_exit = ""
        self.stats = DriverStats(spec.name, "stopped", None)
        #: What the driver said it can do in its INIT answer (``CAPABILITIES=a,b``).
        self.declared: frozenset[str] | None = None
        self._stats_lock = threading.Lock()

    # ------------------------------------------------------------------ public
    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def pid(self) -> int | None:
        run = self._run
        return run.pid if run else None

    def snapshot(self) -> DriverStats:
        with self._lock, self._stats_lock:
            s = DriverStats(**vars(self.stats))
            s.state, s.pid = self._state, self.pid
            s.in_flight, s.queued = self._n_inflight, self._queued
            return s

    def start(self) -> None:
        with self._lock:
            failed = self._spawn() if self._state == "stopped" else []
        self._fail_unavailable(failed)

    def submit(self, action: str, oid: int, host: str | None, payload: bytes | str,
               timeout: float | None, deliver: Deliver) -> None:
        line = p.encode_request(action, oid, host, payload)  # ValueError: a caller's bug
        if timeout is not None and not timeout > 0:
            raise ValueError(f"timeout must be positive, got {timeout!r}")
        act = _Action(action, oid, p.check_host(host), line,
                      timeout or self.spec.timeout_for(action), deliver)
        refuse: tuple[str, Origin] | None = None
        with self._lock:
            if not self._accepting:
                refuse = f"driver '{self.name}' is shutting down", "shutdown"
            elif self._state == "backoff" and self._failures >= self.spec.unavailable_after:
                refuse = self._unavailable_reason(), "unavailable"
            else:
                self.stats.submitted += 1
                act.timer = self._sched.call_at(act.submitted + act.timeout,
                                                partial(self._expire, act))
                self._admit(act)
        if refuse is not None:
            act.done = True
            self._finish(act, False, *refuse)

    def wait_ready(self, timeout: float) -> bool:
        with self._lock:
            self._changed.wait_for(lambda: self._state in ("running", "closed"), timeout)
            return self._state == "running"

    # ------------------------------------------------------------------ shutdown, in phases
    def stop_accepting(self) -> None:
        with self._lock:
            self._accepting = False

    def wait_idle(self, deadline: float) -> bool:
        with self._lock:
            return self._changed.wait_for(lambda: not self._n_inflight and not self._queued,
                                          max(0.0, deadline - time.monotonic()))

    def finalize(self) -> None:
        """Fail what is left, send FINALIZE and close the driver's stdin."""
        with self._lock:
            self._accepting = False
            self._state = "closed"
            if self._restart_timer:
                self._restart_timer.cancel()
            left = self._take_all()
            run = self._run
        for act in left:
            self._finish(act, False, f"driver '{self.name}' was shut down before answering",
                         "shutdown")
        if run is not None:
            run.send(p.FINALIZE_LINE)
            run.close_input()

    def reap(self, deadline: float) -> None:
        """Wait for the exit after FINALIZE; then SIGTERM, then SIGKILL (whole group)."""
        run = self._run
        if run is None:
            return
        if run.wait(max(0.05, deadline - time.monotonic())) is None:
            for sig in (signal.SIGTERM, signal.SIGKILL):
                log.warning("driver %s (pid %d) did not exit after FINALIZE, sending %s",
                            self.name, run.pid, sig.name)
                run.kill(sig)
                if run.wait(2.0) is not None:
                    break
        run.kill(signal.SIGKILL)  # what the driver started in its group, if anything lingers
        run.join(2.0)

    # ------------------------------------------------------------------ process life (lock held)
    def _spawn(self) -> list[_Action]:
        """Start a run; failing to exec counts as a short-lived run.

        Returns queued actions to fail when the driver is now unavailable.
        """
        self._restart_timer = None
        try:
            run = Run(self.name, self.spec.command, self.spec.env, self)
        except OSError as e:
            log.error("driver %s: cannot start %s: %s", self.name, self.spec.command[0], e)
            self._last_exit = f"cannot start: {e.strerror or e}"
            return self._schedule_restart(short_lived=True)
        self._run = run
        self._state = "starting"
        self.stats.starts += 1
        run.send(p.INIT_LINE)
        self._sched.call_later(self.spec.init_timeout, partial(self._init_timeout, run))
        return []

    def _schedule_restart(self, short_lived: bool) -> list[_Action]:
        self._failures = self._failures + 1 if short_lived else 1
        delay = min(self.spec.restart_max, self.spec.restart_initial * 2 ** (self._failures - 1))
        self._state = "backoff"
        log.warning("driver %s: restarting in %.1fs", self.name, delay)
        self._restart_timer = self._sched.call_later(delay, self._restart)
        return self._take_all() if self._failures >= self.spec.unavailable_after else []

    def _restart(self) -> None:
        with self._lock:
            failed = self._spawn() if self._state == "backoff" else []
        self._fail_unavailable(failed)

    def _init_timeout(self, run: Run) -> None:
        if not run.ready and run is self._run and run.exit_code is None:
            log.error("driver %s (pid %d) did not answer INIT within %gs; killing it",
                      self.name, run.pid, self.spec.init_timeout)
            run.kill()

    def _unavailable_reason(self) -> str:
        return (f"driver '{self.name}' is not running ({self._failures} failed starts in a row, "
                f"last: {self._last_exit or 'unknown'})")

    def _fail_unavailable(self, acts: list[_Action]) -> None:
        for a in acts:
            self._finish(a, False, self._unavailable_reason(), "unavailable")

    # ------------------------------------------------------------------ Run's listener
    def on_message(self, run: Run, msg: p.DriverMessage) -> None:
        if isinstance(msg, p.Reply):
            self._on_reply(msg)
        elif isinstance(msg, p.LogMessage):
            self._on_log(self.name, msg.level, msg.oid, msg.message)
        elif run.ready:
            log.warning("driver %s: unexpected INIT answer ignored", self.name)
        elif not msg.success:
            log.error("driver %s refused to start: %s", self.name, msg.info or "INIT FAILURE")
            run.kill()
        else:
            self._declare(msg.info)
            with self._lock:
                if run is not self._run or self._state == "closed":
                    return
                run.ready = True
                self._state = "running"
                self._pump()
                self._changed.notify_all()
            log.info("driver %s started (pid %d)", self.name, run.pid)

    def _declare(self, info: str) -> None:
        """Capabilities a driver states in its INIT answer: ``INIT SUCCESS
        CAPABILITIES=live-resize,snapshots``."""
        if not info.startswith("CAPABILITIES="):
            return
        try:
            self.declared = caps.check(info.removeprefix("CAPABILITIES=").split(" ")[0],
                                       self.name)
        except ValueError as e:
            log.error("driver %s: its declared capabilities are ignored: %s", self.name, e)

    @property
    def capabilities(self) -> frozenset[str] | None:
        """What the driver can do: its spec's, else its INIT answer's (None: all)."""
        return self.spec.capabilities if self.spec.capabilities is not None else self.declared

    def on_garbage(self, run: Run, line: bytes, err: p.ProtocolError) -> None:
        run.garbage += 1
        with self._stats_lock:
            self.stats.protocol_errors += 1
        if run.garbage <= _GARBAGE_LOGGED or run.garbage % 1000 == 0:
            log.error("driver %s: malformed output (#%d): %s", self.name, run.garbage, err)
        key = p.salvage_key(line)
        if key is not None:
            with self._lock:
                act = self._take(key)
            if act is not None:
                self._finish(act, False, f"driver '{self.name}' sent a malformed answer: "
                             f"{err.reason}", "protocol")

    def on_exit(self, run: Run) -> None:
        how = describe_exit(run.exit_code)
        queued: list[_Action] = []
        with self._lock:
            if run is not self._run:
                return
            lost = [a for q in self._inflight.values() for a in q]
            self._inflight.clear()
            self._n_inflight = self._n_probes = 0
            for a in lost:
                a.done = True
                if a.timer:
                    a.timer.cancel()
            closed = self._state == "closed"
            if not closed:
                self._run = None
                self._last_exit = how
                self.stats.crashed += len(lost)
                short = not run.ready or time.monotonic() - run.started < self.spec.stable_after
                queued = self._schedule_restart(short)
            for a in lost:  # after the state left "running": held actions queue
                self._release_host(a)
            self._changed.notify_all()
        if not closed:
            log.error("driver %s (pid %d) died (%s) with %d action(s) in flight", self.name,
                      run.pid, how, len(lost))
        for a in lost:
            self._finish(a, False, f"driver '{self.name}' died ({how}) while running {a.action}; "
                         "the outcome is unknown", "shutdown" if closed else "crash")
        self._fail_unavailable(queued)

    # ------------------------------------------------------------------ actions (lock held)
    def _admit(self, act: _Action) -> None:
        """A new action (or one its host's slot freed): send it if a slot is free, else
        queue it -- probes in their lane, the others behind their host's slots first."""
        running = self._state == "running"
        if act.probe:
            if running and self._n_probes < self.spec.probe_concurrency:
                self._send(act)
            else:
                self._probe_backlog.append(act)
                self._queued += 1
            return
        limit, host = self.spec.host_concurrency, act.host
        if limit and host is not None and not act.counted:
            if self._host_busy.get(host, 0) >= limit:
                self._held.setdefault(host, deque()).append(act)
                self._queued += 1
                return
            self._host_busy[host] = self._host_busy.get(host, 0) + 1
            act.counted = True
        if running and self._n_inflight - self._n_probes < self.spec.concurrency:
            self._send(act)
        else:
            self._backlog.append(act)
            self._queued += 1

    def _release_host(self, act: _Action) -> None:
        """``act`` ended: its host's slot goes to the host's next held action."""
        if not act.counted:
            return
        act.counted = False
        host = act.host
        assert host is not None
        busy = self._host_busy.get(host, 0) - 1
        if busy > 0:
            self._host_busy[host] = busy
        else:
            self._host_busy.pop(host, None)
        held = self._held.get(host)
        while held:
            nxt = held.popleft()
            if not nxt.done:
                self._queued -= 1
                self._admit(nxt)
                break
        if not held:
            self._held.pop(host, None)

    def _send(self, act: _Action) -> None:
        assert self._run is not None
        act.sent = True
        q = self._inflight.get((act.action, act.oid))
        if q is None:
            self._inflight[(act.action, act.oid)] = q = deque()
        q.append(act)
        self._n_inflight += 1
        if act.probe:
            self._n_probes += 1
        self._run.send(act.line)

    def _pump(self) -> None:
        if self._state != "running":
            return
        backlog, limit = self._backlog, self.spec.concurrency
        while backlog and self._n_inflight - self._n_probes < limit:
            act = backlog.popleft()
            if not act.done:
                self._queued -= 1
                self._send(act)
        probes, limit = self._probe_backlog, self.spec.probe_concurrency
        while probes and self._n_probes < limit:
            act = probes.popleft()
            if not act.done:
                self._queued -= 1
                self._send(act)

    def _unsend(self, act: _Action) -> None:
        """``act`` left the in-flight set (answered or timed out)."""
        self._n_inflight -= 1
        if act.probe:
            self._n_probes -= 1
        self._release_host(act)

    def _take_all(self) -> list[_Action]:
        left = [a for q in self._inflight.values() for a in q]
        left += [a for a in self._backlog if not a.done]
        left += [a for a in self._probe_backlog if not a.done]
        left += [a for q in self._held.values() for a in q if not a.done]
        self._inflight.clear()
        self._backlog.clear()
        self._probe_backlog.clear()
        self._held.clear()
        self._host_busy.clear()
        self._n_inflight = self._n_probes = self._queued = 0
        for a in left:
            a.done = True
            a.counted = False
            if a.timer:
                a.timer.cancel()
        self._changed.notify_all()
        return left

    def _take(self, key: tuple[str, int]) -> _Action | None:
        q = self._inflight.get(key)
        if not q:
            return None
        act = q.popleft()
        if not q:
            del self._inflight[key]
        act.done = True
        self._unsend(act)
        if act.timer:
            act.timer.cancel()
        self._pump()
        if not self._accepting:
            self._changed.notify_all()
        return act

    def _expire(self, act: _Action) -> None:
        with self._lock:
            if act.done:
                return
            act.done = True
            cancel = None
            if not act.sent:
                self._queued -= 1  # left in the backlog, skipped there
                self._release_host(act)
                why = (f"not sent within {act.timeout:g}s: driver '{self.name}' is "
                       f"{'busy' if self._state == 'running' else self._state}")
            else:
                key = (act.action, act.oid)
                q = self._inflight[key]
                q.remove(act)
                if not q:
                    del self._inflight[key]
                self._unsend(act)
                if self.spec.cancel_on_timeout and self._run is not None:
                    cancel = self._run
                if len(self._zombies) > 1000:
                    now = time.monotonic()
                    for k in [k for k, z in self._zombies.items() if z[-1] < now]:
                        del self._zombies[k]
                self._zombies.setdefault(key, deque()).append(time.monotonic() + ZOMBIE_GRACE)
                self._pump()
                why = f"driver '{self.name}' did not answer {act.action} within {act.timeout:g}s"
            self.stats.timeouts += 1
            if not self._accepting:
                self._changed.notify_all()
        if cancel is not None:  # the driver may stop it; its late answer is dropped anyway
            cancel.send(p.encode_request(p.CANCEL, act.oid, act.host, act.action))
            why += f"; {p.CANCEL} sent"
        self._finish(act, False, why, "timeout")

    # ------------------------------------------------------------------ results
    def _on_reply(self, msg: p.Reply) -> None:
        if msg.action == p.CANCEL:
            log.info("driver %s: %s %d %s: %s", self.name, p.CANCEL, msg.oid,
                     "SUCCESS" if msg.success else "FAILURE", msg.info or "-")
            return
        key = (msg.action, msg.oid)
        late = None
        with self._lock:
            act = self._take(key)
            if act is None:
                late = self._zombies.get(key)
                if late:
                    late.popleft()
                    if not late:
                        del self._zombies[key]
        if act is not None:
            self._finish(act, msg.success, msg.info, "driver")
        elif late is not None:
            log.info("driver %s: late answer to timed-out %s %d ignored", self.name, *key)
        else:
            log.warning("driver %s: answer to %s %d, which is not in flight, ignored",
                        self.name, *key)

    def _finish(self, act: _Action, success: bool, info: str, origin: Origin) -> None:
        duration = time.monotonic() - act.submitted
        result = DriverResult(self.name, act.action, act.oid, act.host, success, info, origin,
                              duration)
        with self._stats_lock:
            if success:
                self.stats.succeeded += 1
            else:
                self.stats.failed += 1
        if action_log.isEnabledFor(logging.INFO):  # never the payload; INFO only of failures
            action_log.info("%s %s id=%d host=%s %s%s in %.3fs%s", self.name, act.action, act.oid,
                            act.host or "-", "SUCCESS" if success else "FAILURE",
                            "" if origin == "driver" else f" ({origin})", duration,
                            "" if success else f": {info[:300]}")
        try:
            act.deliver(result)
        except Exception:
            log.exception("driver %s: result callback for %s %d failed", self.name, act.action,
                          act.oid)
