"""Duties move to a standby core process once their holder stops renewing them, and a
holder whose lease was taken stops the duty."""
from __future__ import annotations

import time

from nubo.core.duty_keeper import Duty, DutyKeeper
from nubo.store import duties
from nubo.store.db import Database
from waits import wait_for

TTL = 0.6


def _keeper(db: Database, name: str, events: list[str]) -> DutyKeeper:
    return DutyKeeper(db, [Duty("monitoring", lambda: events.append(f"{name} start"),
                                lambda: events.append(f"{name} stop"))],
                      ttl=TTL, holder=name)


def test_a_standby_takes_the_duty_once_the_holder_stops_renewing(tmp_path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'n.db'}")
    db.migrate()
    events: list[str] = []
    first, second = _keeper(db, "first", events), _keeper(db, "second", events)
    try:
        first.start()  # takes its duties on its own thread
        wait_for("the first to hold the duty", lambda: first.held("monitoring"), 10)
        second.start()
        wait_for("the second to stand by", lambda: second._thread.is_alive(), 10)
        assert not second.held("monitoring")
        time.sleep(TTL * 1.5)  # renewed meanwhile: still the first's
        assert events == ["first start"]
        first._stop.set()  # the first hangs: no more renewals
        first._thread.join(5)
        wait_for("the standby to take over", lambda: second.held("monitoring"), 10)
        assert events == ["first start", "second start"]
        first._stop.clear()
        first._round()  # the first wakes up: its lease is gone, it stops the duty
        assert not first.held("monitoring")
        assert events == ["first start", "second start", "first stop"]
        first._round()  # and does not take it again
        assert events[-1] == "first stop"
    finally:
        second.close()
    assert duties.holder_of(db, "monitoring") is None  # released at close
    db.close()
