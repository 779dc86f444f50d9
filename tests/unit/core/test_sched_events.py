"""The scheduler's wake-up stamp moves when a noted transaction commits, never on rollback."""
from __future__ import annotations

import threading

import pytest
from sqlalchemy import text

from nubo.core import sched_events
from nubo.store.db import Database


def test_the_stamp_moves_once_the_transaction_commits(tmp_path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'n.db'}")
    before = sched_events.stamp(db)
    with db.write() as conn:
        sched_events.note(conn)
        sched_events.note(conn)  # twice in one transaction: one bump
        sched_events.note(conn, when=False)
        conn.execute(text("select 1"))
        assert sched_events.stamp(db) == before  # not yet: still in the transaction
    assert sched_events.stamp(db) == before + 1
    with pytest.raises(RuntimeError):
        with db.write() as conn:
            sched_events.note(conn)
            raise RuntimeError("rolled back")
    with db.write() as conn:
        conn.execute(text("select 1"))  # a transaction that noted nothing
    assert sched_events.stamp(db) == before + 1
    db.close()


def test_waiters_wake_on_a_bump_or_time_out(tmp_path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'n.db'}")
    now = sched_events.stamp(db)
    assert sched_events.wait(now - 1, 5, db) == now  # already moved: at once
    assert sched_events.wait(now, 0.05, db) == now   # nothing happens: the timeout
    got: list[int] = []
    waiter = threading.Thread(target=lambda: got.append(sched_events.wait(now, 10, db)))
    waiter.start()
    sched_events.bump(db)
    waiter.join(5)
    assert got == [now + 1]
    db.close()
