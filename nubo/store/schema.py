"""The SQL schema: one table per object pool, plus leases, tokens and id counters.

Each object is a row holding its rendered XML body and the few columns that
queries filter on (owner, group, permission bits, state), as oned does. The
Alembic migrations in ``migrations/`` create exactly these tables; a test
checks the two never drift apart.
"""
from __future__ import annotations

from sqlalchemy import (BigInteger, Boolean, Column, Double, Index, Integer, MetaData, String,
                        Table, Text, UniqueConstraint)
from sqlalchemy.dialects import mysql

metadata = MetaData()

# Bodies of big VMs exceed MySQL's 64 KiB TEXT.
Body = Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb")
# Every object row has a version, bumped by each update: listings keep the wire form
# of bodies in memory and fetch again only the rows whose version moved.


def _owned(name: str, *extra: Column, unique_name: bool = True,
           listing_extra: tuple[str, ...] = (), **kw) -> Table:
    """A pool of objects with an owner, a group and permission bits."""
    cols = [
        Column("oid", Integer, primary_key=True, autoincrement=False),
        Column("name", String(128), nullable=False),
        Column("body", Body, nullable=False),
        Column("version", Integer, nullable=False, default=0),
        Column("uid", Integer, nullable=False),
        Column("gid", Integer, nullable=False),
        Column("owner_u", Integer, nullable=False),
        Column("group_u", Integer, nullable=False),
        Column("other_u", Integer, nullable=False),
        *extra,
    ]
    if unique_name:
        cols.append(UniqueConstraint("name", "uid", name=f"uq_{name}_name_uid"))
    t = Table(name, metadata, *cols, **kw)
    Index(f"ix_{name}_uid", t.c.uid)
    Index(f"ix_{name}_gid", t.c.gid)
    # Covers what a pool listing selects and filters on: listings scan it, not the bodies.
    Index(f"ix_{name}_listing", t.c.oid, t.c.version, t.c.uid, t.c.gid, t.c.owner_u,
          t.c.group_u, t.c.other_u, *[t.c[n] for n in listing_extra])
    return t


def _plain(name: str, *extra: Column) -> Table:
    """A pool of objects with a globally unique name and no owner (hosts, clusters…)."""
    t = Table(
        name, metadata,
        Column("oid", Integer, primary_key=True, autoincrement=False),
        Column("name", String(128), nullable=False, unique=True),
        Column("body", Body, nullable=False),
        Column("version", Integer, nullable=False, default=0),
        *extra,
    )
    Index(f"ix_{name}_listing", t.c.oid, t.c.version)
    return t


user_pool = _plain(
    "user_pool",
    Column("gid", Integer, nullable=False),
    Column("auth_driver", String(64), nullable=False),
    Column("password_hash", String(255), nullable=False, default=""),
    Column("enabled", Integer, nullable=False),
)
group_pool = _plain("group_pool")
cluster_pool = _plain("cluster_pool")
host_pool = _plain(
    "host_pool",
    Column("state", Integer, nullable=False),
    Column("cid", Integer, nullable=False),
)
datastore_pool = _owned("datastore_pool", unique_name=False)
datastore_pool.append_constraint(UniqueConstraint("name", name="uq_datastore_pool_name"))
template_pool = _owned("template_pool")
image_pool = _owned(
    "image_pool",
    Column("state", Integer, nullable=False),
    Column("ds_id", Integer, nullable=False),
)
network_pool = _owned(
    "network_pool",
    Column("short_body", Body, nullable=False),
    Column("pid", Integer, nullable=False),
)
vm_pool = _owned(
    "vm_pool",
    Column("short_body", Body, nullable=False),
    Column("state", Integer, nullable=False),
    Column("lcm_state", Integer, nullable=False),
    unique_name=False,
    listing_extra=("state",),
)
Index("ix_vm_pool_state", vm_pool.c.state)
# VM groups (one.vmgroup.*): names unique per owner, as oned's VMGroupPool::exist.
vmgroup_pool = _owned("vmgroup_pool")
# Virtual network templates (one.vntemplate.*): names unique per owner.
vntemplate_pool = _owned("vntemplate_pool")
# Security groups (one.secgroup.*): names unique per owner, as oned's SecurityGroupPool.
secgroup_pool = _owned("secgroup_pool")
# One row per (security group, VM using it) with the state of its rules: a group's
# UPDATED_VMS... are read from here (nubo.store.secgroup_vms), as image_vm for images.
secgroup_vm = Table(
    "secgroup_vm", metadata,
    Column("secgroup_id", Integer, primary_key=True, autoincrement=False),
    Column("vm_id", Integer, primary_key=True, autoincrement=False),
    Column("state", String(8), nullable=False),
)
# The VNC port each VM with GRAPHICS holds in its cluster (nubo.store.vnc_ports).
vnc_port = Table(
    "vnc_port", metadata,
    Column("cluster_id", Integer, primary_key=True, autoincrement=False),
    Column("port", Integer, primary_key=True, autoincrement=False),
    Column("vm_id", Integer, nullable=False),
)
Index("ix_vnc_port_vm", vnc_port.c.vm_id)

acl = Table(
    "acl", metadata,
    Column("oid", Integer, primary_key=True, autoincrement=False),
    Column("user", BigInteger, nullable=False),
    Column("resource", BigInteger, nullable=False),
    Column("rights", BigInteger, nullable=False),
    Column("zone", BigInteger, nullable=False),
    UniqueConstraint("user", "resource", "rights", "zone", name="uq_acl_rule"),
)

# One row per address handed out: the primary key makes a double lease impossible.
vn_lease = Table(
    "vn_lease", metadata,
    Column("vnet_id", Integer, primary_key=True, autoincrement=False),
    Column("ar_id", Integer, primary_key=True, autoincrement=False),
    Column("idx", BigInteger, primary_key=True, autoincrement=False),
    Column("owner_type", String(16), nullable=False),
    Column("owner_id", Integer, nullable=False),
)
Index("ix_vn_lease_owner", vn_lease.c.owner_type, vn_lease.c.owner_id)

# One row per (image, VM using it): an image's VMS and RUNNING_VMS are read from here
# (nubo.store.image_vms), so counting one more VM never rewrites a growing list.
image_vm = Table(
    "image_vm", metadata,
    Column("image_id", Integer, primary_key=True, autoincrement=False),
    Column("vm_id", Integer, primary_key=True, autoincrement=False),
)

user_token = Table(
    "user_token", metadata,
    Column("digest", String(64), primary_key=True),
    Column("uid", Integer, nullable=False, index=True),
    Column("expiration", BigInteger, nullable=False),
    Column("egid", Integer, nullable=False),
)

# The last id handed out per pool; ids are never reused.
pool_control = Table(
    "pool_control", metadata,
    Column("tablename", String(32), primary_key=True),
    Column("last_oid", Integer, nullable=False),
)

# The journal of awaited operations (nubo.core.journal): the driver operation an object
# (a VM in a transient state, an image being copied, a datastore, a virtual network)
# waits for, at most one per object, committed with its state before the operation is
# sent: the answer is matched to it by ``seq`` (stale answers are dropped) and a
# restarted core knows what to ask.
awaited_operation = Table(
    "awaited_operation", metadata,
    # The id first: the index is searched by an integer, then the kind (VM, IMAGE...).
    Column("object_id", Integer, primary_key=True, autoincrement=False),
    Column("object_kind", String(16), primary_key=True),
    Column("seq", BigInteger, nullable=False),
    Column("driver", String(16), nullable=False),
    Column("action", String(32), nullable=False),
    Column("host_id", Integer, nullable=False),
    sqlite_with_rowid=False,  # SQLite: one B-tree lookup by (id, kind), no rowid hop
)

# Monitoring records (OpenNebula's host_monitoring / vm_monitoring): one row per probe
# (host) or poll (VM), its <MONITORING> XML as body; older than the configured window
# (monitoring_expiration) they are pruned.
host_monitoring = Table(
    "host_monitoring", metadata,
    Column("hid", Integer, primary_key=True, autoincrement=False),
    Column("last_mon_time", BigInteger, primary_key=True, autoincrement=False),
    Column("body", Body, nullable=False),
)
Index("ix_host_monitoring_time", host_monitoring.c.last_mon_time)
vm_monitoring = Table(
    "vm_monitoring", metadata,
    Column("vmid", Integer, primary_key=True, autoincrement=False),
    Column("last_poll", BigInteger, primary_key=True, autoincrement=False),
    Column("body", Body, nullable=False),
)
Index("ix_vm_monitoring_time", vm_monitoring.c.last_poll)
# Each VM's last poll: its LAST_POLL and <MONITORING>, joined into the VM's bodies when
# read (nubo.store.last_poll), so a monitoring round never rewrites a VM body.
vm_last_poll = Table(
    "vm_last_poll", metadata,
    Column("vmid", Integer, primary_key=True, autoincrement=False),
    Column("last_poll", BigInteger, nullable=False),
    Column("monitoring", Body, nullable=False),
)

# Hooks (one.hook.*): the body is the HOOK XML without its log; TIMEOUT (seconds, 0 = the
# default) is kept beside it because hook.xsd has no place for it in TEMPLATE.
hook_pool = Table(
    "hook_pool", metadata,
    Column("oid", Integer, primary_key=True, autoincrement=False),
    Column("name", String(128), nullable=False, unique=True),
    Column("body", Body, nullable=False),
    Column("version", Integer, nullable=False, default=0),
    Column("type", String(16), nullable=False),
    Column("timeout", Integer, nullable=False, default=0),
)
Index("ix_hook_pool_listing", hook_pool.c.oid, hook_pool.c.version)
# One row per hook execution (a HOOK_EXECUTION_RECORD body); the last few per hook are kept.
hook_log = Table(
    "hook_log", metadata,
    Column("hook_id", Integer, primary_key=True, autoincrement=False),
    Column("exec_id", Integer, primary_key=True, autoincrement=False),
    Column("timestamp", BigInteger, nullable=False),
    Column("rc", Integer, nullable=False),
    Column("body", Body, nullable=False),
)
Index("ix_hook_log_timestamp", hook_log.c.timestamp)

# Hook jobs matched by a committed change and not yet run (nubo.hooks.hook_manager): stored
# in the change's transaction, deleted with the execution record they become.
hook_queue = Table(
    "hook_queue", metadata,
    Column("qid", Integer, primary_key=True, autoincrement=True),
    Column("hook_id", Integer, nullable=False),
    Column("arguments", Body, nullable=False),
    Column("host", String(256), nullable=False),
    Column("retry", Boolean, nullable=False),
    # The core process running it and until when (epoch seconds): a job is claimed before
    # it runs, so that one queued by one process runs once; a claim past its time
    # (its process died) is taken again.
    Column("holder", String(128), nullable=False, server_default=""),
    Column("claimed_until", Double, nullable=False, server_default="0"),
)

# Duties that one core process at a time must hold (monitoring rounds, the scheduled-
# action timer, start-up reconciliation): a lease renewed by its holder until
# ``expires`` (epoch seconds); past that, another process may take it (nubo.store.duties).
duty = Table(
    "duty", metadata,
    Column("name", String(64), primary_key=True),
    Column("holder", String(128), nullable=False),
    Column("expires", Double, nullable=False),
)

# Counters bumped in the transaction of a change other core processes wait for (the
# scheduler's "placement may have changed": nubo.core.sched_events).
change_stamp = Table(
    "change_stamp", metadata,
    Column("name", String(32), primary_key=True),
    Column("value", BigInteger, nullable=False),
)
