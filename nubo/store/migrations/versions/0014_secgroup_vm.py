"""The VMs of each security group in their own table, one row per (group, VM).

A group's UPDATED_VMS, OUTDATED_VMS, UPDATING_VMS and ERROR_VMS were kept in its body,
rewritten for every VM that took it (group 0 for nearly all of them); they are now read
from ``secgroup_vm`` and spliced into the body when it is read. The lists of bodies
stored before move into the table, and the bodies keep the four lists empty.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07
"""
import re

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

_STATES = ("updated", "outdated", "updating", "error")
_ID = re.compile(r"<ID>(\d+)</ID>")


def _list(state: str) -> re.Pattern[str]:
    tag = f"{state.upper()}_VMS"
    return re.compile(rf"<{tag}>((?:<ID>[^<]*</ID>)*)</{tag}>|<{tag}/>")


def upgrade() -> None:
    op.create_table(
        "secgroup_vm",
        sa.Column("secgroup_id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("vm_id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("state", sa.String(8), nullable=False),
    )
    # The migration's own reading of the old bodies: a migration must not change with
    # the code. The lists come before TEMPLATE, so their first match is theirs.
    groups, links = _tables()
    conn = op.get_bind()
    for oid, body in conn.execute(sa.select(groups.c.oid, groups.c.body)).all():
        rows: dict[int, str] = {}
        stored = body
        for state in _STATES:
            found = _list(state).search(stored)
            for vm_id in _ID.findall((found.group(1) or "") if found else ""):
                rows.setdefault(int(vm_id), state)
            tag = f"{state.upper()}_VMS"
            stored = _list(state).sub(f"<{tag}></{tag}>", stored, count=1)
        if rows:
            conn.execute(sa.insert(links), [{"secgroup_id": oid, "vm_id": v, "state": s}
                                            for v, s in sorted(rows.items())])
        if stored != body:
            conn.execute(sa.update(groups).where(groups.c.oid == oid).values(
                body=stored, version=groups.c.version + 1))


def downgrade() -> None:
    """The lists back into the bodies, as 0013's code kept them."""
    groups, links = _tables()
    conn = op.get_bind()
    found: dict[int, dict[str, list[int]]] = {}
    for gid, vm_id, state in conn.execute(sa.select(links.c.secgroup_id, links.c.vm_id,
                                                    links.c.state)
                                          .order_by(links.c.secgroup_id, links.c.vm_id)):
        found.setdefault(gid, {}).setdefault(state, []).append(vm_id)
    for oid, lists in found.items():
        body = conn.execute(sa.select(groups.c.body).where(groups.c.oid == oid)).scalar()
        if body is None:
            continue
        for state in _STATES:
            tag = f"{state.upper()}_VMS"
            listed = "".join(f"<ID>{v}</ID>" for v in lists.get(state, []))
            body = _list(state).sub(f"<{tag}>{listed}</{tag}>", body, count=1)
        conn.execute(sa.update(groups).where(groups.c.oid == oid).values(
            body=body, version=groups.c.version + 1))
    op.drop_table("secgroup_vm")


def _tables() -> tuple[sa.TableClause, sa.TableClause]:
    return (sa.table("secgroup_pool", sa.column("oid", sa.Integer), sa.column("body", sa.Text),
                     sa.column("version", sa.Integer)),
            sa.table("secgroup_vm", sa.column("secgroup_id", sa.Integer),
                     sa.column("vm_id", sa.Integer), sa.column("state", sa.String)))
