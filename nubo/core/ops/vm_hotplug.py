"""The changes to a deployed VM: resize, updateconf, disks, NICs and snapshots.

As the other life-cycle operations (nubo.core.ops.vm_actions) each authorises
(VM:MANAGE, and USE on the image or network it takes), checks its arguments, and
hands the VM to the life-cycle manager. The change it makes to the VM's body (a DISK
or NIC marked ATTACH="YES", a SNAPSHOT marked ACTIVE="YES", the new CPU/MEMORY, a
NIC's lease) is its ``prepare``, run in the transaction that commits the machine's
decision, after the machine accepted the action: a refusal (ActionError naming the
state) changes nothing. The driver's answer keeps or drops the marked element
(nubo.core.vm_tasks: clear_attach_disk, delete_attach_nic, ...).
"""
from __future__ import annotations

from typing import Any, Callable

from sqlalchemy import Connection

from nubo.auth import acl as A
from nubo.core import vm_nics, vm_resources
from nubo.core import secgroup_rules
from nubo.core.ops.common import fetch, parse_template
from nubo.core.ops.call import Call
from nubo.core.ops.restricted_checks import refuse_restricted, vm_restricted
from nubo.core.ops.vm_actions import act, life_cycle, usable_vm
from nubo.core.ops.vm_context import refresh_network, update_context
from nubo.core.ops.clusters import VNET
from nubo.core.ops.images import IMAGE
from nubo.core.vm_commit import Loaded
from nubo.core.vm_resources import vm_size
from nubo.errors import ActionError, ApiError, NoExistsError
from nubo.lifecycle import Decision, LcmState
from nubo.model.limits import VM_NUMBERS, check_numbers
from nubo.model.vm import VirtualMachine, order_system_template
from nubo.template import Template
from nubo.template.attributes import VectorAttribute


# ------------------------------------------------------------------ resize, updateconf

def _positive(template: Template, name: str, kind: type) -> str | None:
    value = template.get(name)
    if value is None or value == "":
        return None
    try:
        number = kind(value)
    except ValueError:
        number = 0
    if number <= 0:
        what = "float or integer" if kind is float else "integer"
        raise ApiError(f"{name} must be a positive {what} value.")
    problem = VM_NUMBERS[name].problem(name, value)
    if problem:
        raise ApiError(problem)
    return value


def resize_vm(call: Call, vm_id: int, template: str, enforce: bool) -> int:
    """New CPU, VCPU and/or MEMORY (VM:MANAGE); a RUNNING VM goes through HOTPLUG_RESIZE.
    With ``enforce`` its host must have room for the growth."""
    life_cycle(call)
    vm = usable_vm(call, vm_id, A.MANAGE)
    new = parse_template(template)
    values = {"CPU": _positive(new, "CPU", float), "VCPU": _positive(new, "VCPU", int),
              "MEMORY": _positive(new, "MEMORY", int)}
    values = {k: v for k, v in values.items() if v is not None}
    host_id = vm.history[-1].hid if vm.history else None

    def prepare(conn: Connection, loaded: Loaded, decision: Decision) -> None:
        body = loaded.vm
        before = vm_size(body)
        previous = {k: body.template.get(k) or "" for k in ("CPU", "VCPU", "MEMORY")}
        for key, value in values.items():
            body.template.set(key, value)
        body.template = order_system_template(body.template)
        counted = host_id is not None and host_id in loaded.view.hosts
        if enforce and counted:
            host = call.cloud.pools.hosts.get(conn, host_id)
            cpu, mem = vm_size(body)
            share = host.host_share
            if (share.cpu_usage - before[0] + cpu > share.max_cpu
                    or share.mem_usage - before[1] + mem > share.max_mem):
                raise ActionError(f"Host {host_id} does not have enough capacity.", vm_id)
        if decision.lcm_state == LcmState.HOTPLUG_RESIZE:  # kept until the driver answers
            body.user_template.set("RESIZE_PREVIOUS", {k: v for k, v in previous.items() if v})

    vmm_mad = vm.history[-1].vm_mad if vm.history else ""
    act(call, vm_id, "resize", prepare=prepare, live=True, vmm_mad=vmm_mad)
    return vm_id


#: The sections one.vm.updateconf may change (OpenNebula's UPDATECONF_ATTRS).
UPDATECONF_ATTRS = ("OS", "FEATURES", "INPUT", "GRAPHICS", "RAW", "CONTEXT", "CPU_MODEL",
                    "BACKUP_CONFIG")


def update_vm_conf(call: Call, vm_id: int, template: str, update_type: int) -> int:
    """Replace (type 0) or merge (type 1) the VM's OS, FEATURES, INPUT, GRAPHICS, RAW,
    CONTEXT, CPU_MODEL and BACKUP_CONFIG (VM:MANAGE); a RUNNING VM whose CONTEXT changed
    gets it through the driver (HOTPLUG)."""
    life_cycle(call)
    vm = usable_vm(call, vm_id, A.MANAGE)
    if update_type not in (0, 1):
        raise ApiError(f"Wrong update type {update_type}: use 0 (replace) or 1 (merge)", vm_id)
    new = parse_template(template)

    def updated(current: Template) -> Template:
        out = current.copy()
        for name in UPDATECONF_ATTRS:
            given = new.get_vector(name)
            if update_type == 0:
                out.remove(name)
                if given is not None:
                    out.add(given.copy())
            elif given is not None:
                mine = out.get_vector(name)
                if mine is None:
                    out.add(given.copy())
                else:
                    for key, value in given.items():
                        mine.set(key, value)
        return out

    def context(t: Template) -> dict[str, str]:
        vector = t.get_vector("CONTEXT")
        return dict(vector.items()) if vector is not None else {}

    refuse_restricted(call, updated(vm.template), vm_restricted(call), "Template", vm.template,
                      oid=vm_id)
    live = context(updated(vm.template)) != context(vm.template)

    def prepare(conn: Connection, loaded: Loaded, decision: Decision) -> None:
        before = loaded.vm.template.get_vector("CONTEXT")
        loaded.vm.template = order_system_template(updated(loaded.vm.template))
        update_context(call, conn, loaded.vm, before)  # ctx: variables, ETHn_*, TOKEN

    act(call, vm_id, "updateconf", prepare=prepare, live=live,
        context=updated(vm.template).get_vector("CONTEXT") is not None)
    return vm_id


# ------------------------------------------------------------------------- disks

#: What runs on the vector ``_on_marked`` marked, in the same transaction.
Marked = Callable[[Connection, VirtualMachine, VectorAttribute], None]

def _next_id(vectors: list[VectorAttribute], key: str) -> int:
    ids = [int(v.get(key) or -1) for v in vectors if (v.get(key) or "").lstrip("-").isdigit()]
    return max(ids, default=-1) + 1


def _one_vector(text: str, name: str, vm_id: int) -> VectorAttribute:
    vector = parse_template(text).get_vector(name)
    if vector is None:
        raise ApiError(f"Wrong {name} template: it has no {name} attribute", vm_id)
    return vector.copy()


def _check_vector(call: Call, vector: VectorAttribute, vm_id: int) -> None:
    """An attached DISK/NIC: no restricted attribute for a non-admin, numbers in range."""
    alone = Template([vector])
    refuse_restricted(call, alone, vm_restricted(call), vector.name, oid=vm_id)
    check_numbers(alone, VM_NUMBERS, vm_id)


def attach_disk(call: Call, vm_id: int, template: str) -> int:
    """Attach a disk (VM:MANAGE; IMAGE:USE for an image): HOTPLUG on a RUNNING VM,
    HOTPLUG_PROLOG_POWEROFF on a POWEROFF one."""
    life_cycle(call)
    usable_vm(call, vm_id, A.MANAGE)
    disk = _one_vector(template, "DISK", vm_id)
    _check_vector(call, disk, vm_id)
    image_id = disk.get("IMAGE_ID")
    if image_id is not None and image_id.isdigit():
        with call.cloud.db.read() as conn:
            fetch(call, conn, IMAGE, int(image_id), A.USE)
    for key in ("DISK_ID", "ATTACH"):
        disk.remove(key)

    def prepare(conn: Connection, loaded: Loaded, decision: Decision) -> None:
        # Past the context CD-ROM's too (VirtualMachineDisks::set_up_attach): its
        # DISK_ID names the file disk.N the hypervisor has open.
        disks = [*loaded.vm.template.get_vectors("DISK"),
                 *loaded.vm.template.get_vectors("CONTEXT")]
        disk.set("DISK_ID", str(_next_id(disks, "DISK_ID")))
        vm_resources.attach_disk(conn, call.cloud.pools, loaded.vm, disk)
        disk.set("ATTACH", "YES")
        loaded.vm.template.add(disk)
        vm_resources.place(conn, call.cloud.pools, loaded.vm.template)
        loaded.vm.template = order_system_template(loaded.vm.template)

    act(call, vm_id, "disk-attach", prepare=prepare)
    return vm_id


def _on_marked(call: Call, vm_id: int, action: str, name: str | tuple[str, ...], key: str,
               wanted: int, flag: str, missing: str, then: Marked | None = None,
               **params: Any) -> int:
    """Do ``action`` on the VM's ``name`` vector (one of the names) whose ``key`` is
    ``wanted``, marked with ``flag`` until the driver answers (``missing`` if the VM has
    none such); ``then`` sees the marked vector."""
    life_cycle(call)
    usable_vm(call, vm_id, A.MANAGE)
    names = (name,) if isinstance(name, str) else name

    def prepare(conn: Connection, loaded: Loaded, decision: Decision) -> None:
        for vector in (v for n in names for v in loaded.vm.template.get_vectors(n)):
            if vector.get(key) == str(wanted):
                vector.set(flag, "YES")
                if then is not None:
                    then(conn, loaded.vm, vector)
                return
        raise ActionError(missing, vm_id)

    act(call, vm_id, action, prepare=prepare, **params)
    return vm_id


def detach_disk(call: Call, vm_id: int, disk_id: int) -> int:
    """Detach a disk (VM:MANAGE): HOTPLUG / HOTPLUG_EPILOG_POWEROFF."""
    return _on_marked(call, vm_id, "disk-detach", "DISK", "DISK_ID", disk_id, "ATTACH",
                      f"VM disk with DISK_ID {disk_id} does not exist.")


# -------------------------------------------------------------------------- NICs

def attach_nic(call: Call, vm_id: int, template: str) -> int:
    """Attach a NIC, or a NIC_ALIAS to the NIC its PARENT names (VM:MANAGE, NET:USE),
    with a lease of its network: HOTPLUG_NIC on a RUNNING VM; just recorded on a
    POWEROFF one."""
    life_cycle(call)
    vm = usable_vm(call, vm_id, A.MANAGE)
    alias = (parse_template(template).get_vector("NIC") is None
             and parse_template(template).get_vector("NIC_ALIAS") is not None)
    nic = _one_vector(template, "NIC_ALIAS" if alias else "NIC", vm_id)
    if alias and not nic.get("PARENT"):
        raise ApiError("NIC_ALIAS has no PARENT: the NAME of the NIC it is an alias of",
                       vm_id)
    _check_vector(call, nic, vm_id)
    with call.cloud.db.read() as conn:
        ref = nic.get("NETWORK_ID")
        if ref is not None and ref.isdigit():
            vnet = fetch(call, conn, VNET, int(ref), A.USE)
        elif nic.get("NETWORK"):
            oid = call.cloud.pools.vnets.oid_by_name(conn, nic.get("NETWORK") or "", call.uid)
            if oid is None:
                raise NoExistsError(f"Error getting virtual network [{nic.get('NETWORK')}].",
                                    vm_id)
            vnet = fetch(call, conn, VNET, oid, A.USE)
        else:
            raise ApiError("NIC has no NETWORK_ID or NETWORK", vm_id)
    for key in ("NIC_ID", "ATTACH", "AR_ID", "PARENT_ID", "ALIAS_ID", "ALIAS_IDS"):
        nic.remove(key)

    def prepare(conn: Connection, loaded: Loaded, decision: Decision) -> None:
        if alias:
            vm_nics.attach_alias(conn, call.cloud.pools, loaded.vm, nic, vnet.id)
        else:
            nics = loaded.vm.template.get_vectors("NIC")
            nic_id = _next_id([*nics, *loaded.vm.template.get_vectors("NIC_ALIAS")],
                              "NIC_ID")
            vm_nics.lease_nic(conn, call.cloud.pools, vm_id, nic, vnet.id, nic_id)
        nic.set("ATTACH", "YES")
        loaded.vm.template.add(nic)
        vm_resources.place(conn, call.cloud.pools, loaded.vm.template)
        secgroup_rules.render(conn, call.cloud.pools, loaded.vm)
        loaded.vm.template = order_system_template(loaded.vm.template)
        refresh_network(call, conn, loaded.vm)  # ctx: the new NIC's ETHn_*

    act(call, vm_id, "nic-attach", prepare=prepare, context=_has_context(vm), alias=alias)
    return vm_id


def detach_nic(call: Call, vm_id: int, nic_id: int) -> int:
    """Detach a NIC or a NIC_ALIAS (VM:MANAGE); its lease is freed when the detach
    succeeds, and a NIC's aliases go with it (oned)."""
    life_cycle(call)
    vm = usable_vm(call, vm_id, A.MANAGE)
    alias = any(a.get("NIC_ID") == str(nic_id) for a in vm.template.get_vectors("NIC_ALIAS"))

    def context(conn: Connection, vm: VirtualMachine, nic: VectorAttribute) -> None:
        refresh_network(call, conn, vm, leaving=nic)  # ctx: its ETHn_* go

    return _on_marked(call, vm_id, "nic-detach", ("NIC", "NIC_ALIAS"), "NIC_ID", nic_id,
                      "ATTACH",
                      f"Could not detach NIC with NIC_ID {nic_id}, it does not exist.",
                      then=context, context=_has_context(vm), alias=alias)


def _has_context(vm: VirtualMachine) -> bool:
    """A VM with a CONTEXT gets its CD-ROM rebuilt before the hypervisor hears of a NIC
    change (nubo.lifecycle.hotplug)."""
    return vm.template.get_vector("CONTEXT") is not None


# ---------------------------------------------------------------------- snapshots

def create_snapshot(call: Call, vm_id: int, name: str) -> int:
    """A VM snapshot of a RUNNING VM (VM:MANAGE); returns its SNAPSHOT_ID."""
    life_cycle(call)
    usable_vm(call, vm_id, A.MANAGE)
    made: list[int] = []

    def prepare(conn: Connection, loaded: Loaded, decision: Decision) -> None:
        snaps = loaded.vm.template.get_vectors("SNAPSHOT")
        snap_id = _next_id(snaps, "SNAPSHOT_ID")
        loaded.vm.template.add(VectorAttribute("SNAPSHOT", {
            "ACTIVE": "YES", "HYPERVISOR_ID": "", "NAME": name or f"snapshot-{snap_id}",
            "SNAPSHOT_ID": str(snap_id), "SYSTEM_DISK_SIZE": "0",
            "TIME": str(call.cloud.now())}))
        loaded.vm.template = order_system_template(loaded.vm.template)
        made.append(snap_id)

    act(call, vm_id, "snapshot-create", prepare=prepare)
    return made[0]


def _snapshot(call: Call, vm_id: int, snap_id: int, action: str, missing: str) -> int:
    return _on_marked(call, vm_id, action, "SNAPSHOT", "SNAPSHOT_ID", snap_id, "ACTIVE",
                      missing, snap_id=snap_id)


def revert_snapshot(call: Call, vm_id: int, snap_id: int) -> int:
    """Go back to a VM snapshot of a RUNNING VM (VM:MANAGE)."""
    return _snapshot(call, vm_id, snap_id, "snapshot-revert",
                     f"Could not revert to snapshot {snap_id}, it does not exist")


def delete_snapshot(call: Call, vm_id: int, snap_id: int) -> int:
    """Delete a VM snapshot of a RUNNING VM (VM:MANAGE)."""
    return _snapshot(call, vm_id, snap_id, "snapshot-delete",
                     f"Could not delete snapshot {snap_id}, it does not exist")

