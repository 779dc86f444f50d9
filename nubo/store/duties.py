"""Duty leases: what one core process at a time must do, held through a row with expiry.

Monitoring rounds, the scheduled-action timer and start-up reconciliation must run in
one core process even when several share the database. Each is a row of ``duty``: its
holder renews it before ``expires``; past that (the holder died or hung), any process
may take it. Every change is one conditional statement, atomic on every backend, and
time is the wall clock (epoch seconds), which every process on the database shares.
"""
from __future__ import annotations

import os
import socket
import time
import uuid

from sqlalchemy import and_, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from nubo.store.db import Database
from nubo.store.schema import duty


def holder_name() -> str:
    """This core process, as duty leases and hook job claims name it (host, pid, and a
    nonce for a reused pid)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def gone(holder: str) -> bool:
    """Whether ``holder`` (a holder_name) was a process of this machine that runs no more
    (its claims can be taken at once, without waiting for them to run out). A holder
    of another machine, or one that cannot be told, is not gone."""
    host, _, rest = holder.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return True  # an earlier process that had this pid (the holder is not this one's)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False  # someone else's process: alive
    return False


def acquire(db: Database, name: str, holder: str, ttl: float, now: float | None = None) -> bool:
    """Take or renew duty ``name`` for ``ttl`` seconds; False if another holder's lease
    is still running."""
    now = time.time() if now is None else now
    with db.write() as conn:
        taken = conn.execute(
            update(duty)
            .where(duty.c.name == name, or_(duty.c.holder == holder, duty.c.expires < now))
            .values(holder=holder, expires=now + ttl)).rowcount
        if taken == 1:
            return True
        if conn.execute(select(duty.c.name).where(duty.c.name == name)).first() is not None:
            return False
        try:
            with conn.begin_nested():  # the duty's first holder: another may race for it
                conn.execute(insert(duty).values(name=name, holder=holder,
                                                 expires=now + ttl))
        except IntegrityError:
            return False
    return True


def release(db: Database, name: str, holder: str) -> None:
    """Give duty ``name`` up at once (a stopping core), if ``holder`` still has it."""
    with db.write() as conn:
        conn.execute(update(duty).where(and_(duty.c.name == name, duty.c.holder == holder))
                     .values(expires=0.0))


def holder_of(db: Database, name: str, now: float | None = None) -> str | None:
    """Who holds duty ``name`` now (None: nobody, or the lease ran out)."""
    now = time.time() if now is None else now
    with db.read() as conn:
        row = conn.execute(select(duty.c.holder, duty.c.expires)
                           .where(duty.c.name == name)).first()
    return row.holder if row is not None and row.expires >= now else None
