"""one.vm.attachsg / one.vm.detachsg: a security group added to or taken from one NIC.

MANAGE on the VM and USE on the group (attach), as oned's VirtualMachineAttachSG. The
VM's SECURITY_GROUP_RULEs are rendered again in the same transaction; a RUNNING VM is
sent UPDATESG after the commit (its groups list it UPDATING until the answer), any other
gets the rules when its network driver next runs.
"""
from __future__ import annotations

from typing import Callable

from sqlalchemy import Connection

from nubo.auth import acl as A
from nubo.core import secgroup_rules, secgroup_updates
from nubo.core.ops.call import Call
from nubo.core.ops.common import check_lock, fetch, refuse
from nubo.core.ops.secgroups import SECGROUP
from nubo.core.ops.vms import VM
from nubo.model import secgroup as sg


def _change(call: Call, vm_id: int, nic_id: int,
            change: Callable[[Connection, list[int]], list[int]]) -> int:
    pools = call.cloud.pools
    with call.cloud.db.write() as conn:
        vm = fetch(call, conn, VM, vm_id, A.MANAGE)
        check_lock(vm, A.MANAGE)
        nic = next((n for n in vm.template.get_vectors("NIC")
                    if n.get("NIC_ID") == str(nic_id)), None)
        if nic is None:
            raise refuse(f"VM {vm_id} has no NIC with NIC_ID {nic_id}", vm_id)
        before = secgroup_rules.group_ids(vm.template)
        ids = change(conn, sg.ids_of(nic.get("SECURITY_GROUPS")))
        if ids:
            nic.set("SECURITY_GROUPS", ",".join(map(str, ids)))
        else:
            nic.remove("SECURITY_GROUPS")
        send = secgroup_updates.rerender(conn, pools, vm)
        gone = set(before) - set(secgroup_rules.group_ids(vm.template))
        secgroup_rules.forget(conn, pools, vm_id, sorted(gone))
    secgroup_updates.send_updatesg(call.cloud, send)
    return vm_id


def attach_sg(call: Call, vm_id: int, nic_id: int, sg_id: int) -> int:
    def add(conn: Connection, ids: list[int]) -> list[int]:
        fetch(call, conn, SECGROUP, sg_id, A.USE)
        if sg_id in ids:
            raise refuse(f"Security group {sg_id} is already attached to NIC {nic_id}", vm_id)
        return sorted({*ids, sg_id})
    return _change(call, vm_id, nic_id, add)


def detach_sg(call: Call, vm_id: int, nic_id: int, sg_id: int) -> int:
    def remove(conn: Connection, ids: list[int]) -> list[int]:
        if sg_id not in ids:
            raise refuse(f"Security group {sg_id} is not attached to NIC {nic_id}", vm_id)
        return [i for i in ids if i != sg_id]
    return _change(call, vm_id, nic_id, remove)
