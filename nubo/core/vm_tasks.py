"""The one handler of each life-cycle task (nubo.lifecycle.tasks.Task).

``commit`` (nubo.core.vm_commit) runs a decision's tasks here, in the transaction
that commits it, on the VM as loaded. A handler changes the VM's body and what it
holds (images, leases, host usage); it may also answer with a :class:`FollowUp`, a
life-cycle event the machine runs on the VM next, in the same transaction (the
images re-checked after a CLONING_FAILURE say whether the VM goes on).

A hotplug in flight marks its DISK/NIC/SNAPSHOT with ATTACH="YES" / ACTIVE="YES" in
the VM body (as OpenNebula does); the driver's answer keeps it (clear_*) or drops it
(delete_*). Leases of a NIC dropped here, and of every NIC when the VM is finished,
are freed through nubo.core.leases (rows deleted: freed at most once).

VNC ports: as OpenNebula, a VM with GRAPHICS holds a port of its cluster from its
deploy (nubo.core.ops.vm_actions.reserve_vnc_port, nubo.store.vnc_ports) until it
frees what it holds (undeploy, done, delete-recreate). The VNC tasks keep the body's
bookkeeping as oned does: a migration's PREVIOUS_PORT is dropped once the VM left the
previous place, or put back as PORT if the migration failed.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from sqlalchemy import Connection

from nubo.core import leases, vm_nics, vm_resources
from nubo.core.context_sources import refreshing
from nubo.core import secgroup_rules
from nubo.core.pool_set import Pools
from nubo.lifecycle.tasks import Task
from nubo.model import disk_snapshots
from nubo.model.resources import (IMAGE_CLONE, IMAGE_INIT, IMAGE_LOCKED, IMAGE_LOCKED_USED,
                                  IMAGE_LOCKED_USED_PERS, IMAGE_READY, IMAGE_USED,
                                  IMAGE_USED_PERS)
from nubo.model.vm import VirtualMachine
from nubo.store import vnc_ports
from nubo.template import Template, VectorAttribute

#: Image states a VM's disk can run from, and those of an image still being made.
_IMAGE_READY = frozenset({IMAGE_READY, IMAGE_USED, IMAGE_USED_PERS})
_IMAGE_COMING = frozenset({IMAGE_INIT, IMAGE_LOCKED, IMAGE_CLONE, IMAGE_LOCKED_USED,
                           IMAGE_LOCKED_USED_PERS})


@dataclass(frozen=True)
class FollowUp:
    """A life-cycle event (nubo.lifecycle.EVENTS) to run on the VM after this commit."""

    event: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class TaskContext:
    """What a handler works on: the committing transaction and the VM as loaded.

    ``size_before`` is the size (CPU, memory) the VM's hosts counted when it was
    loaded, before the action changed its template (a resize).
    """

    conn: Connection
    pools: Pools
    vm: VirtualMachine
    size_before: tuple[int, int]


Handler = Callable[[TaskContext], "FollowUp | None"]


def run(ctx: TaskContext, tasks: tuple[Task, ...]) -> list[FollowUp]:
    """Do ``tasks`` in order; the events they ask for next."""
    follow_ups = []
    for task in tasks:
        follow_up = HANDLERS[Task(task)](ctx)
        if follow_up is not None:
            follow_ups.append(follow_up)
    return follow_ups


# ------------------------------------------------------------------ marked vectors

def _marked(vm: VirtualMachine, name: str, flag: str) -> list[VectorAttribute]:
    if name == "NIC":  # a NIC_ALIAS is attached and detached as a NIC
        return vm_nics.marked(vm, flag)
    return [v for v in vm.template.get_vectors(name) if (v.get(flag) or "").upper() == "YES"]


def _drop_vectors(vm: VirtualMachine, doomed: list[VectorAttribute]) -> None:
    if doomed:
        vm.template = Template([a for a in vm.template if not any(a is d for d in doomed)])


def _free_nic_leases(conn: Connection, pools: Pools, vm: VirtualMachine,
                     nics: list[VectorAttribute]) -> None:
    for nic in nics:
        vnet_id, ip, mac = nic.get("NETWORK_ID"), nic.get("IP"), nic.get("MAC")
        if vnet_id is None or not vnet_id.lstrip("-").isdigit() or int(vnet_id) < 0:
            continue
        if not (ip or mac):
            continue
        for row in leases.leases_of(conn, ("VM", vm.id)):
            if row.vnet_id != int(vnet_id):
                continue
            vnet = pools.vnets.find(conn, row.vnet_id)
            if vnet is None:
                continue
            ar = next((a for a in leases.ranges_of(vnet) if a.ar_id == row.ar_id), None)
            if ar is None:
                continue
            address = ar.address(row.index).attributes()
            if (mac and address.get("MAC") == mac) or (ip and address.get("IP") == ip):
                leases.free_rows(conn, row.vnet_id, ar_id=row.ar_id, owner=("VM", vm.id),
                                 index=row.index)
                leases.save(conn, pools.vnets, vnet, leases.ranges_of(vnet))


def _clear_flag(name: str, flag: str) -> Handler:
    """The marked vector stays; its mark goes."""
    def handler(ctx: TaskContext) -> None:
        for vector in _marked(ctx.vm, name, flag):
            vector.remove(flag)
    return handler


def _delete_marked(name: str, flag: str) -> Handler:
    """The marked vector goes, with the lease (NIC) or image (DISK) it holds."""
    def handler(ctx: TaskContext) -> None:
        doomed = _marked(ctx.vm, name, flag)
        if name == "NIC":
            doomed = vm_nics.with_aliases(ctx.vm, doomed)
            _free_nic_leases(ctx.conn, ctx.pools, ctx.vm, doomed)
        elif name == "DISK":
            for disk in doomed:
                vm_resources.release_image(ctx.conn, ctx.pools, ctx.vm.id, disk)
        _drop_vectors(ctx.vm, doomed)
        if name == "NIC":
            vm_nics.unlink_aliases(ctx.vm, doomed)
            secgroup_rules.refresh(ctx.conn, ctx.pools, ctx.vm)
    return handler


def _clear_disk_marks(flag: str, keys: tuple[str, ...],
                      restore: tuple[str, str] | None = None) -> Handler:
    """A disk operation cut short: the DISK marked ``flag`` loses ``keys`` (and gets
    ``restore``'s saved value back: SIZE from SIZE_PREV for a disk resize)."""
    def handler(ctx: TaskContext) -> None:
        for disk in _marked(ctx.vm, "DISK", flag):
            if restore is not None and disk.get(restore[1]):
                disk.set(restore[0], disk.get(restore[1]) or "")
            for key in (flag, *keys):
                disk.remove(key)
    return handler


# ------------------------------------------------------------------------ the tasks

def _release_resources(ctx: TaskContext) -> None:
    """free_vm_resources: every lease, image and VNC port the VM holds (its VM group
    role is left in commit)."""
    vm_resources.release(ctx.conn, ctx.pools, ctx.vm)
    vnc_ports.release(ctx.conn, ctx.vm.id)


def _reset_deploy_id(ctx: TaskContext) -> None:
    ctx.vm.deploy_id = ""


def _drop_snapshots(ctx: TaskContext) -> None:
    """OpenNebula deletes the SNAPSHOTs unless the VMM driver has KEEP_SNAPSHOTS.
    nubo's drivers do not declare it yet (the driver registry's capabilities), so the
    snapshots are kept, as a KEEP_SNAPSHOTS driver's are: what nubo always did."""


def _graphics(vm: VirtualMachine) -> VectorAttribute | None:
    return vm.template.get_vector("GRAPHICS")


def _release_vnc_port(ctx: TaskContext) -> None:
    """The VM leaves its cluster's ports (its PORT stays in its body, reserved again at
    its next deploy, as oned's)."""
    vnc_ports.release(ctx.conn, ctx.vm.id)


def _release_previous_vnc_port(ctx: TaskContext) -> None:
    """The VM left its previous place: the port it had there is no longer its."""
    graphics = _graphics(ctx.vm)
    if graphics is not None:
        graphics.remove("PREVIOUS_PORT")


def _rollback_vnc_port(ctx: TaskContext) -> None:
    """A failed migration: the VM keeps the port it had (PREVIOUS_PORT back as PORT)."""
    graphics = _graphics(ctx.vm)
    previous = graphics.get("PREVIOUS_PORT") if graphics is not None else None
    if graphics is not None and previous:
        graphics.set("PORT", previous)
        graphics.remove("PREVIOUS_PORT")


def _recheck_images(ctx: TaskContext) -> FollowUp | None:
    """recover --success of a CLONING_FAILURE VM (now CLONING): its images again. All
    ready, it goes on (PENDING, or HOLD if submitted on hold); one failed, back to
    CLONING_FAILURE; one still being made, it waits in CLONING."""
    waiting = False
    for disk in ctx.vm.template.get_vectors("DISK"):
        ref = (disk.get("IMAGE_ID") or "").strip()
        if not ref.isdigit():
            continue
        image = ctx.pools.images.find(ctx.conn, int(ref))
        if image is None or (image.state not in _IMAGE_READY
                             and image.state not in _IMAGE_COMING):
            return FollowUp("images-failed")
        waiting = waiting or image.state in _IMAGE_COMING
    if waiting:
        return None
    hold = (ctx.vm.template.get("SUBMIT_ON_HOLD") or "").upper() == "YES"
    return FollowUp("images-ready", {"hold": hold})


def _resize_host_usage(ctx: TaskContext) -> None:
    """The resized VM counts for its new size in the hosts that count it."""
    vm_resources.move_usage(ctx.conn, ctx.pools, ctx.vm, ctx.size_before)


def _revert_resize(ctx: TaskContext) -> None:
    """A failed live resize: back to the size kept in USER_TEMPLATE/RESIZE_PREVIOUS
    (and the host usage)."""
    vm = ctx.vm
    old = vm.user_template.get_vector("RESIZE_PREVIOUS")
    if old is None:
        return
    before = vm_resources.vm_size(vm)
    for key in ("CPU", "VCPU", "MEMORY"):
        value = old.get(key)
        if value:
            vm.template.set(key, value)
    vm.user_template.remove("RESIZE_PREVIOUS")
    vm_resources.move_usage(ctx.conn, ctx.pools, vm, before)


def _reset_resize(ctx: TaskContext) -> None:
    ctx.vm.user_template.remove("RESIZE_PREVIOUS")


#: Exactly one handler per task (tests/unit/core/test_vm_tasks.py checks it).
HANDLERS: dict[Task, Handler] = {
    Task.RELEASE_RESOURCES: _release_resources,
    Task.RESET_DEPLOY_ID: _reset_deploy_id,
    Task.DROP_SNAPSHOTS: _drop_snapshots,
    Task.RELEASE_VNC_PORT: _release_vnc_port,
    Task.RELEASE_PREVIOUS_VNC_PORT: _release_previous_vnc_port,
    Task.ROLLBACK_VNC_PORT: _rollback_vnc_port,
    Task.RECHECK_IMAGES: _recheck_images,
    Task.CLEAR_ATTACH_DISK: _clear_flag("DISK", "ATTACH"),
    Task.DELETE_ATTACH_DISK: _delete_marked("DISK", "ATTACH"),
    Task.CLEAR_ATTACH_NIC: refreshing(_clear_flag("NIC", "ATTACH")),  # ctx: ETHn_* in step
    Task.DELETE_ATTACH_NIC: refreshing(_delete_marked("NIC", "ATTACH")),
    Task.CLEAR_ACTIVE_SNAPSHOT: _clear_flag("SNAPSHOT", "ACTIVE"),
    Task.DELETE_ACTIVE_SNAPSHOT: _delete_marked("SNAPSHOT", "ACTIVE"),
    Task.CLEAR_SAVEAS_DISK: _clear_disk_marks(
        "HOTPLUG_SAVE_AS_ACTIVE", ("HOTPLUG_SAVE_AS", "HOTPLUG_SAVE_AS_SOURCE",
                                   "HOTPLUG_SAVE_AS_SNAPSHOT_ID")),
    Task.CLEAR_SNAPSHOT_DISK: _clear_disk_marks(
        "DISK_SNAPSHOT_ACTIVE", ("DISK_SNAPSHOT_ID", "DISK_SNAPSHOT_NAME")),
    Task.CLEAR_RESIZE_DISK: _clear_disk_marks("RESIZE", ("SIZE_PREV",),
                                              restore=("SIZE", "SIZE_PREV")),
    Task.DISK_SNAPSHOT_CREATED: lambda ctx: disk_snapshots.snapshot_created(ctx.vm),
    Task.DISK_SNAPSHOT_REVERTED: lambda ctx: disk_snapshots.snapshot_reverted(ctx.vm),
    Task.DISK_SNAPSHOT_DELETED: lambda ctx: disk_snapshots.snapshot_dropped(ctx.vm),
    Task.DISK_SNAPSHOT_CANCELLED: lambda ctx: disk_snapshots.snapshot_dropped(ctx.vm),
    Task.DISK_RESIZED: _clear_disk_marks("RESIZE", ("SIZE_PREV",)),
    Task.RESIZE_HOST_USAGE: _resize_host_usage,
    Task.RESET_RESIZE: _reset_resize,
    Task.REVERT_RESIZE: _revert_resize,
}
