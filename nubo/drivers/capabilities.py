"""What a virtualization driver can do, and which of it a VM action needs.

Hypervisors differ: one resizes a running VM, another only a stopped one; one
migrates live, another cannot snapshot. A driver declares its capabilities (its
``DriverSpec.capabilities``, docs/drivers.md) and the life-cycle manager asks the
driver of the VM's host before it commits an action, so that an action the driver
cannot do is refused with a clear message before anything changes, instead of
failing in the driver after the VM moved to a transient state.

Plain data keyed by the state machine's action names and the drivers' protocol
actions, so that this module needs neither the life-cycle nor a process.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Final

#: Every capability a driver may declare, and how a refusal names it.
CAPABILITIES: Final[dict[str, str]] = {
    "live-resize": "resize a running VM",
    "live-nic-attach": "attach or detach a NIC of a running VM",
    "cold-nic-attach": "attach or detach a NIC of a powered-off VM",
    "live-disk-attach": "attach or detach a disk of a running VM",
    "cold-disk-attach": "attach or detach a disk of a powered-off VM",
    "live-migration": "migrate a running VM",
    "cold-migration": "migrate a VM by saving it and restoring it elsewhere",
    "snapshots": "take, revert or delete VM snapshots",
    "disk-snapshots": "take, revert or delete disk snapshots",
    "disk-resize": "resize a disk of a running VM",
    "save-restore": "save a VM's memory to disk and restore it (suspend, stop)",
}
#: What a driver that declares nothing can do: everything nubo's life-cycle did before
#: drivers declared capabilities, so configurations written then keep working.
ALL: Final = frozenset(CAPABILITIES)

#: Machine actions whose need depends on whether the VM runs (``live``) or not.
_BY_ACTION: Final[dict[str, tuple[str | None, str | None]]] = {
    "nic-attach": ("live-nic-attach", "cold-nic-attach"),
    "nic-detach": ("live-nic-attach", "cold-nic-attach"),
    "disk-attach": ("live-disk-attach", "cold-disk-attach"),
    "disk-detach": ("live-disk-attach", "cold-disk-attach"),
    "migrate-live": ("live-migration", "live-migration"),
    "migrate": ("cold-migration", "cold-migration"),
    "poweroff-migrate": ("cold-migration", "cold-migration"),
    "poweroff-hard-migrate": ("cold-migration", "cold-migration"),
    "snapshot-create": ("snapshots", "snapshots"),
    "snapshot-revert": ("snapshots", "snapshots"),
    "snapshot-delete": ("snapshots", "snapshots"),
}
#: Protocol actions sent to the VM's virtualization driver, whatever action sent them.
_BY_DRIVER_ACTION: Final[dict[str, str]] = {
    "RESIZE": "live-resize",
    "MIGRATE": "live-migration",
    "SAVE": "save-restore",
    "RESTORE": "save-restore",
    "SNAPSHOTCREATE": "snapshots",
    "SNAPSHOTREVERT": "snapshots",
    "SNAPSHOTDELETE": "snapshots",
    "DISKSNAPSHOTCREATE": "disk-snapshots",
    "DISKSNAPSHOTREVERT": "disk-snapshots",
    "DISKSNAPSHOTDELETE": "disk-snapshots",
    "RESIZEDISK": "disk-resize",
}


def check(names: Iterable[str] | str, driver: str = "") -> frozenset[str]:
    """The declared names (a list, or one comma-separated string) as a set; an unknown
    one is a configuration error."""
    if isinstance(names, str):
        names = names.split(",")
    declared = frozenset(n.strip().lower() for n in names if n.strip())
    unknown = sorted(declared - ALL)
    if unknown:
        raise ValueError(f"driver {driver}: unknown capabilit{'y' if len(unknown) == 1 else 'ies'} "
                         f"{', '.join(unknown)} (known: {', '.join(sorted(ALL))})")
    return declared


def needed(action: str, live: bool, driver_actions: Iterable[str]) -> list[str]:
    """The capabilities a VM action needs from its host's virtualization driver:
    ``action`` is the machine's name, ``live`` whether the VM runs, ``driver_actions``
    what the decision sends that driver first."""
    out: list[str] = []
    pair = _BY_ACTION.get(action)
    if pair is not None and (cap := pair[0] if live else pair[1]) is not None:
        out.append(cap)
    for name in driver_actions:
        cap = _BY_DRIVER_ACTION.get(name)
        if cap is not None and cap not in out:
            out.append(cap)
    return out


def describe(capability: str) -> str:
    return CAPABILITIES.get(capability, capability)
