"""The listing cache never serves a stale body: every update bumps the row's version."""
from __future__ import annotations

from nubo.api.listings import ListingCache
from nubo.api.wire import escape_text
from nubo.core.pool_set import make_pools
from nubo.model.infra import Cluster
from nubo.store.db import Database


def test_listing_follows_inserts_updates_and_deletes(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'n.db'}")
    db.migrate()
    clusters = make_pools().clusters
    cache = ListingCache(escape_text)
    with db.write() as conn:
        for i in range(5):
            clusters.insert(conn, Cluster(id=clusters.next_oid(conn), name=f"c{i}"))

    def listing() -> list[bytes]:
        with db.read() as conn:
            return cache.parts(conn, clusters.table, "body", None)

    first = listing()
    assert len(first) == 5 and b"&lt;NAME&gt;c3&lt;/NAME&gt;" in first[3]
    assert (cache.hits, cache.misses) == (0, 5)
    assert listing() == first and cache.hits == 5 and cache.misses == 5
    with db.write() as conn:
        c = clusters.get(conn, 3)
        c.name = "renamed & <escaped>"
        clusters.update(conn, c)
        clusters.delete(conn, 1)
    again = listing()
    assert len(again) == 4 and cache.misses == 6
    # escaped twice: once in the XML body, once for the XML-RPC string
    assert b"&lt;NAME&gt;renamed &amp;amp; &amp;lt;escaped&amp;gt;&lt;/NAME&gt;" in again[2]
    with db.read() as conn:
        page = cache.parts(conn, clusters.table, "body", None, order_desc=True, offset=1, limit=2)
    assert page == [again[2], again[1]]
    db.close()


def test_cache_is_bounded(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'n.db'}")
    db.migrate()
    clusters = make_pools().clusters
    with db.write() as conn:
        for i in range(50):
            clusters.insert(conn, Cluster(id=clusters.next_oid(conn), name=f"cluster-{i}"))
    cache = ListingCache(escape_text, max_bytes=2000)
    with db.read() as conn:
        parts = cache.parts(conn, clusters.table, "body", None)
    assert len(parts) == 50 and all(parts)
    assert cache.size_bytes <= 2000
    db.close()
