"""What lets more than one core process share the database: duty leases, change stamps
and claimed hook jobs.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07
"""
import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "duty",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("holder", sa.String(128), nullable=False),
        sa.Column("expires", sa.Double, nullable=False),
    )
    stamps = op.create_table(
        "change_stamp",
        sa.Column("name", sa.String(32), primary_key=True),
        sa.Column("value", sa.BigInteger, nullable=False),
    )
    op.bulk_insert(stamps, [{"name": "placement", "value": 0}])
    op.add_column("hook_queue", sa.Column("holder", sa.String(128), nullable=False,
                                          server_default=""))
    op.add_column("hook_queue", sa.Column("claimed_until", sa.Double, nullable=False,
                                          server_default="0"))


def downgrade() -> None:
    op.drop_column("hook_queue", "claimed_until")
    op.drop_column("hook_queue", "holder")
    op.drop_table("change_stamp")
    op.drop_table("duty")
