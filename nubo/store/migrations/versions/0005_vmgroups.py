"""VM groups (one.vmgroup.*).

Scheduled actions need no table: they live in the VM body (TEMPLATE/SCHED_ACTION),
their ids come from pool_control ("sched_action").

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_Body = sa.Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb")
_COLUMNS = ["oid", "version", "uid", "gid", "owner_u", "group_u", "other_u"]


def upgrade() -> None:
    op.create_table(
        "vmgroup_pool",
        sa.Column("oid", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("body", _Body, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("uid", sa.Integer, nullable=False),
        sa.Column("gid", sa.Integer, nullable=False),
        sa.Column("owner_u", sa.Integer, nullable=False),
        sa.Column("group_u", sa.Integer, nullable=False),
        sa.Column("other_u", sa.Integer, nullable=False),
        sa.UniqueConstraint("name", "uid", name="uq_vmgroup_pool_name_uid"),
    )
    op.create_index("ix_vmgroup_pool_uid", "vmgroup_pool", ["uid"])
    op.create_index("ix_vmgroup_pool_gid", "vmgroup_pool", ["gid"])
    op.create_index("ix_vmgroup_pool_listing", "vmgroup_pool", _COLUMNS)


def downgrade() -> None:
    for index in ("ix_vmgroup_pool_listing", "ix_vmgroup_pool_gid", "ix_vmgroup_pool_uid"):
        op.drop_index(index, "vmgroup_pool")
    op.drop_table("vmgroup_pool")
