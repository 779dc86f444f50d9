"""The driver manager: the core's one entry point to its drivers.

Typical use (the life-cycle manager)::

    drivers = DriverManager(specs_from_config(cfg_table))
    drivers.start()
    future = drivers.submit("dummy", "DEPLOY", vm.oid, host.name, deployment_xml)
    result = future.result()            # DriverResult, never raises
    # or, without blocking a thread:
    drivers.submit_callback("dummy", "SHUTDOWN", 42, "host1", "", on_result)
    ...
    drivers.close()

Every submitted action yields exactly one :class:`DriverResult`, also when the
driver times out, dies, talks garbage, or the manager shuts down (``success``
False and ``origin`` saying why). Results and callbacks arrive on the manager's
threads: a callback must be quick and must not block on another action (hand
the result to your own queue); it may submit new actions.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future

from nubo.drivers import protocol
from nubo.drivers.process import DriverProcess
from nubo.drivers.scheduler import Scheduler
from nubo.drivers.spec import DriverResult, DriverSpec, DriverStats, LogCallback

log = logging.getLogger("nubo.drivers")
_LEVELS = {"I": logging.INFO, "W": logging.WARNING, "E": logging.ERROR, "D": logging.DEBUG}


def log_driver_message(driver: str, level: str, oid: int | None, message: str) -> None:
    """Default LOG handler: into the ``nubo.drivers`` logger at the line's level."""
    log.log(_LEVELS.get(level, logging.INFO), "driver %s%s: %s", driver,
            "" if oid is None else f" [{oid}]", message)


class DriverManager:
    """Starts the configured drivers and runs actions on them."""

    def __init__(self, specs: Iterable[DriverSpec], on_log: LogCallback | None = None) -> None:
        self._scheduler = Scheduler()
        self._drivers: dict[str, DriverProcess] = {}
        for spec in specs:
            if spec.name in self._drivers:
                raise ValueError(f"driver {spec.name} is configured twice")
            self._drivers[spec.name] = DriverProcess(spec, self._scheduler,
                                                     on_log or log_driver_message)
        self._closed = False

    def __enter__(self) -> DriverManager:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def names(self) -> list[str]:
        return list(self._drivers)

    def start(self) -> None:
        """Spawn every driver; returns at once (actions queue until INIT is answered)."""
        for driver in self._drivers.values():
            driver.start()

    def wait_ready(self, timeout: float = 15.0) -> bool:
        """Block until every driver answered INIT (True) or the timeout passed (False)."""
        deadline = time.monotonic() + timeout
        return all(d.wait_ready(max(0.0, deadline - time.monotonic()))
                   for d in self._drivers.values())

    def submit_callback(self, driver: str, action: str, oid: int, host: str | None,
                        payload: bytes | str, callback: Callable[[DriverResult], None],
                        timeout: float | None = None) -> None:
        """Run ``action`` for object ``oid`` on ``host``; ``callback(result)`` is called once.

        ``payload`` (bytes, or str sent as UTF-8) goes base64-encoded. ``timeout``
        (seconds from now to the answer, queueing included) defaults to the
        driver's setting for the action. A wrong action name, id or host name is
        the caller's bug and raises ValueError; everything else is a result, so an
        unknown driver name (say, a host's VM_MAD typo) is an "unavailable" FAILURE.
        The callback may run before this returns (refusals) or on a manager thread.
        """
        process = self._drivers.get(driver)
        if process is None:
            protocol.encode_request(action, oid, host, b"")  # same argument checks
            callback(DriverResult(driver, action, oid, protocol.check_host(host), False,
                                  f"no driver named '{driver}' is configured", "unavailable", 0.0))
            return
        process.submit(action, oid, host, payload, timeout, callback)

    def submit(self, driver: str, action: str, oid: int, host: str | None,
               payload: bytes | str = b"", timeout: float | None = None) -> Future[DriverResult]:
        """Like :meth:`submit_callback`, returning a Future that never holds an exception."""
        future: Future[DriverResult] = Future()
        future.set_running_or_notify_cancel()  # results are facts: a caller cannot cancel them
        self.submit_callback(driver, action, oid, host, payload, future.set_result, timeout)
        return future

    def run(self, driver: str, action: str, oid: int, host: str | None,
            payload: bytes | str = b"", timeout: float | None = None) -> DriverResult:
        """Submit and wait (convenience for scripts and tests)."""
        return self.submit(driver, action, oid, host, payload, timeout).result()

    def capabilities(self, driver: str) -> frozenset[str] | None:
        """What ``driver`` declared it can do, in its spec or its INIT answer (None:
        nothing declared, or no such driver)."""
        process = self._drivers.get(driver)
        return process.capabilities if process is not None else None

    def stats(self) -> dict[str, DriverStats]:
        return {name: d.snapshot() for name, d in self._drivers.items()}

    def pid(self, driver: str) -> int | None:
        """The driver's current process id (None while it is down)."""
        return self._drivers[driver].pid

    def close(self, drain_timeout: float = 5.0) -> None:
        """Shut down: refuse new actions, let in-flight ones finish for up to
        ``drain_timeout`` seconds, fail the rest, send FINALIZE, and end every
        driver (its process group is SIGTERMed, then SIGKILLed, if it lingers
        past its ``finalize_grace``). Idempotent; drivers close in parallel."""
        if self._closed:
            return
        self._closed = True
        drivers = list(self._drivers.values())
        for d in drivers:
            d.stop_accepting()
        deadline = time.monotonic() + drain_timeout
        for d in drivers:
            d.wait_idle(deadline)
        for d in drivers:
            d.finalize()
        start = time.monotonic()
        for d in drivers:
            d.reap(start + d.spec.finalize_grace)
        self._scheduler.close()
