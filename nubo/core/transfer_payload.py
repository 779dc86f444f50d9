"""The TRANSFER payload of a transfer operation: the script of nubo.lifecycle.transfer
for the VM as committed, and the VM itself.

OpenNebula's transfer manager writes the script to a file and sends ``TRANSFER id
file``; nubo's drivers may run on another machine, so the script travels in the
payload, an XML document a driver in any language can read:

    <TRANSFER><ACTION>PROLOG</ACTION><SCRIPT>CLONE ssh fe:/src host:/dst 12 1
    ...</SCRIPT><VM>...the VM's body...</VM></TRANSFER>

Each script line names the TM_MAD of the datastore it concerns, as OpenNebula's
do, so one transfer driver serves every datastore (as one_tm serves its TM_MADs).
"""
from __future__ import annotations

from nubo.lifecycle.transfer import Disk, Location, transfer_script
from nubo.model.infra import DATASTORE_LOCATION
from nubo.model.vm import HistoryRecord, VirtualMachine
from nubo.model.xmlobj import escape
from nubo.template import VectorAttribute

#: Operations on the one disk being attached or detached.
_ONE_DISK = frozenset({"PROLOG_ATTACH", "EPILOG_DETACH"})


def _int(text: str | None, default: int) -> int:
    try:
        return int(text or default)
    except ValueError:
        return default


def disk_of(vector: VectorAttribute) -> Disk:
    """A VM DISK as the transfer commands see it (nubo.core.vm_resources filled it)."""
    return Disk(disk_id=_int(vector.get("DISK_ID"), 0), type=vector.get("TYPE") or "",
                source=vector.get("SOURCE") or "", tm_mad=vector.get("TM_MAD") or "",
                datastore_id=_int(vector.get("DATASTORE_ID"), -1),
                clone=(vector.get("CLONE") or "YES").upper() != "NO",
                save=(vector.get("SAVE") or "NO").upper() == "YES",
                size=_int(vector.get("SIZE"), 0), format=vector.get("FORMAT") or "raw")


def location(record: HistoryRecord) -> Location:
    return Location(record.hostname, f"{DATASTORE_LOCATION}{record.ds_id}/{record.oid}",
                    record.tm_mad, record.ds_id)


def script(vm: VirtualMachine, action: str, frontend: str) -> list[str]:
    """The command lines of ``action`` for the VM, from its DISKs and last two records."""
    if not vm.history:
        return []
    vectors = vm.template.get_vectors("DISK")
    attaching = [v for v in vectors if (v.get("ATTACH") or "").upper() == "YES"]
    disks = [disk_of(v) for v in vectors if v not in attaching]
    current = location(vm.history[-1])
    # A VM with one record has nothing "previous": its own record stands in.
    previous = location(vm.history[-2]) if len(vm.history) > 1 else current
    attach = disk_of(attaching[0]) if attaching and action in _ONE_DISK else None
    if action in _ONE_DISK and attach is None:
        return []
    return transfer_script(action, vm.id, disks, current, previous, frontend=frontend,
                           attach_disk=attach)


def payload(vm: VirtualMachine, action: str, vm_body: str, frontend: str) -> str:
    lines = "\n".join(script(vm, action, frontend))
    return (f"<TRANSFER><ACTION>{action}</ACTION><SCRIPT>{escape(lines)}</SCRIPT>"
            f"{vm_body}</TRANSFER>")
