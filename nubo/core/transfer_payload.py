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

from dataclasses import replace

from nubo.lifecycle.transfer import Context, Disk, Location, OsFile, transfer_script
from nubo.model.vm import HistoryRecord, VirtualMachine
from nubo.model.xmlobj import escape
from nubo.template import VectorAttribute

#: Operations on one disk, and the mark that names it in the VM's body.
_ONE_DISK = {"PROLOG_ATTACH": "ATTACH", "EPILOG_DETACH": "ATTACH",
             "SNAP_CREATE": "DISK_SNAPSHOT_ACTIVE", "SNAP_REVERT": "DISK_SNAPSHOT_ACTIVE",
             "SNAP_DELETE": "DISK_SNAPSHOT_ACTIVE", "RESIZE": "RESIZE"}
#: LCM_STATE DISK_RESIZE_UNDEPLOYED: the VM's files are on the front-end.
_RESIZE_UNDEPLOYED = 64


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
                size=_int(vector.get("SIZE"), 0), format=vector.get("FORMAT") or "raw",
                snap_id=_int(vector.get("DISK_SNAPSHOT_ID"), -1))


def location(record: HistoryRecord, datastore_dir: str) -> Location:
    """``datastore_dir``: DATASTORE_LOCATION with its trailing slash (Config.datastore_dir)."""
    return Location(record.hostname, f"{datastore_dir}{record.ds_id}/{record.oid}",
                    record.tm_mad, record.ds_id)


def context_of(vm: VirtualMachine) -> Context | None:
    """The context CD-ROM of a VM with a CONTEXT section: DISK_ID as set, else after the
    last DISK (as oned numbers it); its files, FILES_DS (image sources) then FILES."""
    vectors = vm.template.get_vectors("CONTEXT")
    if not vectors:
        return None
    ctx = vectors[0]
    disk_id = _int(ctx.get("DISK_ID"), len(vm.template.get_vectors("DISK")))
    files = tuple(f for key in ("FILES_DS", "FILES") for f in (ctx.get(key) or "").split())
    return Context(disk_id, files)


def os_files_of(vm: VirtualMachine) -> tuple[OsFile, ...]:
    """The kernel and initrd images the VM boots (resolved at allocate, nubo.core.ops.vm_os_files)."""
    os_ = vm.template.get_vector("OS")
    out = []
    for base in ("KERNEL", "INITRD"):
        source, tm_mad = (os_.get(f"{base}_DS_SOURCE") or "", os_.get(f"{base}_DS_TM") or "") \
            if os_ is not None else ("", "")
        if source and tm_mad:
            out.append(OsFile(base.lower(), source, tm_mad,
                              _int(os_.get(f"{base}_DS_DSID"), -1)))  # type: ignore[union-attr]
    return tuple(out)


def script(vm: VirtualMachine, action: str, frontend: str, datastore_dir: str) -> list[str]:
    """The command lines of ``action`` for the VM, from its DISKs and last two records."""
    if not vm.history:
        return []
    vectors = vm.template.get_vectors("DISK")
    attaching = [v for v in vectors if (v.get("ATTACH") or "").upper() == "YES"]
    disks = [disk_of(v) for v in vectors if v not in attaching]
    mark = _ONE_DISK.get(action)
    marked = [v for v in vectors if mark and (v.get(mark) or "").upper() == "YES"]
    current = location(vm.history[-1], datastore_dir)
    if vm.lcm_state == _RESIZE_UNDEPLOYED:
        current = replace(current, host=frontend)
    # A VM with one record has nothing "previous": its own record stands in.
    previous = location(vm.history[-2], datastore_dir) if len(vm.history) > 1 else current
    attach = disk_of(marked[0]) if marked else None
    if mark and attach is None:
        return []
    return transfer_script(action, vm.id, disks, current, previous, frontend=frontend,
                           attach_disk=attach, context=context_of(vm),
                           os_files=os_files_of(vm))


def payload(vm: VirtualMachine, action: str, vm_body: str, frontend: str,
            datastore_dir: str) -> str:
    lines = "\n".join(script(vm, action, frontend, datastore_dir))
    return (f"<TRANSFER><ACTION>{action}</ACTION><SCRIPT>{escape(lines)}</SCRIPT>"
            f"{vm_body}</TRANSFER>")
