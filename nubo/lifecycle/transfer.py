"""The transfer commands behind a TM operation (OpenNebula's transfer scripts).

The machine asks the transfer driver for whole operations (PROLOG, EPILOG_STOP,
...); the driver receives, as OpenNebula's does, a script of one command per
line, per disk then for the VM's system directory: ``CLONE``/``LN`` an image,
``MKSWAP``/``MKIMAGE`` a volatile disk, ``CONTEXT`` the context CD-ROM, ``MV`` files
between hosts, ``MVDS`` a disk saved back to its image, ``DELETE``. The command lines follow
src/tm/TransferManager.cc field by field so that OpenNebula's TM scripts could
run them unchanged.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Disk:
    """What the transfer commands need of a VM DISK."""

    disk_id: int
    type: str = ""  # SWAP or FS for volatile disks, else an image disk
    source: str = ""
    tm_mad: str = ""
    datastore_id: int = -1
    clone: bool = True
    save: bool = False  # a persistent disk moved back to its image (MVDS)
    size: int = 0
    format: str = "raw"
    snap_id: int = -1  # the snapshot a SNAP_* operation concerns

    @property
    def volatile(self) -> bool:
        return self.type.upper() in ("SWAP", "FS")


@dataclass(frozen=True, slots=True)
class Location:
    """Where one history record put the VM: host, system directory, system DS."""

    host: str
    system_dir: str
    tm_mad: str
    ds_id: int


@dataclass(frozen=True, slots=True)
class Context:
    """A VM's context CD-ROM: its disk number and the front-end files it holds."""

    disk_id: int
    files: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class OsFile:
    """A kernel or initrd from the files datastore (OS/KERNEL_DS, INITRD_DS), copied into
    the VM's directory as ``name`` at PROLOG (TransferManager's prolog_os_transfer_commands)."""

    name: str  # "kernel" or "initrd"
    source: str
    tm_mad: str
    datastore_id: int


def _os_file_line(vm_id: int, f: OsFile, loc: Location, frontend: str) -> str:
    src = f.source if ":" in f.source else f"{frontend}:{f.source}"
    return f"CLONE {f.tm_mad} {src} {loc.host}:{loc.system_dir}/{f.name} {vm_id} {f.datastore_id}"


def _context_line(vm_id: int, context: Context, loc: Location) -> str:
    """As TransferManager::prolog_context_command: the files (maybe none), then where."""
    words = ["CONTEXT", loc.tm_mad, *context.files,
             f"{loc.host}:{loc.system_dir}/disk.{context.disk_id}", str(vm_id), str(loc.ds_id)]
    return " ".join(words)


def _disk_tm(disk: Disk, loc: Location) -> tuple[str, int]:
    """Volatile disks belong to the system datastore, image disks to their own; a disk
    from a path (SOURCE, no image, as the source documents write them) has no datastore
    and is moved by the system datastore's driver."""
    if disk.volatile or not disk.tm_mad:
        return loc.tm_mad, loc.ds_id
    return disk.tm_mad, disk.datastore_id


def _prolog_disk(vm_id: int, disk: Disk, loc: Location, frontend: str) -> str | None:
    dst = f"{loc.host}:{loc.system_dir}/disk.{disk.disk_id}"
    kind = disk.type.upper()
    if kind == "SWAP":
        return f"MKSWAP {loc.tm_mad} {disk.size} {dst} {vm_id} {loc.ds_id}" if disk.size else None
    if kind == "FS":
        return (f"MKIMAGE {loc.tm_mad} {disk.size} {disk.format} {dst} {vm_id} {loc.ds_id}"
                if disk.size else None)
    src = disk.source if ":" in disk.source else f"{frontend}:{disk.source}"
    verb = "CLONE" if disk.clone else "LN"
    tm_mad, ds_id = _disk_tm(disk, loc)
    return f"{verb} {tm_mad} {src} {dst} {vm_id} {ds_id}"


def _epilog_disk(vm_id: int, disk: Disk, loc: Location, host: str) -> str:
    path = f"{host}:{loc.system_dir}/disk.{disk.disk_id}"
    tm_mad, ds_id = _disk_tm(disk, loc)
    if disk.save and not disk.volatile:
        return f"MVDS {tm_mad} {path} {disk.source} {vm_id} {ds_id}"
    return f"DELETE {tm_mad} {path} {vm_id} {ds_id}"


def _move(vm_id: int, disks: list[Disk], src_host: str, src: Location, dst_host: str,
          dst: Location) -> list[str]:
    lines = []
    for disk in disks:
        tm_mad, ds_id = _disk_tm(disk, dst)
        lines.append(f"MV {tm_mad} {src_host}:{src.system_dir}/disk.{disk.disk_id} "
                     f"{dst_host}:{dst.system_dir}/disk.{disk.disk_id} {vm_id} {ds_id}")
    lines.append(f"MV {dst.tm_mad} {src_host}:{src.system_dir} {dst_host}:{dst.system_dir} "
                 f"{vm_id} {dst.ds_id}")
    return lines


def _delete(vm_id: int, disks: list[Disk], loc: Location, host: str) -> list[str]:
    lines = []
    for disk in disks:
        tm_mad, ds_id = _disk_tm(disk, loc)
        lines.append(f"DELETE {tm_mad} {host}:{loc.system_dir}/disk.{disk.disk_id} "
                     f"{vm_id} {ds_id}")
    lines.append(f"DELETE {loc.tm_mad} {host}:{loc.system_dir} {vm_id} {loc.ds_id}")
    return lines


def transfer_script(action: str, vm_id: int, disks: list[Disk], current: Location,
                    previous: Location | None = None, frontend: str = "localhost",
                    attach_disk: Disk | None = None, context: Context | None = None,
                    os_files: tuple[OsFile, ...] = ()) -> list[str]:
    """The command lines of TM operation ``action`` for a VM.

    ``current``/``previous``: the VM's last two history records' locations;
    ``attach_disk``: the one disk the operation concerns: attached or detached
    (PROLOG_ATTACH, EPILOG_DETACH), snapshotted (SNAP_CREATE/REVERT/DELETE, its
    ``snap_id``) or resized (RESIZE, to its ``size``); ``context``: the VM's context CD-ROM, made at PROLOG (it moves
    with the VM's directory afterwards, and goes with it at EPILOG); ``os_files``: its
    kernel and initrd images, copied at PROLOG into the directory (they move with it).
    """
    cur = current
    if action == "CONTEXT":  # the CD-ROM made again (NIC hotplug, updateconf)
        return [_context_line(vm_id, context, cur)] if context else []
    if action == "PROLOG":
        lines = [line for d in disks if (line := _prolog_disk(vm_id, d, cur, frontend))]
        lines += [_os_file_line(vm_id, f, cur, frontend) for f in os_files]
        return lines + ([_context_line(vm_id, context, cur)] if context else [])
    if action == "PROLOG_ATTACH":
        assert attach_disk is not None
        line = _prolog_disk(vm_id, attach_disk, cur, frontend)
        return [line] if line else []
    if action in ("PROLOG_MIGRATE", "PROLOG_RESUME"):
        assert previous is not None
        src_host = previous.host if action == "PROLOG_MIGRATE" else frontend
        return _move(vm_id, disks, src_host, previous, cur.host, cur)
    if action in ("EPILOG", "EPILOG_LOCAL"):
        host = frontend if action == "EPILOG_LOCAL" else cur.host
        return ([_epilog_disk(vm_id, d, cur, host) for d in disks]
                + [f"DELETE {cur.tm_mad} {host}:{cur.system_dir} {vm_id} {cur.ds_id}"])
    if action in ("SNAP_CREATE", "SNAP_REVERT", "SNAP_DELETE", "RESIZE"):
        assert attach_disk is not None
        tm_mad, ds_id = _disk_tm(attach_disk, cur)
        arg = attach_disk.size if action == "RESIZE" else attach_disk.snap_id
        return [f"{action} {tm_mad} {cur.host}:{cur.system_dir}/disk.{attach_disk.disk_id} "
                f"{arg} {vm_id} {ds_id}"]
    if action == "EPILOG_DETACH":
        assert attach_disk is not None
        return [_epilog_disk(vm_id, attach_disk, cur, cur.host)]
    if action == "EPILOG_STOP":
        return _move(vm_id, disks, cur.host, cur, frontend, cur)
    if action == "EPILOG_DELETE":
        return _delete(vm_id, disks, cur, cur.host)
    if action == "EPILOG_DELETE_LOCAL":
        return _delete(vm_id, disks, cur, frontend)
    if action in ("EPILOG_DELETE_PREVIOUS", "EPILOG_DELETE_BOTH"):
        assert previous is not None
        both = _delete(vm_id, disks, cur, cur.host) if action == "EPILOG_DELETE_BOTH" else []
        return both + _delete(vm_id, disks, previous, previous.host)
    raise ValueError(f"no transfer script for {action}")
