"""Drivers as separate processes, spoken to over a line protocol (docs/drivers.md).

A driver that crashes or misbehaves fails its own actions and is restarted; it
never takes the core down. The public interface is small::

    from nubo.drivers import DriverManager, DriverSpec, DriverResult

    manager = DriverManager([DriverSpec("dummy", [sys.executable, "-m",
                                                  "nubo.drivers.dummy", "vmm,im,tm"])])
    manager.start()
    result = manager.submit("dummy", "DEPLOY", 42, "host1", xml).result()

The core reaches them through a :class:`DriverRegistry` (nubo.drivers.registry),
which says which driver serves a host, a datastore or a network and what each can
do (nubo.drivers.capabilities).
"""
from __future__ import annotations

from nubo.drivers.driver_manager import DriverManager, log_driver_message
from nubo.drivers.protocol import ProtocolError
from nubo.drivers.registry import DriverKind, DriverRegistry
from nubo.drivers.spec import DriverResult, DriverSpec, DriverStats, Origin, specs_from_config

__all__ = [
    "DriverKind",
    "DriverManager",
    "DriverRegistry",
    "DriverResult",
    "DriverSpec",
    "DriverStats",
    "Origin",
    "ProtocolError",
    "log_driver_message",
    "specs_from_config",
]
