"""The writer's cache of parsed objects, against a real SQLite store: an object comes
back from the cache only while its row is the version the cache wrote, never after a
rollback, and never when the row was changed through another copy."""
from __future__ import annotations

from pathlib import Path

import pytest

from nubo.core.pool_set import make_pools
from nubo.model import xmlobj
from nubo.model.infra import Host
from nubo.store.db import Database


@pytest.fixture
def store(tmp_path: Path):
    db = Database(f"sqlite:///{tmp_path / 'nubo.db'}")
    db.migrate()
    pools = make_pools()
    with db.write() as conn:
        pools.hosts.insert(conn, Host(id=3, name="n3", state=2, prev_state=2, im_mad="dummy",
                                      vm_mad="dummy", cluster_id=0, cluster="default"))
    yield db, pools
    db.close()


def _body(db: Database, pools, oid: int) -> Host:
    with db.read() as conn:
        return pools.hosts.get(conn, oid)


def test_a_committed_object_is_served_again_without_a_parse(store):
    db, pools = store
    cache = pools.hosts.write_cache
    with db.write() as conn:
        host = pools.hosts.take(conn, 3)
        host.host_share.cpu_usage = 50
        pools.hosts.update(conn, host)
    with db.write() as conn:
        again = pools.hosts.take(conn, 3)
    assert again is host and cache.hits == 1
    assert _body(db, pools, 3).host_share.cpu_usage == 50


def test_an_object_taken_and_not_changed_comes_back_at_its_version(store):
    db, pools = store
    with db.write() as conn:
        first = pools.hosts.take(conn, 3)
    with db.write() as conn:
        assert pools.hosts.take(conn, 3) is first


def test_a_rollback_leaves_no_changed_object_behind(store):
    db, pools = store
    with db.write() as conn:
        pools.hosts.take(conn, 3)  # cached now
    with pytest.raises(RuntimeError):
        with db.write() as conn:
            host = pools.hosts.take(conn, 3)
            host.host_share.cpu_usage = 999
            pools.hosts.update(conn, host)
            raise RuntimeError("abort")
    with db.write() as conn:
        fresh = pools.hosts.take(conn, 3)
    assert fresh is not host and fresh.host_share.cpu_usage == 0


def test_a_row_written_through_another_copy_is_parsed_again(store):
    db, pools = store
    with db.write() as conn:
        cached = pools.hosts.take(conn, 3)
    with db.write() as conn:
        other = pools.hosts.get(conn, 3)  # as an API method reads it
        other.host_share.mem_usage = 123
        pools.hosts.update(conn, other)
    with db.write() as conn:
        fresh = pools.hosts.take(conn, 3)
    assert fresh is not cached and fresh.host_share.mem_usage == 123


def test_a_copy_written_in_the_same_transaction_wins_over_the_taken_one(store):
    db, pools = store
    with db.write() as conn:
        taken = pools.hosts.take(conn, 3)
        other = pools.hosts.get(conn, 3)
        other.host_share.mem_usage = 7
        pools.hosts.update(conn, other)
    with db.write() as conn:
        fresh = pools.hosts.take(conn, 3)
    assert fresh is not taken and fresh.host_share.mem_usage == 7


def test_outside_a_write_transaction_nothing_is_kept(store):
    db, pools = store
    with db.read() as conn:
        pools.hosts.take(conn, 3)
    assert len(pools.hosts.write_cache) == 0


def test_the_cache_is_bounded(store, monkeypatch):
    db, pools = store
    cache = pools.hosts.write_cache
    monkeypatch.setattr(cache, "capacity", 2)
    with db.write() as conn:
        for oid in (10, 11, 12):
            h = xmlobj.parse(Host, xmlobj.render(pools.hosts.get(conn, 3), "HOST"))
            h.id, h.name = oid, f"n{oid}"
            pools.hosts.insert(conn, h)
    for oid in (10, 11, 12):
        with db.write() as conn:
            pools.hosts.take(conn, oid)
    assert len(cache) == 2
