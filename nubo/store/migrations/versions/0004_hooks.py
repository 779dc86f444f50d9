"""Hooks (one.hook.*) and their execution log.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_Body = sa.Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb")


def upgrade() -> None:
    op.create_table(
        "hook_pool",
        sa.Column("oid", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("name", sa.String(128), nullable=False, unique=True),
        sa.Column("body", _Body, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("timeout", sa.Integer, nullable=False),
    )
    op.create_index("ix_hook_pool_listing", "hook_pool", ["oid", "version"])
    op.create_table(
        "hook_log",
        sa.Column("hook_id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("exec_id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("timestamp", sa.BigInteger, nullable=False),
        sa.Column("rc", sa.Integer, nullable=False),
        sa.Column("body", _Body, nullable=False),
    )
    op.create_index("ix_hook_log_timestamp", "hook_log", ["timestamp"])


def downgrade() -> None:
    op.drop_index("ix_hook_log_timestamp", "hook_log")
    op.drop_table("hook_log")
    op.drop_index("ix_hook_pool_listing", "hook_pool")
    op.drop_table("hook_pool")
