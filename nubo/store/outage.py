"""The database out of reach: telling it from a bug, and waiting for it to come back.

A write that fails because the database cannot be reached (a server restarting, a
network cut, a connection killed) is not a bug in what was written: run again once
the database is back, it commits. Driver answers, monitoring reports, hook records and
scheduled actions are facts the core learned once and cannot ask for again for free, so
the threads that commit them wait for the database (``Outage.retrying``: capped
exponential back-off) instead of dropping them. API calls, whose client can try again,
get a "database unavailable" error at once.

Only connection trouble counts: a constraint violation, a syntax error or a wrong
value is a bug and is raised as it is, whatever the backend.
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Callable, TypeVar

from sqlalchemy import exc as sa_exc

log = logging.getLogger("nubo.store")

T = TypeVar("T")

#: Seconds before the first new try of a write, and the most between two tries.
FIRST_DELAY = 0.05
MAX_DELAY = 2.0

#: MySQL/MariaDB error numbers that mean "no connection": the server is gone, was
#: never reached, shut down or killed the connection (client errors 2002-2055,
#: server 1040 too many connections, 1053 shutdown, 1927 killed, 4031 idle timeout).
_MYSQL_GONE = frozenset({1040, 1053, 1927, 2002, 2003, 2005, 2006, 2013, 2055, 4031})
#: SQLite's primary result codes for a file that cannot be written now: SQLITE_BUSY,
#: SQLITE_LOCKED, SQLITE_IOERR, SQLITE_FULL, SQLITE_CANTOPEN.
_SQLITE_UNAVAILABLE = frozenset({5, 6, 10, 13, 14})


class DatabaseUnavailable(Exception):
    """The database could not be reached: nothing was committed (or, for a commit cut
    short, nobody knows), and the same work may be tried again once it is back."""


class Conflict(DatabaseUnavailable):
    """Another core process changed what this transaction read (a row's version moved,
    or the database chose this transaction to break a deadlock): nothing was committed
    and the same work, tried again at once, goes through. A kind of DatabaseUnavailable
    so that whoever tries again after an outage tries again after a conflict too."""


#: PostgreSQL's SQLSTATEs of a transaction the database gave up to let another proceed:
#: serialization_failure, deadlock_detected, lock_not_available.
_PG_CONFLICT = frozenset({"40001", "40P01", "55P03"})
#: MariaDB's: 1213 deadlock found, 1205 lock wait timeout, 1020 record changed.
_MYSQL_CONFLICT = frozenset({1020, 1205, 1213})


def conflict(error: BaseException) -> bool:
    """Whether ``error`` is the database refusing this transaction in favour of another
    (a deadlock or serialization failure), rather than a bug or an outage."""
    orig = getattr(error, "orig", None) if isinstance(error, sa_exc.DBAPIError) else error
    if orig is None:
        return False
    package = type(orig).__module__.split(".", 1)[0]
    if package in ("psycopg", "psycopg2"):
        code = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
        return code in _PG_CONFLICT
    if package == "pymysql":
        return bool(orig.args) and orig.args[0] in _MYSQL_CONFLICT
    return False


def unavailable(error: BaseException) -> bool:
    """Whether ``error`` (or an error it was raised from) is the database out of reach."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, DatabaseUnavailable):
            return True
        if isinstance(current, sa_exc.DBAPIError):
            if current.connection_invalidated:
                return True
            if _connection_error(current.orig):
                return True
        elif isinstance(current, sa_exc.TimeoutError):  # no pooled connection came back
            return True
        elif _connection_error(current):  # raised by the DBAPI itself (nubo.store.hot)
            return True
        current = current.__cause__ or current.__context__
    return False


def _connection_error(error: BaseException | None) -> bool:
    if error is None:
        return False
    package = type(error).__module__.split(".", 1)[0]
    if package in ("psycopg", "psycopg2"):
        # PostgreSQL's OperationalError is the connection's trouble (lost, refused, the
        # server shutting down, out of resources); logic errors have other classes.
        dbapi = __import__(package)
        return isinstance(error, (dbapi.OperationalError, dbapi.InterfaceError))
    if package == "pymysql":
        from pymysql import err
        if isinstance(error, err.InterfaceError):  # the connection is closed
            return True
        # pymysql makes most unknown server errors OperationalError: look at the number.
        return (isinstance(error, err.OperationalError) and bool(error.args)
                and error.args[0] in _MYSQL_GONE)
    if package == "sqlite3":
        # Another process holds the file (past the busy timeout), or the disk is full or
        # failing: BUSY, LOCKED, IOERR, FULL, CANTOPEN.
        return (getattr(error, "sqlite_errorcode", 0) & 0xFF) in _SQLITE_UNAVAILABLE
    return False


class Outage:
    """Whether the database is out of reach now: logged once when it goes and once when
    it is back (not once per failed statement), and callbacks run once it is back."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.since: float | None = None  # monotonic time the outage began; None: none
        self._writes_failed = False      # a write failed in it: only a write ends it
        self._waiting = 0                # works waiting for the database in this outage
        self._on_back: list[Callable[[], None]] = []
        self._stopping = threading.Event()

    def on_back(self, fn: Callable[[], None]) -> None:
        """Call ``fn()`` (on a thread of its own) each time the database is back."""
        self._on_back.append(fn)

    def down(self, error: BaseException, write: bool) -> None:
        with self._lock:
            self._writes_failed |= write
            if self.since is not None:
                return
            self.since = time.monotonic()
        log.warning("database unavailable (%s): API calls answer \"database unavailable\", "
                    "driver answers and other results wait until it is back",
                    _first_line(error))

    def back(self, write: bool) -> None:
        """A transaction committed. A read ends an outage only if no write failed in it:
        SQLite locked by another process still lets the core read."""
        with self._lock:
            if self.since is None or (self._writes_failed and not write):
                return
            lasted, waiting = time.monotonic() - self.since, self._waiting
            self.since, self._waiting, self._writes_failed = None, 0, False
        log.warning("database available again after %.1f s (%d task(s) were retrying; "
                    "answers queued behind them follow)", lasted, waiting)
        for fn in self._on_back:
            threading.Thread(target=fn, name="db-back", daemon=True).start()

    def stop(self) -> None:
        """The core is stopping: works waiting for the database give up (raising)."""
        self._stopping.set()

    def retrying(self, work: Callable[[], T], what: str) -> T:
        """``work()``, run again after a pause each time it raises DatabaseUnavailable
        (FIRST_DELAY doubling up to MAX_DELAY) until it returns, or until ``stop``
        (then DatabaseUnavailable is raised). ``work`` must be a whole transaction (or
        several), safe to run again: nothing of a failed try was committed."""
        delay = FIRST_DELAY
        waited = False
        while True:
            try:
                return work()
            except Conflict:
                if self._stopping.is_set():
                    raise
                continue  # another core process got there first: at once, no outage
            except DatabaseUnavailable:
                if self._stopping.is_set():
                    raise
                if not waited:
                    waited = True
                    with self._lock:
                        self._waiting += 1
                    log.info("%s: waiting for the database", what)
            if self._stopping.wait(delay):
                raise DatabaseUnavailable(f"{what}: the core is stopping")
            delay = min(delay * 2, MAX_DELAY)


def _first_line(error: BaseException) -> str:
    cause = error.__cause__ or error
    text = str(getattr(cause, "orig", None) or cause).strip().splitlines()
    return text[0] if text else type(cause).__name__
