""""Placement may have changed": a stamp the scheduler long-polls (``nubo.sched.wait``).

The core calls ``note(conn)`` in a transaction that makes a VM PENDING, frees
capacity on a host, or adds / enables / monitors a host; once that transaction
commits, the stamp moves on and every waiter wakes. A rolled-back transaction
moves nothing.

Two counters make the stamp. This process's own, in memory, wakes its waiters the
moment its commit is done (the fast path, and all there is on SQLite, which one core
process owns). On PostgreSQL and MariaDB, which several core processes may share, the
noted transaction also bumps the ``placement`` row of ``change_stamp`` as its last
statement, and a waiter polls that row every POLL seconds: a change committed by
another process wakes this one's scheduler too. The stamp is their sum: it moves
whenever either does.
"""
from __future__ import annotations

import time
from typing import Any

from sqlalchemy import Connection, bindparam, select, update

from nubo.store.db import DATABASE, Database, before_commit, on_commit
from nubo.store.hot import HotStatement
from nubo.store.outage import DatabaseUnavailable
from nubo.store.schema import change_stamp

_KEY = "nubo.sched_events"
_NAME = "placement"
#: Seconds between two reads of the shared stamp by a waiter.
POLL = 0.25

_BUMP = HotStatement(update(change_stamp).where(change_stamp.c.name == bindparam("n"))
                     .values(value=change_stamp.c.value + 1))
_READ = HotStatement(select(change_stamp.c.value).where(change_stamp.c.name == bindparam("n")))


def stamp(db: Database) -> int:
    """This process's counter (the whole stamp on SQLite)."""
    return db.local_stamp(_NAME).value


def bump(db: Database) -> None:
    db.local_stamp(_NAME).bump()


def _bump_shared(conn: Connection) -> None:
    _BUMP.run(conn, {"n": _NAME})


def note(conn: Connection, when: bool = True) -> None:
    """Wake the scheduler once this write transaction (Database.write) commits (if
    ``when``).

    Through the transaction's after-commit list (nubo.store.db), once per transaction:
    an engine commit listener would do the same but slow down every statement."""
    db = conn.info.get(DATABASE)
    if not when or db is None:  # no write transaction: nothing was changed
        return
    if conn.dialect.name != "sqlite":
        before_commit(conn, _bump_shared, _KEY)
    on_commit(conn, db.local_stamp(_NAME).bump, key=_KEY)


def note_decision(conn: Connection, decision: Any) -> None:
    """A life-cycle decision being committed: wake when it makes the VM PENDING or
    frees capacity on a host."""
    from nubo.lifecycle import Release, VmState
    note(conn, decision.state == VmState.PENDING
         or any(isinstance(c, Release) for c in decision.capacity))


def _shared(db: Database) -> int | None:
    try:
        with db.read() as conn:
            row = _READ.one(conn, {"n": _NAME})
    except DatabaseUnavailable:
        return None
    return int(row[0]) if row is not None else 0


def wait(last: int, timeout: float, db: Database) -> int:
    """The stamp, as soon as it differs from ``last`` or ``timeout`` seconds passed; on a
    server backend, changes committed by other core processes count too."""
    local = db.local_stamp(_NAME)
    if db.backend == "sqlite":
        return local.wait(last, timeout)
    deadline = time.monotonic() + max(0.0, timeout)
    shared = 0
    while True:
        mine = local.value
        read = _shared(db)
        shared = shared if read is None else read  # the database out of reach: as it was
        current = mine + shared
        left = deadline - time.monotonic()
        if current != last or left <= 0:
            return current
        local.wait(mine, min(left, POLL))
