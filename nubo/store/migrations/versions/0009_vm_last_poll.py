"""Each VM's last poll (LAST_POLL and MONITORING), joined in when the VM is read.

A monitoring round writes these rows (and its records), never the VM bodies: a VM
body's own LAST_POLL and MONITORING count only until its first poll here.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_Body = sa.Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb")


def upgrade() -> None:
    op.create_table(
        "vm_last_poll",
        sa.Column("vmid", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("last_poll", sa.BigInteger, nullable=False),
        sa.Column("monitoring", _Body, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("vm_last_poll")
