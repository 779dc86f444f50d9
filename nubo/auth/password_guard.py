"""Password checks that guessing can neither use to take the API down nor to learn who exists.

A KDF run (argon2id: ~100 ms of CPU and 64 MiB) per wrong password, on an API
thread, let a few guessing clients fill every API thread and the memory. So:

* every KDF run goes to a small pool of its own (``workers`` threads, at most
  ``queue`` checks waiting); when it is full a check fails at once as a wrong
  password would, rather than queue without bound;
* a user name, and a client address, with too many failures in a window is
  backed off (nubo.auth.backoff): its checks are refused before any KDF runs,
  for a delay that grows while the failures go on and then ends; a back-off is
  logged once when it starts, not at each refused attempt;
* a password verified recently is remembered (passwords.CredentialCache, which
  only successes enter), and that is looked at first: sessions in use stay
  fast, and a flood can neither evict them nor lock them out;
* an unknown or disabled user, or one without an argon2 hash, costs what a known
  one does: the same KDF runs against a fixed dummy hash, in the same pool.
"""
from __future__ import annotations

import logging
import secrets
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable

import argon2

from nubo.auth import passwords
from nubo.auth.backoff import Backoff, BackoffPolicy

log = logging.getLogger("nubo.auth")


@dataclass(frozen=True)
class GuardSettings:
    workers: int = 2                  # KDF runs at once
    queue: int = 8                    # checks waiting for a worker; beyond, refused
    user: BackoffPolicy = field(default_factory=BackoffPolicy)
    source: BackoffPolicy = field(default_factory=lambda: BackoffPolicy(failures=20))


class PoolBusy(Exception):
    """Every KDF worker is busy and the queue is full."""


class KdfPool:
    """A few threads for KDF runs, with a bounded queue (ThreadPoolExecutor's is not)."""

    def __init__(self, workers: int, queue: int) -> None:
        self._executor = ThreadPoolExecutor(max(1, workers), thread_name_prefix="kdf")
        self._slots = threading.BoundedSemaphore(max(1, workers) + max(0, queue))

    def run(self, fn: Callable[..., bool], *args: object) -> bool:
        """``fn(*args)`` on a worker; waits for it. PoolBusy when no slot is free."""
        if not self._slots.acquire(blocking=False):
            raise PoolBusy()
        try:
            future = self._executor.submit(fn, *args)
        except BaseException:
            self._slots.release()
            raise
        future.add_done_callback(lambda _f: self._slots.release())
        return future.result()

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


@dataclass
class GuardStats:
    """Counters for /metrics."""

    kdf_runs: int = 0          # against a real hash
    dummy_runs: int = 0        # against the dummy hash (unknown user, no argon2 hash)
    refused_backoff: int = 0
    refused_busy: int = 0
    backoffs_user: int = 0
    backoffs_source: int = 0


class PasswordGuard:
    """check(): is this the user's password? (see the module's docstring)."""

    def __init__(self, settings: GuardSettings | None = None, *,
                 cache: passwords.CredentialCache | None = None,
                 hasher: argon2.PasswordHasher | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings or GuardSettings()
        self.cache = cache if cache is not None else passwords.CredentialCache(hasher=hasher)
        self.hasher = hasher
        self.clock = clock
        self.users = Backoff(self.settings.user, clock)
        self.sources = Backoff(self.settings.source, clock)
        self.stats = GuardStats()
        self._pool = KdfPool(self.settings.workers, self.settings.queue)
        self._lock = threading.Lock()
        self._dummy: str | None = None
        self._busy_logged = float("-inf")

    def check(self, name: str, password: str, stored: str | None,
              source: str | None = None) -> bool:
        """True only when ``stored`` (the user's hash; None for no such user or a
        disabled one) verifies ``password``. A refusal (backed off, pool full) is False,
        as a wrong password: the caller answers both alike."""
        if stored and self.cache.check(name, password, stored):
            return True
        with self._lock:
            wait = max(self.users.refused_for(name), self.sources.refused_for(source))
            if wait > 0:
                self.stats.refused_backoff += 1
                return False
        try:
            ok = self._pool.run(self._verify, stored, password)
        except PoolBusy:
            self._busy(source)
            return False
        if ok and stored:
            self.cache.remember(name, password, stored)
            with self._lock:
                self.users.succeeded(name)
            return True
        self._failed(name, source)
        return False

    def close(self) -> None:
        self._pool.close()

    # on a KDF worker ------------------------------------------------------------------
    def _verify(self, stored: str | None, password: str) -> bool:
        if stored and stored.startswith("$argon2"):
            self._count("kdf_runs")
            return passwords.verify_password(stored, password, self.hasher)
        # No such user, a disabled one, no hash or an old SHA one: the same KDF run, so
        # that the answer takes as long as for a known user.
        self._count("dummy_runs")
        passwords.verify_password(self.dummy_hash(), password, self.hasher)
        return bool(stored) and passwords.verify_password(stored, password, self.hasher)

    def dummy_hash(self) -> str:
        """A hash of a random password with this guard's parameters, made once."""
        if self._dummy is None:
            made = passwords.hash_password(secrets.token_urlsafe(24), self.hasher)
            with self._lock:
                if self._dummy is None:
                    self._dummy = made
        return self._dummy

    # bookkeeping ------------------------------------------------------------------------
    def _count(self, counter: str) -> None:
        with self._lock:
            setattr(self.stats, counter, getattr(self.stats, counter) + 1)

    def _failed(self, name: str, source: str | None) -> None:
        with self._lock:
            user_delay = self.users.failed(name)
            source_delay = self.sources.failed(source)
            self.stats.backoffs_user += user_delay > 0
            self.stats.backoffs_source += source_delay > 0
        p = self.settings
        if user_delay:
            log.warning("authentication: %d failed password checks of user %r within %g s; "
                        "its checks are refused for %g s", p.user.failures, name,
                        p.user.window, user_delay)
        if source_delay:
            log.warning("authentication: %d failed password checks from %s within %g s; "
                        "its checks are refused for %g s", p.source.failures, source,
                        p.source.window, source_delay)

    def _busy(self, source: str | None) -> None:
        now = self.clock()
        with self._lock:
            self.stats.refused_busy += 1
            if now - self._busy_logged < self.settings.user.window:
                return
            self._busy_logged = now
        log.warning("authentication: every password check worker is busy (%d running, %d "
                    "waiting): checks are refused until one is free (this one from %s; "
                    "logged at most once every %g s)", self.settings.workers,
                    self.settings.queue, source, self.settings.user.window)
