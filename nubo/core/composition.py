"""The core, composed once: the store, the cloud and its pools, and the managers acting on it.

``nubo serve`` builds one :class:`Core` and hands each part what it needs at
construction: the life-cycle manager and the host monitor get the cloud and the driver
manager, the hook manager the cloud (and the store's commits to watch), the
scheduled-action timer the cloud and the front's way of running an action. The cloud
reads its managers from here (``cloud.lifecycle``, ``cloud.monitor``, ``cloud.hooks``,
``cloud.sched_timer``); nothing is set on it from outside afterwards.
"""
from __future__ import annotations

import logging
from typing import Callable

from nubo.config import Config, driver_specs
from nubo.core.cloud import Cloud
from nubo.core.duty_keeper import Duty, DutyKeeper
from nubo.core.image_manager import ImageManager
from nubo.core.lcm import LifeCycleManager
from nubo.core.monitor import HostMonitor
from nubo.core.sched_timer import ScheduledActionTimer, time_zone
from nubo.drivers import DriverManager, DriverRegistry
from nubo.hooks import events as hook_events
from nubo.hooks.hook_manager import HookManager
from nubo.model.sched_action import SchedAction
from nubo.model.vm import VirtualMachine
from nubo.store.db import Database

log = logging.getLogger("nubo")

#: Runs one scheduled action on one VM as its owner, through a front's own method
#: (nubo.api.sched_runner.run); returns None, or the error to record in MESSAGE.
ActionRunner = Callable[[Cloud, VirtualMachine, SchedAction], "str | None"]


class Core:
    """The store, the cloud, the driver manager and the managers of one core process.

    Built before the cloud is bootstrapped (the managers touch nothing until
    :meth:`start`); without ``run_scheduled`` it runs no scheduled-action timer.
    """

    def __init__(self, config: Config, db: Database, *,
                 run_scheduled: ActionRunner | None = None) -> None:
        self.config = config
        self.db = db
        self.cloud = Cloud(db, config, services=self)
        self.pools = self.cloud.pools
        self.drivers = DriverManager(driver_specs(config))
        self.registry = DriverRegistry.from_config(self.drivers, config)  # who serves what
        self.hooks: HookManager = HookManager(self.cloud)
        hook_events.register(db.engine, self.hooks)  # state hooks: watch the commits
        self.lifecycle: LifeCycleManager = LifeCycleManager(self.cloud, self.registry)
        self.images: ImageManager = ImageManager(self.cloud, self.registry)
        self._monitor = HostMonitor(self.cloud, self.registry, config.host_monitoring_interval)
        self._monitoring = False
        self.duties: DutyKeeper | None = None
        cloud = self.cloud
        self.sched_timer: ScheduledActionTimer | None = None if run_scheduled is None else (
            ScheduledActionTimer(cloud, lambda vm, action: run_scheduled(cloud, vm, action),
                                 time_zone(config.sched_timezone)))

    @property
    def monitor(self) -> HostMonitor | None:
        """The host monitor once it runs (host monitoring on): a new host is then probed
        at once; before, it waits for the first round."""
        return self._monitor if self._monitoring else None

    def start(self) -> None:
        """Start the drivers, queue the hooks left from before a stop, then take the duties
        that run in one core process at a time among those sharing the store (nubo.core.
        duty_keeper): monitoring rounds, the scheduled-action timer and the reconciliation
        of VMs awaiting a driver when the core stopped (in the background)."""
        self.drivers.start()
        log.info("drivers started: %s", ", ".join(self.drivers.names))
        self.hooks.recover()  # hooks matched before a crash and not yet run
        duty_list = [Duty("monitoring", self._start_monitoring, self._stop_monitoring)]
        if self.sched_timer is not None:
            duty_list.append(Duty("sched_actions", self.sched_timer.start,
                                  self.sched_timer.close))
        duty_list.append(Duty("reconcile", self._reconcile))
        self.duties = DutyKeeper(self.db, duty_list)
        self.duties.start()

    def _reconcile(self) -> None:
        """Ask again for what VMs (in the background) and images await from drivers."""
        self.lifecycle.reconcile_in_background()
        self.images.reconcile()

    def _start_monitoring(self) -> None:
        self._monitor.start()
        self._monitoring = self.config.host_monitoring_interval > 0

    def _stop_monitoring(self) -> None:
        self._monitoring = False
        self._monitor.close()

    def close(self) -> None:
        """Stop in order: work waiting for an unavailable database gives up (it is asked
        for again at the next start); then the drivers, whose in-flight actions end as
        "shutdown" (the VMs keep their awaited operation); then the workers finish what
        was queued, and the store closes."""
        self.db.outage.stop()
        if self.sched_timer is not None:
            self.sched_timer.close()
        self._stop_monitoring()
        self.drivers.close()
        self.lifecycle.close()
        self.images.close()
        self.cloud.guard.close()
        if self.duties is not None:
            self.duties.close()  # given up once stopped: another process may take them
        self.db.close()
