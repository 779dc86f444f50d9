"""The journal of awaited operations serves any object, keyed by kind and id, on every
backend; and the migration from the VM-only journal keeps a VM's entries."""
from __future__ import annotations

import pytest
from sqlalchemy import text

from dbs import migrate_to
from nubo.core import journal


def test_objects_of_every_kind_await_their_own_operation(db):
    db.migrate()
    with db.write() as conn:
        journal.expect(conn, journal.VM, 7, driver="vmm", action="DEPLOY", host_id=2, seq=10)
        journal.expect(conn, journal.IMAGE, 7, driver="ds", action="CP", host_id=-1, seq=11)
        journal.expect(conn, journal.NET, 3, driver="vn", action="PRE", host_id=-1, seq=12)
        journal.expect(conn, journal.VM, 7, driver="tm", action="PROLOG", host_id=2, seq=13)
    with db.write() as conn:
        assert journal.awaited(conn, journal.VM, 7) == journal.Entry("VM", 7, "tm", "PROLOG",
                                                                    2, 13)
        assert journal.awaited(conn, journal.IMAGE, 7).action == "CP"
        assert journal.pending(conn, journal.VM) == [(7, 13)]
        assert journal.count(conn) == 3 and journal.count(conn, journal.NET) == 1
        journal.renumber(conn, journal.IMAGE, 7, 20)
        journal.forget(conn, journal.VM, 7)
    with db.read() as conn:
        assert journal.awaited(conn, journal.VM, 7) is None
        assert journal.pending(conn, journal.IMAGE) == [(7, 20)]
    with pytest.raises(ValueError):
        with db.write() as conn:
            journal.expect(conn, "TEMPLATE", 1, driver="x", action="Y", host_id=-1, seq=1)


def test_the_migration_keeps_what_vms_awaited(db):
    migrate_to(db, "0006")
    with db.engine.begin() as conn:
        conn.execute(text("INSERT INTO vm_operation (vm_id, seq, driver, action, host_id) "
                          "VALUES (4, 99, 'vmm', 'SHUTDOWN', 1)"))
    migrate_to(db, "head")
    with db.read() as conn:
        assert journal.awaited(conn, journal.VM, 4) == journal.Entry("VM", 4, "vmm",
                                                                    "SHUTDOWN", 1, 99)
