"""Hot statements on every backend: the same rows as SQLAlchemy's own execution, in
the caller's transaction (a rollback undoes them), and the ordinary path for
parameters that need type processing."""
from __future__ import annotations

import pytest
from sqlalchemy import bindparam, insert, select, update

from dbs import BACKENDS, create_database, drop_database
from nubo.store.db import Database
from nubo.store.hot import HotStatement
from nubo.store.schema import awaited_operation, hook_queue

op = awaited_operation.c
ADD = HotStatement(insert(awaited_operation))
GET = HotStatement(select(op.driver, op.action, op.host_id, op.seq)
                   .where(op.object_id == bindparam("vm_id")))
BUMP = HotStatement(update(awaited_operation).where(op.object_id == bindparam("b_vm_id"))
                    .values(seq=op.seq + 1))


@pytest.fixture(params=BACKENDS)
def db(request, tmp_path):
    url = create_database(request.param, tmp_path)
    database = Database(url)
    database.migrate()
    yield database
    database.close()
    drop_database(request.param, url)


def test_rows_written_and_read_on_the_cursor(db):
    with db.write() as conn:
        ADD.run(conn, {"object_kind": "VM", "object_id": 1, "seq": 10, "driver": "vmm",
                       "action": "DEPLOY", "host_id": 4})
        assert GET.one(conn, {"vm_id": 1}) == ("vmm", "DEPLOY", 4, 10)
        assert BUMP.run(conn, {"b_vm_id": 1}) == 1
        assert BUMP.run(conn, {"b_vm_id": 99}) == 0
    with db.read() as conn:  # committed, and what SQLAlchemy itself reads
        assert conn.execute(select(op.seq).where(op.object_id == 1)).scalar() == 11
        assert GET.one(conn, {"vm_id": 2}) is None


def test_a_rollback_undoes_them(db):
    with pytest.raises(RuntimeError):
        with db.write() as conn:
            ADD.run(conn, {"object_kind": "VM", "object_id": 5, "seq": 1, "driver": "tm",
                           "action": "PROLOG", "host_id": 0})
            raise RuntimeError("abort")
    with db.read() as conn:
        assert GET.one(conn, {"vm_id": 5}) is None


def test_parameters_needing_conversion_take_the_ordinary_path(db):
    add = HotStatement(insert(hook_queue))  # a Boolean column
    get = HotStatement(select(hook_queue.c.retry).where(hook_queue.c.hook_id == bindparam("h")))
    with db.write() as conn:
        add.run(conn, {"hook_id": 3, "arguments": "x", "host": "", "retry": True})
        assert bool(get.one(conn, {"h": 3})[0]) is True


def test_no_connection_event_listener_slows_every_statement(tmp_path):
    # Any engine-level connection event (begin, commit, before_execute...) puts every
    # statement on SQLAlchemy's event-dispatching path; hooks, the scheduler's wake-up
    # and SQLite's BEGIN use the after-commit list instead (nubo.store.db).
    from nubo.core import sched_events
    from nubo.core.composition import Core
    from nubo.config import Config
    db = Database(f"sqlite:///{tmp_path / 'n.db'}")
    db.migrate()
    core = Core(Config(data_dir=tmp_path), db)  # registers its hook manager on the engine
    assert core.cloud.hooks is core.hooks
    with db.write() as conn:
        sched_events.note(conn)
    assert not db.engine._has_events
    db.close()
