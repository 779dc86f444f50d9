"""Monitoring records of hosts and VMs, kept for a window (config monitoring_expiration).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_Body = sa.Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb")


def upgrade() -> None:
    op.create_table(
        "host_monitoring",
        sa.Column("hid", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("last_mon_time", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("body", _Body, nullable=False),
    )
    op.create_index("ix_host_monitoring_time", "host_monitoring", ["last_mon_time"])
    op.create_table(
        "vm_monitoring",
        sa.Column("vmid", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("last_poll", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("body", _Body, nullable=False),
    )
    op.create_index("ix_vm_monitoring_time", "vm_monitoring", ["last_poll"])


def downgrade() -> None:
    op.drop_index("ix_vm_monitoring_time", table_name="vm_monitoring")
    op.drop_table("vm_monitoring")
    op.drop_index("ix_host_monitoring_time", table_name="host_monitoring")
    op.drop_table("host_monitoring")
