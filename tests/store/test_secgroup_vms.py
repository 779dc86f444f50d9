"""A security group's UPDATED_VMS... live in the secgroup_vm table and are spliced into
its body when it is read, on every backend; bodies stored with their lists move there."""
from __future__ import annotations

from sqlalchemy import insert, select

from dbs import migrate_down, migrate_to
from nubo.core.pool_set import make_pools
from nubo.model import xmlobj
from nubo.model.permissions import Permissions
from nubo.model.secgroup import SecurityGroup
from nubo.store import secgroup_vms
from nubo.store.schema import secgroup_pool, secgroup_vm


def _group(oid: int, **lists: list[int]) -> SecurityGroup:
    return SecurityGroup(oid, 0, 0, "oneadmin", "oneadmin", f"sg{oid}", Permissions(), **lists)


def test_splicing_gives_the_body_that_kept_the_lists():
    old = xmlobj.render(_group(4, updated_vms=[3, 9], error_vms=[12]), "SECURITY_GROUP")
    stored = secgroup_vms.with_members(old, None)
    assert "<UPDATED_VMS></UPDATED_VMS>" in stored and "<ERROR_VMS></ERROR_VMS>" in stored
    assert secgroup_vms.with_members(stored, {"updated": [9, 3], "error": [12]}) == old


def test_a_vm_is_in_exactly_one_list(db):
    db.migrate()
    pools = make_pools()
    with db.write() as conn:
        pools.secgroups.insert(conn, _group(100, updated_vms=[1]))  # lists never stored
        secgroup_vms.put(conn, 100, 4, "updated")
        secgroup_vms.put(conn, 100, 5, "updating")
        secgroup_vms.put_all(conn, 100, [4, 5, 9], "outdated")  # 9 is not a member
        secgroup_vms.put(conn, 100, 4, "error")
        pools.secgroups.update(conn, pools.secgroups.get(conn, 100))
    with db.read() as conn:
        assert secgroup_vms.members(conn, 100) == {"updated": [], "outdated": [5],
                                                   "updating": [], "error": [4]}
        assert secgroup_vms.state_of(conn, 100, 9) is None
        body = pools.secgroups.body(conn, 100)
        assert "<OUTDATED_VMS><ID>5</ID></OUTDATED_VMS>" in body
        assert "<ERROR_VMS><ID>4</ID></ERROR_VMS>" in body
        stored = conn.execute(select(secgroup_pool.c.body)
                              .where(secgroup_pool.c.oid == 100)).scalar()
        assert "<UPDATED_VMS></UPDATED_VMS>" in stored and "<ID>4</ID>" not in stored
        assert secgroup_vms.spliced(conn, [(100, stored)]) == [body]
    with db.write() as conn:
        assert secgroup_vms.remove(conn, 100, 4) and not secgroup_vms.remove(conn, 100, 4)
        pools.secgroups.delete(conn, 100)
        assert secgroup_vms.members(conn, 100)["outdated"] == []


def test_the_migration_moves_stored_lists_into_the_table(db):
    migrate_to(db, "0013")
    old = xmlobj.render(_group(101, updated_vms=[7, 11], updating_vms=[2]), "SECURITY_GROUP")
    with db.engine.begin() as conn:
        conn.execute(insert(secgroup_pool).values(
            oid=101, name="sg101", body=old, version=0, uid=0, gid=0, owner_u=1, group_u=0,
            other_u=0))
    migrate_to(db, "head")
    with db.read() as conn:
        assert sorted(conn.execute(select(secgroup_vm.c.secgroup_id, secgroup_vm.c.vm_id,
                                          secgroup_vm.c.state)).all()) == [
            (101, 2, "updating"), (101, 7, "updated"), (101, 11, "updated")]
        assert make_pools().secgroups.body(conn, 101) == old
    migrate_down(db, "0013")
    with db.read() as conn:
        assert conn.execute(select(secgroup_pool.c.body)
                            .where(secgroup_pool.c.oid == 101)).scalar() == old
