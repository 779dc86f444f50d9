"""The VNC ports reserved per cluster (oned's VNC_PORTS): one row per VM with GRAPHICS.

VMs deployed before hold no row; their PORT is reserved again at their next deploy.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-08
"""
import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "vnc_port",
        sa.Column("cluster_id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("port", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("vm_id", sa.Integer, nullable=False),
    )
    op.create_index("ix_vnc_port_vm", "vnc_port", ["vm_id"])


def downgrade() -> None:
    op.drop_index("ix_vnc_port_vm", table_name="vnc_port")
    op.drop_table("vnc_port")
