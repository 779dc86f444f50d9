"""Hook jobs waiting to run, kept so that a crash does not lose them.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_Body = sa.Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb")


def upgrade() -> None:
    op.create_table(
        "hook_queue",
        sa.Column("qid", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("hook_id", sa.Integer, nullable=False),
        sa.Column("arguments", _Body, nullable=False),
        sa.Column("host", sa.String(256), nullable=False),
        sa.Column("retry", sa.Boolean, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("hook_queue")
