"""A finished VM leaves its VM group: the core's side of nubo.model.vmgroup.

Called by the commit of every life-cycle decision that makes a VM DONE
(nubo/core/vm_commit.py), in its transaction, so a group's VMS never lists a VM
that is gone and the group can be deleted once its last VM is.
"""
from __future__ import annotations

import logging

from sqlalchemy import Connection

from nubo.core.pool_set import Pools
from nubo.model.vm import VirtualMachine
from nubo.model.vmgroup import remove_vm

log = logging.getLogger(__name__)


def leave_vm_group(conn: Connection, pools: Pools, vm: VirtualMachine) -> None:
    vector = vm.template.get_vector("VMGROUP")
    if vector is None:
        return
    group_id = vector.get("VMGROUP_ID") or ""
    group = pools.vmgroups.find(conn, int(group_id)) if group_id.isdigit() else None
    if group is None:
        return
    if remove_vm(group, vector.get("ROLE") or "", vm.id):
        pools.vmgroups.update(conn, group)
        log.info("VM %d: left VM group %d (role %s)", vm.id, group.id, vector.get("ROLE"))
