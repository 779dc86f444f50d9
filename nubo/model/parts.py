"""Pieces shared by several object bodies: locks and quota blocks."""
from __future__ import annotations

from dataclasses import dataclass

from nubo.model.xmlobj import RawXml


@dataclass
class Lock:
    """OpenNebula's LOCK element: a lock level (1 use, 2 manage, 3 admin; a requested
    4, "all", is stored as 1, as oned does)."""

    locked: int
    owner: int
    time: int
    req_id: int = -1


QUOTA_TAGS = "DATASTORE_QUOTA|NETWORK_QUOTA|VM_QUOTA|IMAGE_QUOTA"

EMPTY_QUOTAS = RawXml(
    "<DATASTORE_QUOTA/><NETWORK_QUOTA/><VM_QUOTA/><IMAGE_QUOTA/>"
)

_VM_DEFAULT_QUOTA = (
    "<VM_QUOTA><VM>" + "".join(
        f"<{k}>-1</{k}><{k}_USED>0</{k}_USED>" for k in (
            "CPU", "MEMORY", "PCI_DEV", "PCI_NIC", "RUNNING_CPU", "RUNNING_MEMORY",
            "RUNNING_PCI_DEV", "RUNNING_PCI_NIC", "RUNNING_VMS", "SYSTEM_DISK_SIZE", "VMS")
    ) + "</VM></VM_QUOTA>"
)


def default_quotas(root: str) -> RawXml:
    """The DEFAULT_USER_QUOTAS / DEFAULT_GROUP_QUOTAS block: -1 means unlimited."""
    return RawXml(f"<{root}><DATASTORE_QUOTA/><NETWORK_QUOTA/>{_VM_DEFAULT_QUOTA}"
                  f"<IMAGE_QUOTA/></{root}>")
