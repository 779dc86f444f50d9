"""Hook events: noted in a transaction, handed to the manager only if it commits."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from nubo.hooks import events
from nubo.hooks.hook_manager import api_message, expand
from nubo.store.db import Database


@dataclass
class _Obj:
    id: int
    state: int
    lcm_state: int = 0


class _Manager:
    """Records what it is told; matches stored in a transaction wait for ``enqueue``
    (the commit)."""

    def __init__(self) -> None:
        self.seen: list[tuple] = []

    def store(self, conn, jobs) -> list[tuple]:
        return jobs

    def submit(self, jobs) -> None:
        self.seen.extend(jobs)

    def enqueue(self, jobs) -> None:
        self.seen.extend(jobs)

    def vm_state(self, vm_id, state, lcm, body) -> list[tuple]:
        return [("VM", vm_id, state, lcm)]

    def host_state(self, host_id, state, body) -> list[tuple]:
        return [("HOST", host_id, state)]


@pytest.fixture
def db(tmp_path: Path):
    d = Database(f"sqlite:///{tmp_path / 'n.db'}")
    yield d
    d.close()


def test_only_committed_changes_reach_the_manager(db):
    manager = _Manager()
    events.register(db.engine, manager)
    with db.write() as conn:
        events.vm_committed(conn, _Obj(1, 3, 3), _Obj(1, 3, 2))
        events.vm_committed(conn, _Obj(2, 3, 3), _Obj(2, 3, 3))  # unchanged: nothing
        assert manager.seen == []  # not before the commit
    assert manager.seen == [("VM", 1, "ACTIVE", "RUNNING")]
    with pytest.raises(RuntimeError):
        with db.write() as conn:
            events.host_committed(conn, _Obj(7, 3))
            raise RuntimeError("rolled back")
    with db.write() as conn:
        events.host_committed(conn, _Obj(8, 4))
    assert manager.seen[1:] == [("HOST", 8, "DISABLED")]


def test_unwatched_engines_cost_nothing(tmp_path: Path):
    other = Database(f"sqlite:///{tmp_path / 'o.db'}")
    try:
        with other.write() as conn:
            events.vm_committed(conn, _Obj(1, 6), _Obj(1, 3, 3))
            assert "nubo.hook_events" not in conn.info
    finally:
        other.close()


def test_arguments_and_api_message():
    assert expand("$ID $TEMPLATE $IDX", {"ID": "5", "TEMPLATE": "PFg+"}) == "5 PFg+ 5X"
    msg = api_message("one.vm.allocate", ["NAME=a & b", False], 12)
    assert "<VALUE>NAME=a &amp; b</VALUE>" in msg and "<TYPE>OUT</TYPE><VALUE>12</VALUE>" in msg
