"""The VMs using each image in their own table, one row per (image, VM).

An image's VMS and RUNNING_VMS were kept in its body, rewritten for every VM that took
or gave it back; they are now read from ``image_vm`` and spliced into the body when it
is read. The lists of bodies stored before move into the table, and the bodies keep
``<RUNNING_VMS>0</RUNNING_VMS>`` and an empty ``VMS``.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07
"""
import sqlalchemy as sa
from alembic import op
import re

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_RUNNING = re.compile(r"<RUNNING_VMS>[^<]*</RUNNING_VMS>")
_VMS = re.compile(r"<VMS>((?:<ID>[^<]*</ID>)*)</VMS>|<VMS/>")
_ID = re.compile(r"<ID>(\d+)</ID>")


def upgrade() -> None:
    op.create_table(
        "image_vm",
        sa.Column("image_id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("vm_id", sa.Integer, primary_key=True, autoincrement=False),
    )
    # The migration's own reading of the old bodies: a migration must not change with
    # the code. RUNNING_VMS and VMS come before TEMPLATE, so their first match is theirs.
    images, links = _tables()
    conn = op.get_bind()
    for oid, body in conn.execute(sa.select(images.c.oid, images.c.body)).all():
        vms = _VMS.search(body)
        ids = sorted({int(i) for i in _ID.findall(vms.group(1) or "")}) if vms else []
        if ids:
            conn.execute(sa.insert(links), [{"image_id": oid, "vm_id": v} for v in ids])
        stored = _RUNNING.sub("<RUNNING_VMS>0</RUNNING_VMS>", body, count=1)
        stored = _VMS.sub("<VMS></VMS>", stored, count=1)
        if stored != body:
            conn.execute(sa.update(images).where(images.c.oid == oid).values(
                body=stored, version=images.c.version + 1))


def downgrade() -> None:
    """The lists back into the bodies, as 0009's code kept them."""
    images, links = _tables()
    conn = op.get_bind()
    found: dict[int, list[int]] = {}
    for image_id, vm_id in conn.execute(sa.select(links.c.image_id, links.c.vm_id)
                                        .order_by(links.c.image_id, links.c.vm_id)):
        found.setdefault(image_id, []).append(vm_id)
    for oid, ids in found.items():
        body = conn.execute(sa.select(images.c.body).where(images.c.oid == oid)).scalar()
        if body is None:
            continue
        listed = "".join(f"<ID>{v}</ID>" for v in ids)
        body = _RUNNING.sub(f"<RUNNING_VMS>{len(ids)}</RUNNING_VMS>", body, count=1)
        body = _VMS.sub(f"<VMS>{listed}</VMS>", body, count=1)
        conn.execute(sa.update(images).where(images.c.oid == oid).values(
            body=body, version=images.c.version + 1))
    op.drop_table("image_vm")


def _tables() -> tuple[sa.TableClause, sa.TableClause]:
    return (sa.table("image_pool", sa.column("oid", sa.Integer), sa.column("body", sa.Text),
                     sa.column("version", sa.Integer)),
            sa.table("image_vm", sa.column("image_id", sa.Integer),
                     sa.column("vm_id", sa.Integer)))
