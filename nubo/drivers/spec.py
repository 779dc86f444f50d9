"""What the driver manager is configured with and what it hands back.

Kept apart from the process machinery so that the life-cycle manager can import
the result type (and the config loader the spec) without pulling threads in.
"""
from __future__ import annotations

import binascii
import shlex
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from nubo.drivers import capabilities as caps

#: Where a result came from. Only "driver" means the driver itself answered; the
#: others are the manager failing the action, so the caller can tell "the
#: hypervisor said no" from "we do not know what happened" (timeout, crash), which
#: the life-cycle manager must reconcile differently.
Origin = Literal["driver", "timeout", "crash", "protocol", "shutdown", "unavailable"]

#: Probes: monitoring (a host's or a datastore's MONITOR, which also reports the
#: host's VMs), run in a lane of their own (``probe_concurrency``) so that a driver
#: busy with slow actions still monitors on time. A VM's POLL, which nubo's core does
#: not send, queues with the other actions.
PROBES = frozenset({"MONITOR"})

#: ``on_log(driver, level, oid, message)`` receives a driver's LOG lines
#: (level I, W, E or D; oid None for driver-wide messages).
LogCallback = Callable[[str, str, "int | None", str], None]


@dataclass(frozen=True, slots=True)
class DriverResult:
    """The outcome of one action, delivered exactly once."""

    driver: str
    action: str
    oid: int
    host: str | None
    success: bool
    info: str
    origin: Origin
    duration: float  # seconds from submit to outcome

    def info_bytes(self) -> bytes:
        """INFO decoded from base64 (monitoring data); raises ValueError if it is not."""
        try:
            return binascii.a2b_base64(self.info.encode("ascii"), strict_mode=True)
        except (binascii.Error, UnicodeEncodeError) as e:
            raise ValueError(f"{self.action} info is not base64: {e}") from None


@dataclass(frozen=True)
class DriverSpec:
    """How to run one driver.

    ``concurrency`` bounds the actions written to the driver and not yet
    answered (beyond it they queue in the core, in order). ``timeout`` is the
    default seconds from submit to answer, ``timeouts`` overrides it per action
    name (e.g. ``{"MONITOR": 30, "DEPLOY": 600}``). A driver that dies is
    restarted after ``restart_initial`` seconds, doubling up to ``restart_max``
    while it keeps dying within ``stable_after`` seconds of its start.
    """

    name: str
    command: tuple[str, ...]
    concurrency: int = 64
    #: Actions in flight on one host at once (0: no limit beyond ``concurrency``);
    #: more wait in the core, in order, so a host busy deploying cannot take every
    #: slot of a driver that serves a thousand hosts. Probes do not count.
    host_concurrency: int = 0
    #: Probes (``PROBES``: host and VM monitoring) run in a lane of their own with this
    #: many slots, so that actions filling ``concurrency`` never delay monitoring.
    probe_concurrency: int = 64
    timeout: float = 300.0
    timeouts: Mapping[str, float] = field(default_factory=dict)
    init_timeout: float = 15.0
    env: Mapping[str, str] | None = None
    restart_initial: float = 0.1
    restart_max: float = 30.0
    stable_after: float = 30.0
    finalize_grace: float = 5.0
    #: After this many failed starts in a row, queued and new actions fail at once
    #: (origin "unavailable") instead of waiting for a driver that cannot start.
    unavailable_after: int = 3
    #: What the driver can do (nubo.drivers.capabilities); None: everything, as before
    #: drivers declared capabilities.
    capabilities: frozenset[str] | None = None
    #: Send ``DRIVER_CANCEL ID HOST ACTION`` when an action times out, so that the
    #: driver can stop it (the action fails with origin "timeout" either way).
    cancel_on_timeout: bool = False

    def __post_init__(self) -> None:
        if isinstance(self.command, str):
            object.__setattr__(self, "command", tuple(shlex.split(self.command)))
        else:
            object.__setattr__(self, "command", tuple(self.command))
        if not self.name or not self.command:
            raise ValueError("a driver needs a name and a command")
        for key in ("concurrency", "probe_concurrency"):
            if getattr(self, key) < 1:
                raise ValueError(f"driver {self.name}: {key} must be at least 1")
        if self.host_concurrency < 0:
            raise ValueError(f"driver {self.name}: host_concurrency must be 0 (no limit) "
                             "or more")
        if self.capabilities is not None:
            object.__setattr__(self, "capabilities",
                               caps.check(self.capabilities, self.name))
        for action, seconds in {"*": self.timeout, **self.timeouts}.items():
            if not seconds > 0:
                raise ValueError(f"driver {self.name}: timeout for {action} must be positive")
        timeouts = {k.upper(): float(v) for k, v in self.timeouts.items()}
        object.__setattr__(self, "timeouts", timeouts)

    def timeout_for(self, action: str) -> float:
        return self.timeouts.get(action, self.timeout)

    def can(self, capability: str) -> bool:
        return self.capabilities is None or capability in self.capabilities

    @classmethod
    def from_mapping(cls, name: str, values: Mapping[str, object]) -> DriverSpec:
        """Build from a config table, e.g. TOML ``[drivers.dummy]``; unknown keys are errors."""
        known = {f for f in cls.__dataclass_fields__ if f != "name"}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"driver {name}: unknown key(s) {', '.join(unknown)}")
        if "command" not in values:
            raise ValueError(f"driver {name}: 'command' is required")
        command = values["command"]
        if not isinstance(command, str | Sequence) or not command:
            raise ValueError(f"driver {name}: command must be a string or a list of strings")
        return cls(name=name, **values)  # type: ignore[arg-type]


def specs_from_config(table: Mapping[str, Mapping[str, object]]) -> list[DriverSpec]:
    """All drivers of a ``[drivers.NAME]`` config table."""
    return [DriverSpec.from_mapping(name, values) for name, values in table.items()]


@dataclass
class DriverStats:
    """A snapshot of one driver's counters (for logs, metrics and tests)."""

    name: str
    state: str
    pid: int | None
    starts: int = 0
    submitted: int = 0
    succeeded: int = 0
    failed: int = 0
    timeouts: int = 0
    crashed: int = 0  # actions failed because the driver died
    protocol_errors: int = 0
    in_flight: int = 0
    queued: int = 0
