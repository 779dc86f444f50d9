"""Migration 0013: the security group table, and group 0 for clouds made before it."""
from __future__ import annotations

from sqlalchemy import insert, select

from dbs import migrate_down, migrate_to
from nubo.core.pool_set import make_pools
from nubo.model import secgroup as sg
from nubo.model.permissions import Permissions
from nubo.store.schema import pool_control, secgroup_pool, user_pool
from nubo.template import parse


def test_an_existing_cloud_gets_group_zero_as_a_fresh_one_has_it(db):
    migrate_to(db, "0010")
    with db.engine.begin() as conn:
        conn.execute(insert(user_pool).values(oid=0, name="oneadmin", body="<USER/>", version=0,
                                              gid=0, auth_driver="core", password_hash="",
                                              enabled=1))
    migrate_to(db, "head")
    with db.read() as conn:
        group = make_pools().secgroups.get(conn, 0)
        assert (group.name, group.uid, group.permissions.other_u) == ("default", 0, 1)
        assert [(r.get("PROTOCOL"), r.get("RULE_TYPE")) for r in group.rules()] == [
            ("ALL", "OUTBOUND"), ("ALL", "INBOUND")]
        _, fresh = sg.build(parse(sg.DEFAULT_TEMPLATE))
        assert group.template == fresh
        assert group.permissions == Permissions.from_octal(sg.DEFAULT_PERMISSIONS)
        assert conn.execute(select(pool_control.c.last_oid).where(
            pool_control.c.tablename == "secgroup_pool")).scalar() == 99
    migrate_down(db, "0010")
    migrate_to(db, "head")


def test_a_fresh_database_gets_only_the_table(db):
    db.migrate()
    with db.read() as conn:
        assert conn.execute(select(secgroup_pool.c.oid)).all() == []
