"""A VM's last poll is stored beside it and read with it, its row untouched."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from dbs import BACKENDS, create_database, drop_database

from nubo.api.listings import ListingCache
from nubo.api.wire import escape_text
from nubo.core.pool_set import make_pools
from nubo.model import xmlobj
from nubo.model.vm_template import build_vm
from nubo.model.vmbody import short_body
from nubo.model.xmlobj import RawXml
from nubo.store import last_poll
from nubo.store.db import Database
from nubo.template import parse

POLL = "<MONITORING><CPU>5</CPU><ID>{id}</ID><TIMESTAMP>{t}</TIMESTAMP></MONITORING>"


@pytest.mark.parametrize("backend", BACKENDS)
def test_reads_join_the_last_poll_and_listings_stay_cached(tmp_path, backend):
    url = create_database(backend, tmp_path)
    db = Database(url)
    db.migrate()
    vms = make_pools().vms
    with db.write() as conn:
        for i in range(3):
            vms.insert(conn, build_vm(vms.next_oid(conn), parse(f'NAME = "v{i}"\nCPU = 1\n'
                                                                'MEMORY = 64'),
                                      uid=0, gid=0, uname="oneadmin", gname="oneadmin", now=1))
    cache = ListingCache(escape_text)

    def listing(column: str) -> list[bytes]:
        with db.read() as conn:
            return cache.parts(conn, vms.table, column, None)

    def versions() -> list[int]:
        with db.read() as conn:
            return list(conn.execute(select(vms.table.c.version)).scalars())

    first = listing("body")
    assert b"&lt;LAST_POLL&gt;0&lt;/LAST_POLL&gt;" in first[1]
    for t in (100, 160):  # two rounds: a first poll, then one over it
        with db.write() as conn:
            last_poll.record(conn, {1: (t, POLL.format(id=1, t=t)),
                                    2: (t, POLL.format(id=2, t=t))})
        assert versions() == [0, 0, 0]
        with db.read() as conn:
            vm = vms.find(conn, 1)
            assert vms.body(conn, 1) == xmlobj.render(vm, "VM")
        assert vm.last_poll == t and vm.monitoring == POLL.format(id=1, t=t)
        for column, render in (("body", lambda v: xmlobj.render(v, "VM")),
                               ("short_body", short_body)):
            assert listing(column)[1] == escape_text(render(vm))
        assert listing("body")[0] == first[0]  # never polled: as stored
    with db.write() as conn:  # the life-cycle's objects carry the poll too
        taken = vms.take(conn, 2)
        assert taken.last_poll == 160 and taken.monitoring == POLL.format(id=2, t=160)
        taken.monitoring = RawXml("<MONITORING/>")
        vms.update(conn, taken)  # a body written with an older poll still reads the last
    with db.read() as conn:
        assert "<TIMESTAMP>160</TIMESTAMP>" in vms.body(conn, 2)
        assert all("<TIMESTAMP>160</TIMESTAMP>" in b for b in vms.bodies(conn)[1:])
    assert b"&lt;TIMESTAMP&gt;160&lt;/TIMESTAMP&gt;" in listing("short_body")[2]
    db.close()
    drop_database(backend, url)
