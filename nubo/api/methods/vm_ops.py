"""The rest of a VM's life-cycle methods: one.vm.recover, migrate, resize, updateconf,
attach/detach (disks), attachnic/detachnic and snapshotcreate/revert/delete.

As one.vm.deploy/action (vm_actions.py) they authorise here (the operation levels
of oned.conf's VM_ADMIN_OPERATIONS / VM_MANAGE_OPERATIONS defaults) and hand the
VM to the life-cycle manager. The change each makes to the VM's body (a DISK or NIC
marked ATTACH="YES", a SNAPSHOT marked ACTIVE="YES", the new CPU/MEMORY, a NIC's
lease) is made by a ``prepare`` callback in the transaction that commits the
machine's decision, after the machine accepted the action: a refusal (ActionError
naming the state) changes nothing. The driver's answer keeps or drops the marked
element (nubo.core.vm_commit.BODY_TASKS).
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from nubo.api.methods.clusters import DATASTORE, HOST, VNET
from nubo.core.ops.common import check_lock, fetch, parse_template
from nubo.api.methods.images import IMAGE
from nubo.api.methods.restricted import refuse_restricted, vm_restricted
from nubo.api.methods.vm_actions import _lifecycle, has_room
from nubo.api.methods.vms import VM
from nubo.api.registry import Bool, Int, Str, api
from nubo.core.ops.context import Call
from nubo.auth import acl as A
from nubo.core import vm_resources
from nubo.core.vm_commit import Loaded, move_usage, vm_size
from nubo.errors import ActionError, ApiError, NoExistsError
from nubo.lifecycle import MIGRATE_KINDS, RECOVER_OPERATIONS, Decision, LcmState, VmState
from nubo.model.infra import DS_SYSTEM
from nubo.model.limits import VM_NUMBERS, check_numbers
from nubo.model.vm import order_system_template
from nubo.template import Template
from nubo.template.attributes import VectorAttribute


def _vm(call: Call, vm_id: int, op: int) -> Any:
    with call.cloud.db.read() as conn:
        vm = fetch(call, conn, VM, vm_id, op)
    check_lock(vm, op)
    return vm


def _act(call: Call, vm_id: int, action: str, **params: Any) -> Decision:
    return _lifecycle(call).act(vm_id, action, uid=call.uid, gid=call.session.gid, **params)


# ------------------------------------------------------------------------- recover

@api("one.vm.recover", Int("id"), Int("operation"))
def vm_recover(call: Call, vm_id: int, operation: int) -> int:
    """0 failure, 1 success, 2 retry, 3 delete, 4 delete-recreate (VM:ADMIN)."""
    lcm = _lifecycle(call)
    _vm(call, vm_id, A.ADMIN)
    action = RECOVER_OPERATIONS.get(operation)
    if action is None:
        raise ApiError(f"Wrong recovery operation code {operation}", vm_id)
    lcm.act(vm_id, action, uid=call.uid, gid=call.session.gid)
    return vm_id


# ------------------------------------------------------------------------- migrate

@api("one.vm.migrate", Int("id"), Int("host_id"), Bool("live", False), Bool("enforce", False),
     Int("ds_id", -1), Int("migration_type", 0))
def vm_migrate(call: Call, vm_id: int, host_id: int, live: bool, enforce: bool, ds_id: int,
               migration_type: int) -> int:
    """Move a RUNNING (live or cold), POWEROFF, SUSPENDED or UNKNOWN VM to another host.

    VM:ADMIN, HOST:MANAGE (and DATASTORE:USE for a given system datastore). The
    system datastore stays the VM's unless ``ds_id`` names another system one.
    """
    lcm = _lifecycle(call)
    with call.cloud.db.read() as conn:
        vm = fetch(call, conn, VM, vm_id, A.ADMIN)
        check_lock(vm, A.ADMIN)
        host = fetch(call, conn, HOST, host_id, A.MANAGE)
        cluster = call.cloud.pools.clusters.find(conn, host.cluster_id)
        ds = fetch(call, conn, DATASTORE, ds_id, A.USE) if ds_id >= 0 else None
    kind = "migrate-live" if live else MIGRATE_KINDS.get(migration_type)
    if kind is None:
        raise ApiError(f"Wrong migration type {migration_type}", vm_id)
    if ds is not None and ds.type != DS_SYSTEM:
        raise ActionError(f"Datastore [{ds.id}] is not a system datastore", vm_id)
    current = vm.history[-1] if vm.history else None
    ds_id = ds.id if ds is not None else (current.ds_id if current else 0)
    tm_mad = ds.tm_mad if ds is not None else (current.tm_mad if current else "")
    if current is not None and current.hid == host.id and current.ds_id == ds_id:
        allowed = (vm.state, vm.lcm_state) == (VmState.ACTIVE, LcmState.RUNNING) or \
            vm.state in (VmState.POWEROFF, VmState.SUSPENDED) or \
            (vm.state, vm.lcm_state) == (VmState.ACTIVE, LcmState.UNKNOWN)
        if allowed:
            raise ActionError(f"VM is already running on host [{host.id}] and datastore "
                              f"[{ds_id}]", vm_id)
    if enforce and not has_room(host, cluster, vm):
        raise ActionError(f"Host {host.id} does not have enough capacity.", vm_id)
    lcm.act(vm_id, kind, host=host.id, ds_id=ds_id, tm_mad=tm_mad, uid=call.uid,
            gid=call.session.gid)
    return vm_id


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


@api("one.vm.resize", Int("id"), Str("template"), Bool("enforce", False))
def vm_resize(call: Call, vm_id: int, template: str, enforce: bool) -> int:
    """New CPU, VCPU and/or MEMORY (VM:MANAGE); a RUNNING VM goes through HOTPLUG_RESIZE.
    With ``enforce`` its host must have room for the growth."""
    lcm = _lifecycle(call)
    vm = _vm(call, vm_id, A.MANAGE)
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
        if "resize_host_usage" in decision.tasks:
            move_usage(conn, call.cloud.pools, body, before)

    vmm_mad = vm.history[-1].vm_mad if vm.history else ""
    lcm.act(vm_id, "resize", uid=call.uid, gid=call.session.gid, prepare=prepare,
            live=True, vmm_mad=vmm_mad)
    return vm_id


#: The sections one.vm.updateconf may change (OpenNebula's UPDATECONF_ATTRS).
UPDATECONF_ATTRS = ("OS", "FEATURES", "INPUT", "GRAPHICS", "RAW", "CONTEXT", "CPU_MODEL",
                    "BACKUP_CONFIG")


@api("one.vm.updateconf", Int("id"), Str("template"), Int("type", 0))
def vm_updateconf(call: Call, vm_id: int, template: str, update_type: int) -> int:
    """Replace (type 0) or merge (type 1) the VM's OS, FEATURES, INPUT, GRAPHICS, RAW,
    CONTEXT, CPU_MODEL and BACKUP_CONFIG (VM:MANAGE); a RUNNING VM whose CONTEXT changed
    gets it through the driver (HOTPLUG)."""
    lcm = _lifecycle(call)
    vm = _vm(call, vm_id, A.MANAGE)
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
        loaded.vm.template = order_system_template(updated(loaded.vm.template))

    lcm.act(vm_id, "updateconf", uid=call.uid, gid=call.session.gid, prepare=prepare,
            live=live)
    return vm_id


# ------------------------------------------------------------------------- disks

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


@api("one.vm.attach", Int("id"), Str("template"))
def vm_attach(call: Call, vm_id: int, template: str) -> int:
    """Attach a disk (VM:MANAGE; IMAGE:USE for an image): HOTPLUG on a RUNNING VM,
    HOTPLUG_PROLOG_POWEROFF on a POWEROFF one."""
    lcm = _lifecycle(call)
    _vm(call, vm_id, A.MANAGE)
    disk = _one_vector(template, "DISK", vm_id)
    _check_vector(call, disk, vm_id)
    image_id = disk.get("IMAGE_ID")
    if image_id is not None and image_id.isdigit():
        with call.cloud.db.read() as conn:
            fetch(call, conn, IMAGE, int(image_id), A.USE)
    for key in ("DISK_ID", "ATTACH"):
        disk.remove(key)

    def prepare(conn: Connection, loaded: Loaded, decision: Decision) -> None:
        disks = loaded.vm.template.get_vectors("DISK")
        disk.set("DISK_ID", str(_next_id(disks, "DISK_ID")))
        if image_id is not None and image_id.isdigit():
            image = call.cloud.pools.images.get(conn, int(image_id))
            vm_resources.take_image(conn, call.cloud.pools, vm_id, disk, image)
        disk.set("ATTACH", "YES")
        loaded.vm.template.add(disk)
        loaded.vm.template = order_system_template(loaded.vm.template)

    lcm.act(vm_id, "disk-attach", uid=call.uid, gid=call.session.gid, prepare=prepare)
    return vm_id


def _mark(vm_id: int, name: str, key: str, wanted: int, flag: str, missing: str):
    def prepare(conn: Connection, loaded: Loaded, decision: Decision) -> None:
        for vector in loaded.vm.template.get_vectors(name):
            if vector.get(key) == str(wanted):
                vector.set(flag, "YES")
                return
        raise ActionError(missing, vm_id)
    return prepare


@api("one.vm.detach", Int("id"), Int("disk_id"))
def vm_detach(call: Call, vm_id: int, disk_id: int) -> int:
    """Detach a disk (VM:MANAGE): HOTPLUG / HOTPLUG_EPILOG_POWEROFF."""
    lcm = _lifecycle(call)
    _vm(call, vm_id, A.MANAGE)
    missing = f"VM disk with DISK_ID {disk_id} does not exist."
    lcm.act(vm_id, "disk-detach", uid=call.uid, gid=call.session.gid,
            prepare=_mark(vm_id, "DISK", "DISK_ID", disk_id, "ATTACH", missing))
    return vm_id


# -------------------------------------------------------------------------- NICs

@api("one.vm.attachnic", Int("id"), Str("template"))
def vm_attachnic(call: Call, vm_id: int, template: str) -> int:
    """Attach a NIC (VM:MANAGE, NET:USE) with a lease of its network: HOTPLUG_NIC on a
    RUNNING VM; just recorded on a POWEROFF one."""
    lcm = _lifecycle(call)
    _vm(call, vm_id, A.MANAGE)
    nic = _one_vector(template, "NIC", vm_id)
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
    for key in ("NIC_ID", "ATTACH", "AR_ID"):
        nic.remove(key)

    def prepare(conn: Connection, loaded: Loaded, decision: Decision) -> None:
        nics = loaded.vm.template.get_vectors("NIC")
        nic_id = _next_id([*nics, *loaded.vm.template.get_vectors("NIC_ALIAS")], "NIC_ID")
        vm_resources.lease_nic(conn, call.cloud.pools, vm_id, nic, vnet.id, nic_id)
        nic.set("ATTACH", "YES")
        loaded.vm.template.add(nic)
        loaded.vm.template = order_system_template(loaded.vm.template)

    lcm.act(vm_id, "nic-attach", uid=call.uid, gid=call.session.gid, prepare=prepare)
    return vm_id


@api("one.vm.detachnic", Int("id"), Int("nic_id"))
def vm_detachnic(call: Call, vm_id: int, nic_id: int) -> int:
    """Detach a NIC (VM:MANAGE); its lease is freed when the detach succeeds."""
    lcm = _lifecycle(call)
    _vm(call, vm_id, A.MANAGE)
    missing = f"Could not detach NIC with NIC_ID {nic_id}, it does not exist."
    lcm.act(vm_id, "nic-detach", uid=call.uid, gid=call.session.gid,
            prepare=_mark(vm_id, "NIC", "NIC_ID", nic_id, "ATTACH", missing))
    return vm_id


# ---------------------------------------------------------------------- snapshots

@api("one.vm.snapshotcreate", Int("id"), Str("name", ""))
def vm_snapshotcreate(call: Call, vm_id: int, name: str) -> int:
    """A VM snapshot of a RUNNING VM (VM:MANAGE); returns its SNAPSHOT_ID."""
    lcm = _lifecycle(call)
    _vm(call, vm_id, A.MANAGE)
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

    lcm.act(vm_id, "snapshot-create", uid=call.uid, gid=call.session.gid, prepare=prepare)
    return made[0]


def _snapshot(call: Call, vm_id: int, snap_id: int, action: str, missing: str) -> int:
    lcm = _lifecycle(call)
    _vm(call, vm_id, A.MANAGE)
    lcm.act(vm_id, action, uid=call.uid, gid=call.session.gid, snap_id=snap_id,
            prepare=_mark(vm_id, "SNAPSHOT", "SNAPSHOT_ID", snap_id, "ACTIVE", missing))
    return vm_id


@api("one.vm.snapshotrevert", Int("id"), Int("snap_id"))
def vm_snapshotrevert(call: Call, vm_id: int, snap_id: int) -> int:
    return _snapshot(call, vm_id, snap_id, "snapshot-revert",
                     f"Could not revert to snapshot {snap_id}, it does not exist")


@api("one.vm.snapshotdelete", Int("id"), Int("snap_id"))
def vm_snapshotdelete(call: Call, vm_id: int, snap_id: int) -> int:
    return _snapshot(call, vm_id, snap_id, "snapshot-delete",
                     f"Could not delete snapshot {snap_id}, it does not exist")

