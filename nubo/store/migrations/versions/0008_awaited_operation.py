"""The journal of awaited operations serves any object, not only VMs: ``vm_operation``
becomes ``awaited_operation``, keyed by the object's kind and id (a VM's rows move
over as kind "VM", unchanged otherwise).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07
"""
import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def _operation() -> list[sa.Column]:
    """What an awaited operation is, whoever awaits it."""
    return [sa.Column("seq", sa.BigInteger, nullable=False),
            sa.Column("driver", sa.String(16), nullable=False),
            sa.Column("action", sa.String(32), nullable=False),
            sa.Column("host_id", sa.Integer, nullable=False)]


def upgrade() -> None:
    op.create_table(
        "awaited_operation",
        sa.Column("object_id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("object_kind", sa.String(16), primary_key=True),
        *_operation(),
        sqlite_with_rowid=False,  # one B-tree lookup by (id, kind), as vm_id's rowid was
    )
    op.execute("INSERT INTO awaited_operation (object_kind, object_id, seq, driver, action, "
               "host_id) SELECT 'VM', vm_id, seq, driver, action, host_id FROM vm_operation")
    op.drop_table("vm_operation")


def downgrade() -> None:
    op.create_table(
        "vm_operation",
        sa.Column("vm_id", sa.Integer, primary_key=True, autoincrement=False),
        *_operation(),
    )
    op.execute("INSERT INTO vm_operation (vm_id, seq, driver, action, host_id) SELECT "
               "object_id, seq, driver, action, host_id FROM awaited_operation "
               "WHERE object_kind = 'VM'")
    op.drop_table("awaited_operation")
