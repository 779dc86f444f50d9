"""The database out of reach is told from a bug, on every backend, and work waits for it."""
from __future__ import annotations

import socket
import threading

import pytest
from sqlalchemy import text

from dbs import PG_ADMIN, MY_ADMIN
from nubo.store.db import Database
from nubo.store.outage import DatabaseUnavailable, Outage, unavailable


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("admin,port", [(PG_ADMIN, ":5432/"), (MY_ADMIN, ":3306/")])
def test_a_server_out_of_reach_is_unavailable(admin, port):
    db = Database(admin.replace(port, f":{closed_port()}/"))
    with pytest.raises(DatabaseUnavailable) as raised:
        with db.read() as conn:
            conn.execute(text("SELECT 1"))
    assert unavailable(raised.value.__cause__)
    assert db.outage.since is not None
    db.close()


@pytest.mark.parametrize("url", [PG_ADMIN, MY_ADMIN, "sqlite://"])
@pytest.mark.parametrize("sql", ["SELECT * FROM no_such_table", "SELEC 1",
                                 "SELECT no_such_column FROM (SELECT 1 AS a) AS t"])
def test_logic_errors_are_raised_as_they_are(url, sql):
    db = Database(url)
    with pytest.raises(Exception) as raised:
        with db.write() as conn:
            conn.execute(text(sql))
    assert not isinstance(raised.value, DatabaseUnavailable)
    assert not unavailable(raised.value)
    assert db.outage.since is None
    db.close()


def test_sqlite_held_by_another_process_is_unavailable(tmp_path):
    import sqlite3
    db = Database(f"sqlite:///{tmp_path / 'x.db'}")
    with db.write() as conn:
        conn.execute(text("CREATE TABLE t (a INTEGER)"))
    other = sqlite3.connect(tmp_path / "x.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(DatabaseUnavailable):
            with db.write() as conn:
                conn.execute(text("SELECT * FROM t")).all()
                conn.execute(text("INSERT INTO t VALUES (1)"))
        with db.read() as conn:  # reading still works, and does not end the outage
            assert conn.execute(text("SELECT COUNT(*) FROM t")).scalar() == 0
        assert db.outage.since is not None
    finally:
        other.execute("ROLLBACK")
        other.close()
    with db.write() as conn:
        conn.execute(text("INSERT INTO t VALUES (1)"))
    assert db.outage.since is None
    db.close()


def test_retrying_runs_the_work_again_until_it_goes_through_and_calls_back():
    outage = Outage()
    tries: list[int] = []
    back = threading.Event()
    outage.on_back(back.set)

    def work() -> str:
        tries.append(1)
        if len(tries) < 3:
            outage.down(RuntimeError("gone"), write=True)
            raise DatabaseUnavailable("gone")
        outage.back(write=True)
        return "done"
    assert outage.retrying(work, "test") == "done"
    assert len(tries) == 3
    assert back.wait(5) and outage.since is None


def test_retrying_gives_up_once_stopping():
    outage = Outage()

    def work() -> None:
        outage.stop()
        raise DatabaseUnavailable("gone")
    with pytest.raises(DatabaseUnavailable):
        outage.retrying(work, "test")


def test_a_logic_error_is_not_retried():
    outage = Outage()
    tries: list[int] = []

    def work() -> None:
        tries.append(1)
        raise ValueError("a bug")
    with pytest.raises(ValueError):
        outage.retrying(work, "test")
    assert tries == [1]
