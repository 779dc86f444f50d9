"""The first schema: object pools, ACL rules, leases, login tokens, id counters.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

BODY = sa.Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb")


def _key_cols() -> list:
    return [
        sa.Column("oid", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("body", BODY, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
    ]


def _owner_cols() -> list:
    return [sa.Column(c, sa.Integer, nullable=False)
            for c in ("uid", "gid", "owner_u", "group_u", "other_u")]


def _owned(name: str, *extra, unique: tuple[str, ...] | None = ("name", "uid"),
           listing_extra: tuple[str, ...] = ()) -> None:
    args = [*_key_cols(), *_owner_cols(), *extra]
    if unique:
        suffix = "_".join(unique)
        args.append(sa.UniqueConstraint(*unique, name=f"uq_{name}_{suffix}"))
    op.create_table(name, *args)
    op.create_index(f"ix_{name}_uid", name, ["uid"])
    op.create_index(f"ix_{name}_gid", name, ["gid"])
    op.create_index(f"ix_{name}_listing", name, ["oid", "version", "uid", "gid", "owner_u",
                                                 "group_u", "other_u", *listing_extra])


def _plain(name: str, *extra) -> None:
    cols = _key_cols()
    cols[1] = sa.Column("name", sa.String(128), nullable=False, unique=True)
    op.create_table(name, *cols, *extra)
    op.create_index(f"ix_{name}_listing", name, ["oid", "version"])


def upgrade() -> None:
    _plain("user_pool",
           sa.Column("gid", sa.Integer, nullable=False),
           sa.Column("auth_driver", sa.String(64), nullable=False),
           sa.Column("password_hash", sa.String(255), nullable=False),
           sa.Column("enabled", sa.Integer, nullable=False))
    _plain("group_pool")
    _plain("cluster_pool")
    _plain("host_pool",
           sa.Column("state", sa.Integer, nullable=False),
           sa.Column("cid", sa.Integer, nullable=False))
    _owned("datastore_pool", unique=("name",))
    _owned("template_pool")
    _owned("image_pool",
           sa.Column("state", sa.Integer, nullable=False),
           sa.Column("ds_id", sa.Integer, nullable=False))
    _owned("network_pool",
           sa.Column("short_body", BODY, nullable=False),
           sa.Column("pid", sa.Integer, nullable=False))
    _owned("vm_pool",
           sa.Column("short_body", BODY, nullable=False),
           sa.Column("state", sa.Integer, nullable=False),
           sa.Column("lcm_state", sa.Integer, nullable=False),
           unique=None, listing_extra=("state",))
    op.create_index("ix_vm_pool_state", "vm_pool", ["state"])
    op.create_table(
        "acl",
        sa.Column("oid", sa.Integer, primary_key=True, autoincrement=False),
        *[sa.Column(c, sa.BigInteger, nullable=False)
          for c in ("user", "resource", "rights", "zone")],
        sa.UniqueConstraint("user", "resource", "rights", "zone", name="uq_acl_rule"),
    )
    op.create_table(
        "vn_lease",
        sa.Column("vnet_id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("ar_id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("idx", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("owner_type", sa.String(16), nullable=False),
        sa.Column("owner_id", sa.Integer, nullable=False),
    )
    op.create_index("ix_vn_lease_owner", "vn_lease", ["owner_type", "owner_id"])
    op.create_table(
        "user_token",
        sa.Column("digest", sa.String(64), primary_key=True),
        sa.Column("uid", sa.Integer, nullable=False),
        sa.Column("expiration", sa.BigInteger, nullable=False),
        sa.Column("egid", sa.Integer, nullable=False),
    )
    op.create_index("ix_user_token_uid", "user_token", ["uid"])
    op.create_table(
        "pool_control",
        sa.Column("tablename", sa.String(32), primary_key=True),
        sa.Column("last_oid", sa.Integer, nullable=False),
    )


def downgrade() -> None:
    for name in ("pool_control", "user_token", "vn_lease", "acl", "vm_pool", "network_pool",
                 "image_pool", "template_pool", "datastore_pool", "host_pool", "cluster_pool",
                 "group_pool", "user_pool"):
        op.drop_table(name)
