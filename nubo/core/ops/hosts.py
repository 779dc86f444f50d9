"""The operations of hosts: allocate, delete, status (enable, disable, offline).

A host is created in the INIT state and stays there until monitored
(nubo.core.monitor: MONITORED or ERROR); enabling a host brings it back to INIT,
as OpenNebula's Host::enable does, until the next probe, which is asked for at once.
"""
from __future__ import annotations

import re

from nubo.auth import acl as A
from nubo.auth.acl import ObjectType
from nubo.core import sched_events
from nubo.core.ops.clusters import (HOST, allocation_problem, drop_acl_rules, leave_clusters,
                                    refuse_new_name, set_member, target_cluster)
from nubo.core.ops.common import fetch, refuse
from nubo.core.ops.call import Call
from nubo.errors import InternalError
from nubo.model.infra import HOST_DISABLED, HOST_INIT, HOST_OFFLINE, Host
from nubo.template import Template

# one.host.status codes: 0 enable, 1 disable, 2 offline.
ENABLE, DISABLE, OFFLINE = 0, 1, 2
_STATUS = {ENABLE: HOST_INIT, DISABLE: HOST_DISABLED, OFFLINE: HOST_OFFLINE}

# What the monitor last reported; meaningless once a host is offline.
_PROBED = ("TOTALCPU", "TOTALMEMORY", "FREECPU", "FREEMEMORY", "USEDCPU", "USEDMEMORY")

_HOSTNAME_CHARS = re.compile(r"[A-Za-z0-9._-]")
_HOSTNAME_EDGES = "-._"


def hostname_problem(name: str) -> str | None:
    """OpenNebula 7's HOSTNAME rules (2-63 chars, letters, digits and -._ inside), or None."""
    if not 2 <= len(name) <= 63:
        return ("Invalid HOSTNAME, HOSTNAME length should be greater than 1, but smaller "
                "than 64 characters")
    if name[0] in _HOSTNAME_EDGES:
        return f"Invalid HOSTNAME, first character can't be '{name[0]}'"
    for ch in name:
        if not _HOSTNAME_CHARS.fullmatch(ch):
            return f"Invalid HOSTNAME, '{ch}' is invalid character for a HOSTNAME"
    if name[-1] in _HOSTNAME_EDGES:
        return f"Invalid HOSTNAME, last character can't be '{name[-1]}'"
    return None


def allocate_host(call: Call, name: str, im_mad: str, vmm_mad: str, cluster_id: int) -> int:
    """A new host in INIT, in ``cluster_id`` (-1: the default cluster); probed at once."""
    pools = call.cloud.pools
    with call.cloud.db.write() as conn:
        cluster = target_cluster(call, conn, cluster_id, HOST)
        problem = hostname_problem(name) or allocation_problem(name)
        if not problem and not im_mad:
            problem = "IM_MAD_NAME cannot be empty."
        if not problem and not vmm_mad:
            problem = "VMM_MAD_NAME cannot be empty."
        refuse_new_name(conn, pools.hosts, "host", name, problem)
        template = Template()
        template.set("IM_MAD", im_mad)
        template.set("RESERVED_CPU", "")
        template.set("RESERVED_MEM", "")
        template.set("VM_MAD", vmm_mad)
        host = Host(id=pools.hosts.next_oid(conn), name=name, state=HOST_INIT,
                    prev_state=HOST_INIT, im_mad=im_mad, vm_mad=vmm_mad,
                    cluster_id=cluster.id, cluster=cluster.name, template=template)
        pools.hosts.insert(conn, host)
        cluster.hosts = set_member(cluster.hosts, host.id, True)
        pools.clusters.update(conn, cluster)
        sched_events.note(conn)  # wake the scheduler: a new host
    _probe_now(call, host.id)
    return host.id


def _probe_now(call: Call, hid: int) -> None:
    """A new or re-enabled host is probed at once, not at the next monitoring round."""
    if call.cloud.monitor is not None:
        call.cloud.monitor.probe(hid)


def delete_host(call: Call, hid: int) -> int:
    """Delete a host that runs no VM, with its cluster membership and its ACL rules."""
    with call.cloud.db.write() as conn:
        host = fetch(call, conn, HOST, hid, A.ADMIN)
        if host.vms or host.host_share.running_vms > 0:
            raise refuse("Cannot delete host. Can not remove a host with running VMs", hid)
        call.cloud.pools.hosts.delete(conn, hid)
        leave_clusters(call, conn, [host.cluster_id], "hosts", hid)
        drop_acl_rules(call, conn, ObjectType.HOST, hid)
    return hid


def set_host_status(call: Call, hid: int, status: int) -> int:
    """Enable (0), disable (1) or set offline (2); offline forgets the probed capacity."""
    with call.cloud.db.write() as conn:
        host = fetch(call, conn, HOST, hid, A.ADMIN)
        if status not in _STATUS:
            raise InternalError("Wrong status code", hid)
        if status == OFFLINE:
            share = host.host_share
            share.total_cpu = share.total_mem = share.max_cpu = share.max_mem = 0
            for name in _PROBED:
                host.template.remove(name)
        # PREV_STATE is the state as of the last update, which is this one.
        host.state = host.prev_state = _STATUS[status]
        call.cloud.pools.hosts.update(conn, host)
        sched_events.note(conn, status == ENABLE)  # wake the scheduler: a host enabled
    if status == ENABLE:
        _probe_now(call, hid)
    return hid


def drivers_from_template(host: Host, template: Template) -> None:
    """one.host.update: IM_MAD / VM_MAD in the template change the host's drivers, and
    the template always shows them."""
    host.im_mad = template.get("IM_MAD") or host.im_mad
    host.vm_mad = template.get("VM_MAD") or host.vm_mad
    template.set("IM_MAD", host.im_mad)
    template.set("VM_MAD", host.vm_mad)
