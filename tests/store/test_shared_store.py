"""One database, several core processes: each Database object here stands for a process
(its own engine, pool and write lock), as two ``nubo serve`` on one PostgreSQL or
MariaDB database would be."""
from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest
from sqlalchemy import select, update

from concurrently import at_once
from dbs import BACKENDS, create_database, drop_database
from nubo.core import sched_events
from nubo.core.pool_set import make_pools
from nubo.model.infra import Host
from nubo.store import duties
from nubo.store.db import Database
from nubo.store.outage import Conflict
from nubo.store.pools import next_id
from nubo.store.schema import host_pool

SHARED = [b for b in BACKENDS if b != "sqlite"]  # SQLite belongs to one core process


def _database(backend: str, tmp_path):
    url = create_database(backend, tmp_path)
    first = Database(url)
    first.migrate()
    return url, first


@pytest.fixture(params=SHARED)
def two(request, tmp_path):
    url, first = _database(request.param, tmp_path)
    second = Database(url)
    yield first, second
    first.close()
    second.close()
    drop_database(request.param, url)


@pytest.fixture(params=BACKENDS)
def db(request, tmp_path):
    url, database = _database(request.param, tmp_path)
    yield database
    database.close()
    drop_database(request.param, url)


def _threads(dbs: tuple[Database, ...], per_db: int, work: Callable[[Database], None]) -> None:
    at_once([lambda d=d: work(d) for d in dbs for _ in range(per_db)], 120)


def test_ids_from_two_processes_are_never_shared(two):
    got: list[int] = []

    def allocate(database: Database) -> None:
        for _ in range(40):
            with database.write() as conn:
                got.append(next_id(conn, "group_pool"))
    _threads(two, 3, allocate)
    assert sorted(got) == list(range(len(got)))


def test_no_update_of_a_host_is_lost(two):
    pools = make_pools()
    with two[0].write() as conn:
        pools.hosts.insert(conn, Host(id=0, name="h", state=0, prev_state=0, im_mad="dummy",
                                      vm_mad="dummy", cluster_id=0, cluster="default"))

    def use(database: Database) -> None:
        for i in range(25):
            def once() -> None:
                with database.write() as conn:
                    # Both reads of the write path: the cached one and the plain one.
                    host = (pools.hosts.take if i % 2 else pools.hosts.find)(conn, 0)
                    host.host_share.cpu_usage += 10
                    host.host_share.running_vms += 1
                    pools.hosts.update(conn, host)
            database.retrying(once, "test")
    _threads(two, 3, use)
    with two[1].read() as conn:
        share = pools.hosts.get(conn, 0).host_share
    assert (share.running_vms, share.cpu_usage) == (150, 1500)


def test_a_deadlock_between_processes_is_a_conflict(two):
    pools = make_pools()
    with two[0].write() as conn:
        for hid in (0, 1):
            pools.hosts.insert(conn, Host(id=hid, name=f"h{hid}", state=0, prev_state=0,
                                          im_mad="dummy", vm_mad="dummy", cluster_id=0,
                                          cluster="default"))
    both_hold = threading.Barrier(2)
    outcomes: list[str] = []

    def cross(database: Database, first: int) -> None:
        try:
            with database.write() as conn:
                pools.hosts.find(conn, first)
                both_hold.wait()
                pools.hosts.find(conn, 1 - first)
            outcomes.append("committed")
        except Conflict:
            outcomes.append("conflict")

    threads = [threading.Thread(target=cross, args=(d, n)) for n, d in enumerate(two)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert sorted(outcomes) == ["committed", "conflict"]


def test_a_write_of_a_changed_row_is_refused(db):
    pools = make_pools()
    with db.write() as conn:
        pools.hosts.insert(conn, Host(id=0, name="h", state=0, prev_state=0, im_mad="dummy",
                                      vm_mad="dummy", cluster_id=0, cluster="default"))
    with pytest.raises(Conflict):
        with db.write() as conn:
            host = pools.hosts.get(conn, 0)
            conn.execute(update(host_pool).values(version=host_pool.c.version + 1))
            pools.hosts.update(conn, host)
    with db.write() as conn:  # read, written twice: its own writes move the version it checks
        host = pools.hosts.get(conn, 0)
        pools.hosts.update(conn, host)
        pools.hosts.update(conn, host)
    with db.read() as conn:
        assert conn.execute(select(host_pool.c.version)).scalar() == 2  # the refused one: none


def test_a_duty_has_one_holder_until_its_lease_runs_out(db):
    now = time.time()
    assert duties.acquire(db, "monitoring", "a", 10, now)
    assert not duties.acquire(db, "monitoring", "b", 10, now + 5)
    assert duties.acquire(db, "monitoring", "a", 10, now + 5)  # renewed until now + 15
    assert duties.holder_of(db, "monitoring", now + 14) == "a"
    assert not duties.acquire(db, "monitoring", "b", 10, now + 14)
    assert duties.acquire(db, "monitoring", "b", 10, now + 16)  # a's ran out
    duties.release(db, "monitoring", "a")  # not a's any more: nothing happens
    assert duties.holder_of(db, "monitoring", now + 17) == "b"
    duties.release(db, "monitoring", "b")
    assert duties.holder_of(db, "monitoring") is None
    assert duties.acquire(db, "monitoring", "a", 10)


def test_a_duty_taken_by_two_processes_at_once_has_one_holder(two):
    won: list[str] = []

    def take(database: Database) -> None:
        if duties.acquire(database, "timer", f"p{id(database)}-{threading.get_ident()}", 10):
            won.append("x")
    _threads(two, 3, take)
    assert won == ["x"]


def test_the_scheduler_wakes_for_a_change_committed_by_another_process(two):
    first, second = two
    last = sched_events.wait(-1, 0, second)
    got: list[int] = []
    waiter = threading.Thread(target=lambda: got.append(sched_events.wait(last, 10, second)))
    waiter.start()
    time.sleep(0.3)
    with first.write() as conn:
        sched_events.note(conn)
    waiter.join(10)
    assert got and got[0] != last
    # Only the shared part moved: each store's local stamp is its own, as two processes'.
    assert sched_events.stamp(second) == 0
    assert sched_events.wait(-1, 0, second) == last + 1
