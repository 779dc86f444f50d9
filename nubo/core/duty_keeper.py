"""The duties this core process holds, among all the processes sharing its database.

A duty (monitoring rounds, the scheduled-action timer, start-up reconciliation) must run
in one process at a time. The keeper takes each one it can at start, starts it, and
renews its lease (nubo.store.duties) every third of its time to live; a standby process
keeps trying and starts a duty once its holder's lease ran out (the holder died or hung).
A holder that finds its lease taken stops that duty and does not take it again: its
threads cannot be started twice, and the other process does it now.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Callable

from nubo.store import duties
from nubo.store.db import Database
from nubo.store.outage import DatabaseUnavailable

log = logging.getLogger("nubo.duties")

#: Seconds a lease lasts unless renewed: how long a dead holder's duties wait.
TTL = 15.0


@dataclass
class Duty:
    name: str
    start: Callable[[], object]
    stop: Callable[[], object] | None = None


class DutyKeeper:
    def __init__(self, db: Database, duty_list: list[Duty], *, ttl: float = TTL,
                 holder: str | None = None) -> None:
        self.db = db
        self.duties = duty_list
        self.ttl = ttl
        self.holder = holder or duties.holder_name()
        self._held: set[str] = set()
        self._lost: set[str] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._renew_loop, name="duties", daemon=True)

    def held(self, name: str) -> bool:
        return name in self._held

    def start(self) -> None:
        """Take (and start) every duty free now, then renew and watch, on a thread of
        its own: the API starts at once even when the database makes writes wait."""
        self._thread.start()

    def close(self) -> None:
        """Stop renewing and give every held duty up, so another process takes it at once
        (the duties themselves are stopped by their owners)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(5)
        for name in sorted(self._held):
            try:
                duties.release(self.db, name, self.holder)
            except DatabaseUnavailable:
                pass  # it runs out by itself
        self._held.clear()

    def _renew_loop(self) -> None:
        self._round()
        if len(self._held) < len(self.duties) and not self._stop.is_set():
            log.info("duties held by another core process: %s (standing by)",
                     ", ".join(d.name for d in self.duties if d.name not in self._held))
        while not self._stop.wait(self.ttl / 3):
            self._round()

    def _round(self) -> None:
        for duty in self.duties:
            if duty.name in self._lost or self._stop.is_set():
                continue
            try:
                ours = duties.acquire(self.db, duty.name, self.holder, self.ttl)
            except DatabaseUnavailable:
                continue  # kept while the lease lasts; checked again next round
            except Exception:
                log.exception("duty %s: cannot renew", duty.name)
                continue
            if ours and duty.name not in self._held:
                self._held.add(duty.name)
                log.info("duty %s: held by this core process (%s)", duty.name, self.holder)
                duty.start()
            elif not ours and duty.name in self._held:
                self._held.discard(duty.name)
                self._lost.add(duty.name)
                log.error("duty %s: lease taken by another core process, stopping it here",
                          duty.name)
                if duty.stop is not None:
                    duty.stop()
