"""The bookkeeping a decision asks for beyond state, history and host usage.

A transition names its tasks (``T(tasks=(Task.RELEASE_RESOURCES,))``); the core
does each with exactly one handler (nubo.core.vm_tasks.HANDLERS), in the
transaction that commits the decision. The names are OpenNebula's (the
VirtualMachine methods its managers call: release_vnc_port, clear_attach_disk, ...),
so a task is a member here or it cannot be written in a table, and a member
without a handler fails the test suite (tests/unit/core/test_vm_tasks.py): none is
dropped silently.

Members are strings too, so ``"release_resources" in decision.tasks`` still reads.
"""
from __future__ import annotations

from enum import Enum


class Task(str, Enum):
    """One piece of bookkeeping on a VM's body or on what it holds."""

    #: free_vm_resources: every lease, image, VM group role and VNC port the VM holds.
    RELEASE_RESOURCES = "release_resources"
    #: A resubmitted VM forgets the hypervisor's name for it.
    RESET_DEPLOY_ID = "reset_deploy_id"
    #: The VM's SNAPSHOTs go, unless its virtualization driver keeps them.
    DROP_SNAPSHOTS = "drop_snapshots"
    #: The VM leaves its cluster's VNC ports (undeploy, delete).
    RELEASE_VNC_PORT = "release_vnc_port"
    #: A migration left the previous cluster: its GRAPHICS/PREVIOUS_PORT is freed.
    RELEASE_PREVIOUS_VNC_PORT = "release_previous_vnc_port"
    #: A failed migration: the VM keeps the port it had (PREVIOUS_PORT back to PORT).
    ROLLBACK_VNC_PORT = "rollback_vnc_port"
    #: recover --success of a CLONING_FAILURE VM: look at its images again.
    RECHECK_IMAGES = "recheck_images"
    #: Hotplug bookkeeping: the DISK/NIC/SNAPSHOT marked by the action in flight is
    #: kept (clear_*) or dropped with what it holds (delete_*).
    CLEAR_ATTACH_DISK = "clear_attach_disk"
    DELETE_ATTACH_DISK = "delete_attach_disk"
    CLEAR_ATTACH_NIC = "clear_attach_nic"
    DELETE_ATTACH_NIC = "delete_attach_nic"
    CLEAR_ACTIVE_SNAPSHOT = "clear_active_snapshot"
    DELETE_ACTIVE_SNAPSHOT = "delete_active_snapshot"
    #: A disk operation cut short by a clean-up: its marks go (a resize is undone).
    CLEAR_SAVEAS_DISK = "clear_saveas_disk"
    CLEAR_SNAPSHOT_DISK = "clear_snapshot_disk"
    CLEAR_RESIZE_DISK = "clear_resize_disk"
    #: A disk snapshot or resize answered: the change recorded (nubo.model.disk_snapshots).
    DISK_SNAPSHOT_CREATED = "disk_snapshot_created"
    DISK_SNAPSHOT_REVERTED = "disk_snapshot_reverted"
    DISK_SNAPSHOT_DELETED = "disk_snapshot_deleted"
    #: A disk snapshot not made after all: the entry recorded at the request goes.
    DISK_SNAPSHOT_CANCELLED = "disk_snapshot_cancelled"
    DISK_RESIZED = "disk_resized"
    #: A resize counts the VM's new size in the hosts that count it.
    RESIZE_HOST_USAGE = "resize_host_usage"
    #: A live resize answered: keep the new size (reset) or go back to the old (revert).
    RESET_RESIZE = "reset_resize"
    REVERT_RESIZE = "revert_resize"

    def __str__(self) -> str:
        return self.value
