"""The one place that says which driver serves an object, and what it can do.

OpenNebula routes each object's work to a driver named in the object: a host's
VM_MAD (virtualization) and IM_MAD (monitoring), a datastore's DS_MAD (images) and
TM_MAD (transfers), a virtual network's VN_MAD. The life-cycle, monitoring and
transfer code ask this registry instead of each looking drivers up its own way, so a
real driver (KVM, a Ceph datastore, an 802.1Q network) is one configuration row:

    [drivers.kvm]           # a process, as any driver
    command = "..."
    capabilities = ["live-resize", "live-migration", ...]

    [driver_routes.tm]      # TM_MAD -> the driver process that runs its scripts
    ceph = "tm-ceph"

A host's VM_MAD and IM_MAD name the driver process itself (as OpenNebula's do). A
datastore's TM_MAD and DS_MAD and a network's VN_MAD are first looked up in the
routes of their kind, else served by the kind's default (``transfer_driver``,
``datastore_driver``, ``network_driver``): one transfer driver serves every TM_MAD
by dispatching on each script line's TM_MAD, as OpenNebula's one_tm does.

It also hands actions to the driver manager (``submit_callback``), so a caller
needs only the registry.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from enum import StrEnum
from typing import Any

from nubo.drivers import capabilities as caps
from nubo.drivers.driver_manager import DriverManager
from nubo.drivers.spec import DriverResult


class DriverKind(StrEnum):
    """What a driver does for an object, as OpenNebula's ``*_MAD`` attributes."""

    VMM = "vmm"  # a host's VM_MAD
    IM = "im"    # a host's IM_MAD
    TM = "tm"    # a datastore's TM_MAD
    DS = "ds"    # a datastore's DS_MAD
    VN = "vn"    # a virtual network's VN_MAD


class DriverRegistry:
    """Name -> driver process and spec, by kind; the core's one way to its drivers."""

    def __init__(self, manager: DriverManager | None, *, transfer: str = "dummy",
                 datastore: str = "", network: str = "",
                 routes: Mapping[str, Mapping[str, str]] | None = None) -> None:
        self.manager = manager
        self._defaults = {DriverKind.TM: transfer, DriverKind.DS: datastore,
                          DriverKind.VN: network}
        self._routes: dict[DriverKind, dict[str, str]] = {k: {} for k in DriverKind}
        for kind, table in (routes or {}).items():
            try:
                self._routes[DriverKind(kind)] = dict(table)
            except ValueError:
                raise ValueError(f"driver routes: unknown kind {kind!r} (known: "
                                 f"{', '.join(k.value for k in DriverKind)})") from None

    @classmethod
    def from_config(cls, manager: DriverManager | None, config: Any) -> DriverRegistry:
        """The registry of ``nubo serve`` (nubo.config.Config); missing settings take
        their defaults, so a bare test config works too."""
        return cls(manager, transfer=getattr(config, "transfer_driver", "dummy"),
                   datastore=getattr(config, "datastore_driver", ""),
                   network=getattr(config, "network_driver", ""),
                   routes=getattr(config, "driver_routes", None))

    @classmethod
    def of(cls, drivers: DriverManager | DriverRegistry | None, config: Any) -> DriverRegistry:
        """``drivers`` as a registry (a bare manager gets the configured routes)."""
        if isinstance(drivers, DriverRegistry):
            return drivers
        return cls.from_config(drivers, config)

    # -- routing --------------------------------------------------------------------
    def route(self, kind: DriverKind, mad: str) -> str:
        """The driver process serving ``mad`` (a VM_MAD, TM_MAD...) of ``kind``."""
        routed = self._routes[kind].get(mad)
        if routed is not None:
            return routed
        if kind in (DriverKind.VMM, DriverKind.IM):
            return mad
        return self._defaults[kind]

    def vmm(self, host: Any) -> str:
        """The virtualization driver of a host (its VM_MAD)."""
        return self.route(DriverKind.VMM, host.vm_mad)

    def im(self, host: Any) -> str:
        """The information (monitoring) driver of a host (its IM_MAD)."""
        return self.route(DriverKind.IM, host.im_mad)

    def tm(self, tm_mad: str = "") -> str:
        """The driver that runs transfer scripts for a datastore's TM_MAD."""
        return self.route(DriverKind.TM, tm_mad)

    def ds(self, ds_mad: str = "") -> str:
        """The driver of a datastore's images (DS_MAD) and its monitoring."""
        return self.route(DriverKind.DS, ds_mad)

    def vn(self, vn_mad: str) -> str:
        """The driver of a virtual network (VN_MAD); "" for none."""
        return self.route(DriverKind.VN, vn_mad)

    # -- capabilities ---------------------------------------------------------------
    def capabilities(self, driver: str) -> frozenset[str]:
        """What ``driver`` declared it can do, in its spec or its INIT answer
        (everything, if it declared nothing or is not configured here: nubo assumed so
        before drivers declared)."""
        declared = self.manager.capabilities(driver) if self.manager is not None else None
        return caps.ALL if declared is None else declared

    def missing(self, driver: str, needed: list[str]) -> list[str]:
        """Those of ``needed`` the driver cannot do."""
        if not needed:
            return []
        have = self.capabilities(driver)
        return [c for c in needed if c not in have]

    # -- actions --------------------------------------------------------------------
    def submit_callback(self, driver: str, action: str, oid: int, host: str | None,
                        payload: bytes | str, callback: Callable[[DriverResult], None],
                        timeout: float | None = None) -> None:
        """DriverManager.submit_callback (an "unavailable" FAILURE without a manager)."""
        if self.manager is None:
            callback(DriverResult(driver, action, oid, host, False, "no drivers are running",
                                  "unavailable", 0.0))
            return
        self.manager.submit_callback(driver, action, oid, host, payload, callback, timeout)
