"""Security groups (one.secgroup.*), and group 0 "default" in existing clouds.

A cloud bootstrapped before this revision gets group 0 as oned creates it (every
protocol allowed in and out, owned by oneadmin, USE for everyone); ids below 100 stay
reserved for system groups. A fresh cloud gets it from the bootstrap.

Revision ID: 0013
Revises: 0010
Create Date: 2026-12-07
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

_Body = sa.Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb")
_COLUMNS = ["oid", "version", "uid", "gid", "owner_u", "group_u", "other_u"]
_DESCRIPTION = ("The default security group is added to every network. Use it to add default "
                "filter rules for your networks. You may remove this security group from any "
                "network by updating its properties.")
_DEFAULT_BODY = (
    "<SECURITY_GROUP><ID>0</ID><UID>0</UID><GID>0</GID><UNAME>oneadmin</UNAME>"
    "<GNAME>oneadmin</GNAME><NAME>default</NAME><PERMISSIONS><OWNER_U>1</OWNER_U>"
    "<OWNER_M>1</OWNER_M><OWNER_A>1</OWNER_A><GROUP_U>1</GROUP_U><GROUP_M>0</GROUP_M>"
    "<GROUP_A>0</GROUP_A><OTHER_U>1</OTHER_U><OTHER_M>0</OTHER_M><OTHER_A>0</OTHER_A>"
    "</PERMISSIONS><UPDATED_VMS/><OUTDATED_VMS/><UPDATING_VMS/><ERROR_VMS/><TEMPLATE>"
    f"<DESCRIPTION><![CDATA[{_DESCRIPTION}]]></DESCRIPTION>"
    "<RULE><PROTOCOL><![CDATA[ALL]]></PROTOCOL><RULE_TYPE><![CDATA[OUTBOUND]]></RULE_TYPE>"
    "</RULE><RULE><PROTOCOL><![CDATA[ALL]]></PROTOCOL><RULE_TYPE><![CDATA[INBOUND]]>"
    "</RULE_TYPE></RULE></TEMPLATE></SECURITY_GROUP>")


def upgrade() -> None:
    secgroups = op.create_table(
        "secgroup_pool",
        sa.Column("oid", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("body", _Body, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("uid", sa.Integer, nullable=False),
        sa.Column("gid", sa.Integer, nullable=False),
        sa.Column("owner_u", sa.Integer, nullable=False),
        sa.Column("group_u", sa.Integer, nullable=False),
        sa.Column("other_u", sa.Integer, nullable=False),
        sa.UniqueConstraint("name", "uid", name="uq_secgroup_pool_name_uid"),
    )
    op.create_index("ix_secgroup_pool_uid", "secgroup_pool", ["uid"])
    op.create_index("ix_secgroup_pool_gid", "secgroup_pool", ["gid"])
    op.create_index("ix_secgroup_pool_listing", "secgroup_pool", _COLUMNS)
    conn = op.get_bind()
    if conn.execute(sa.text("SELECT oid FROM user_pool WHERE oid = 0")).first() is None:
        return  # a fresh cloud: the bootstrap makes group 0
    op.bulk_insert(secgroups, [{"oid": 0, "name": "default", "body": _DEFAULT_BODY,
                                "version": 0, "uid": 0, "gid": 0, "owner_u": 1,
                                "group_u": 1, "other_u": 1}])
    conn.execute(sa.text("DELETE FROM pool_control WHERE tablename = 'secgroup_pool'"))
    conn.execute(sa.text("INSERT INTO pool_control (tablename, last_oid) "
                         "VALUES ('secgroup_pool', 99)"))


def downgrade() -> None:
    for index in ("ix_secgroup_pool_listing", "ix_secgroup_pool_gid", "ix_secgroup_pool_uid"):
        op.drop_index(index, "secgroup_pool")
    op.drop_table("secgroup_pool")
    op.execute("DELETE FROM pool_control WHERE tablename = 'secgroup_pool'")
