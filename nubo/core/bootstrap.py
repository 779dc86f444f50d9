"""A fresh cloud, as oned creates it: oneadmin, the two system groups, the default
cluster, the system/default/files datastores and the default ACL rules."""
from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass

from sqlalchemy import Connection, delete, insert, select

from nubo.auth.acl import default_rules
from nubo.core.cloud import ONEADMIN, Cloud
from nubo.core.ops.acls import add_rule
from nubo.core.ops.call import Call
from nubo.core.ops.groups import create_group
from nubo.core.ops.secgroups import create_default as create_default_secgroup
from nubo.core.ops.users import create_user
from nubo.model.infra import (DS_FILE, DS_IMAGE, DS_READY, DS_SYSTEM,
                              Cluster, Datastore)
from nubo.model.permissions import Permissions
from nubo.store import schema
from nubo.template import Template, parse

log = logging.getLogger(__name__)

# Ids below these are reserved for the system objects, as in OpenNebula.
FIRST_USER_GROUP = 100

_DATASTORES = (
    (0, "system", DS_SYSTEM, 'TYPE = "SYSTEM_DS"\nTM_MAD = "ssh"\nSHARED = "NO"\n'
     'ALLOW_ORPHANS = "NO"\nDS_MIGRATE = "YES"\nRESTRICTED_DIRS = "/"\nSAFE_DIRS = "/var/tmp"\n'),
    (1, "default", DS_IMAGE, 'TYPE = "IMAGE_DS"\nDS_MAD = "fs"\nTM_MAD = "ssh"\n'
     'CLONE_TARGET = "SYSTEM"\nLN_TARGET = "SYSTEM"\nDISK_TYPE = "FILE"\n'
     'RESTRICTED_DIRS = "/"\nSAFE_DIRS = "/var/tmp"\n'),
    (2, "files", DS_FILE, 'TYPE = "FILE_DS"\nDS_MAD = "fs"\nTM_MAD = "ssh"\n'
     'RESTRICTED_DIRS = "/"\nSAFE_DIRS = "/var/tmp"\n'),
)


@dataclass
class BootstrapResult:
    created: bool
    oneadmin_password: str | None


def is_bootstrapped(conn: Connection) -> bool:
    return conn.execute(select(schema.user_pool.c.oid).where(schema.user_pool.c.oid == 0)) \
        .first() is not None


def reserve_system_ids(conn: Connection, tables: tuple) -> None:
    """Ids below 100 are kept for system objects; the next one created gets 100."""
    pc = schema.pool_control
    for table in tables:
        conn.execute(delete(pc).where(pc.c.tablename == table.name))
        conn.execute(insert(pc).values(tablename=table.name, last_oid=FIRST_USER_GROUP - 1))


def bootstrap(cloud: Cloud, oneadmin_password: str | None = None) -> BootstrapResult:
    """Create the system objects once; later starts find them and do nothing."""
    cloud.db.migrate()
    with cloud.db.write() as conn:
        if is_bootstrapped(conn):
            return BootstrapResult(False, None)
        password = oneadmin_password or secrets.token_urlsafe(24)
        call = Call(cloud, ONEADMIN, "bootstrap")
        create_group(call, conn, "oneadmin", with_rules=False)
        create_group(call, conn, "users", with_rules=False)
        _system_objects(cloud, conn)
        create_default_secgroup(conn, cloud.pools)
        reserve_system_ids(conn, (schema.group_pool, schema.cluster_pool,
                                  schema.datastore_pool))
        create_user(call, conn, "oneadmin", password, "core", [0])
        create_user(call, conn, "serveradmin", secrets.token_urlsafe(32), "server_cipher", [0])
        for rule in default_rules(0):
            add_rule(conn, rule.user, rule.resource, rule.rights, rule.zone)
    log.info("bootstrapped a new cloud: user oneadmin, groups oneadmin/users, cluster default, "
             "datastores system/default/files")
    return BootstrapResult(True, password)


def _system_objects(cloud: Cloud, conn: Connection) -> None:
    """The default cluster and the three datastores, with their fixed ids."""
    cloud.pools.clusters.insert(conn, Cluster(id=0, name="default", datastores=[0, 1, 2],
                                              template=parse('RESERVED_CPU = ""\nRESERVED_MEM = ""')))
    for oid, name, ds_type, text in _DATASTORES:
        _create_datastore(cloud, conn, oid, name, ds_type, parse(text))


def _create_datastore(cloud: Cloud, conn: Connection, oid: int, name: str, ds_type: int,
                      template: Template) -> None:
    pools = cloud.pools
    ds = Datastore(id=oid, uid=0, gid=0, uname="oneadmin", gname="oneadmin", name=name,
                   permissions=Permissions.from_octal("640"),
                   ds_mad=template.get("DS_MAD") or "-", tm_mad=template.get("TM_MAD") or "",
                   base_path=f"{cloud.config.datastore_dir}{oid}", type=ds_type, disk_type=0,
                   state=DS_READY, clusters=[0], template=template)
    pools.datastores.insert(conn, ds)
