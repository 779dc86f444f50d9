"""An image's VMS and RUNNING_VMS live in the image_vm table and are spliced into its body
when it is read, on every backend; bodies stored with their lists move them there."""
from __future__ import annotations

from sqlalchemy import insert, select

from dbs import migrate_down, migrate_to
from nubo.core.pool_set import make_pools
from nubo.model import xmlobj
from nubo.model.image_vms_xml import with_vms, without_vms
from nubo.model.permissions import Permissions
from nubo.model.resources import Image
from nubo.store import image_vms
from nubo.store.schema import image_pool, image_vm


def _image(oid: int, vms: list[int]) -> Image:
    return Image(id=oid, uid=0, gid=0, uname="oneadmin", gname="oneadmin", name=f"img{oid}",
                 lock=None, permissions=Permissions(), type=0, disk_type=0, persistent=0,
                 regtime=1, modtime=1, source="/s", path="/p", format="raw", fs="", size=1,
                 state=2 if vms else 1, prev_state=1, running_vms=len(vms), cloning_ops=0,
                 cloning_id=-1, target_snapshot=-1, datastore_id=1, datastore="default",
                 vms=vms)


def test_splicing_gives_the_body_the_old_code_stored():
    """Read with its rows, a body stored without VMs is byte for byte the body that
    kept the list itself."""
    old = xmlobj.render(_image(4, [3, 9, 12]), "IMAGE")
    stored = without_vms(old)
    assert "<RUNNING_VMS>0</RUNNING_VMS>" in stored and "<VMS></VMS>" in stored
    assert with_vms(stored, [12, 3, 9]) == old
    assert with_vms(stored, []) == xmlobj.render(_image(4, []), "IMAGE").replace(
        "<STATE>1</STATE>", "<STATE>2</STATE>")


def test_taking_and_giving_back_is_one_row(db):
    db.migrate()
    pools = make_pools()
    with db.write() as conn:
        pools.images.insert(conn, _image(5, []))
        assert image_vms.add(conn, 5, 8) and image_vms.add(conn, 5, 2)
        assert not image_vms.add(conn, 5, 8)  # a second DISK of the same image
        pools.images.update(conn, pools.images.get(conn, 5))
    with db.read() as conn:
        assert image_vms.used(conn, 5) and image_vms.count(conn, 5) == 2
        body = pools.images.body(conn, 5)
        assert "<RUNNING_VMS>2</RUNNING_VMS>" in body and "<VMS><ID>2</ID><ID>8</ID></VMS>" in body
        stored = conn.execute(select(image_pool.c.body).where(image_pool.c.oid == 5)).scalar()
        assert "<VMS></VMS>" in stored  # never the list itself
        assert image_vms.spliced(conn, [(5, stored)]) == [body]
    with db.write() as conn:
        assert image_vms.remove(conn, 5, 8) and image_vms.remove(conn, 5, 2)
        assert not image_vms.remove(conn, 5, 2)
        assert not image_vms.used(conn, 5)
        image_vms.add(conn, 5, 1)
        pools.images.delete(conn, 5)
        assert not image_vms.used(conn, 5)


def test_the_migration_moves_stored_lists_into_the_table(db):
    migrate_to(db, "0009")
    old = xmlobj.render(_image(3, [7, 11]), "IMAGE")
    with db.engine.begin() as conn:
        conn.execute(insert(image_pool).values(
            oid=3, name="img3", body=old, version=0, uid=0, gid=0, owner_u=1, group_u=0,
            other_u=0, state=2, ds_id=1))
    migrate_to(db, "head")
    with db.read() as conn:
        assert sorted(conn.execute(select(image_vm.c.image_id, image_vm.c.vm_id)).all()) == [
            (3, 7), (3, 11)]
        assert make_pools().images.body(conn, 3) == old


def test_a_downgrade_puts_the_lists_back(db):
    db.migrate()
    old = xmlobj.render(_image(6, [2, 5]), "IMAGE")
    with db.write() as conn:
        make_pools().images.insert(conn, _image(6, [2, 5]))
        image_vms.add(conn, 6, 5)
        image_vms.add(conn, 6, 2)
    migrate_down(db, "0009")
    with db.read() as conn:
        assert conn.execute(select(image_pool.c.body)).scalar() == old
