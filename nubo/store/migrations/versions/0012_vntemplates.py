"""Virtual network templates (one.vntemplate.*): names unique per owner.

Revision ID: 0012
Revises: 0010
Create Date: 2026-12-07
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0012"
down_revision = "0010"
branch_labels = None
depends_on = None

_Body = sa.Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb")
_COLUMNS = ["oid", "version", "uid", "gid", "owner_u", "group_u", "other_u"]


def upgrade() -> None:
    op.create_table(
        "vntemplate_pool",
        sa.Column("oid", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("body", _Body, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("uid", sa.Integer, nullable=False),
        sa.Column("gid", sa.Integer, nullable=False),
        sa.Column("owner_u", sa.Integer, nullable=False),
        sa.Column("group_u", sa.Integer, nullable=False),
        sa.Column("other_u", sa.Integer, nullable=False),
        sa.UniqueConstraint("name", "uid", name="uq_vntemplate_pool_name_uid"),
    )
    op.create_index("ix_vntemplate_pool_uid", "vntemplate_pool", ["uid"])
    op.create_index("ix_vntemplate_pool_gid", "vntemplate_pool", ["gid"])
    op.create_index("ix_vntemplate_pool_listing", "vntemplate_pool", _COLUMNS)


def downgrade() -> None:
    for index in ("ix_vntemplate_pool_listing", "ix_vntemplate_pool_gid", "ix_vntemplate_pool_uid"):
        op.drop_index(index, "vntemplate_pool")
    op.drop_table("vntemplate_pool")
