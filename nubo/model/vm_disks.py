"""A VM's DISKs as oned completes them at allocate (VirtualMachineDisks::get_images).

Three kinds of DISK: from an image (completed by nubo.core.vm_resources from the image
and its datastore), volatile (TYPE = swap | fs with a SIZE, made on the host at PROLOG)
and, as the source documents write them, from a path (SOURCE, TYPE = disk | cdrom |
floppy | block). Each gets DISK_ID, DEV_PREFIX, DRIVER/FORMAT, READONLY, CLONE and
SAVE; then TARGETs are handed out as oned does: the first OS disk takes the first
device (sda), CD-ROMs and then the CONTEXT CD-ROM the next free ones of their prefix,
the other disks the rest, skipping every TARGET a disk already names.

Pure: no I/O. Bad disks raise VmTemplateError with what is wrong and where.
"""
from __future__ import annotations

from typing import Callable, Iterable

from nubo.model.vm_template import VmTemplateError
from nubo.template import VectorAttribute

#: oned.conf DEFAULT_DEVICE_PREFIX and DEFAULT_CDROM_DEVICE_PREFIX.
DEV_PREFIX, CDROM_DEV_PREFIX = "sd", "hd"
VOLATILE = frozenset({"SWAP", "FS"})
#: TYPE of a DISK from a path (source documents) -> the TYPE oned's drivers read.
PATH_TYPES = {"DISK": "FILE", "FILE": "FILE", "CDROM": "CDROM", "FLOPPY": "FLOPPY",
              "BLOCK": "BLOCK"}
#: Target queues, in the order oned fills them (the context CD-ROM goes after "cdrom").
OS, CDROM, DATABLOCK = "os", "cdrom", "datablock"
_YES_NO = {"YES": "YES", "TRUE": "YES", "NO": "NO", "FALSE": "NO"}

Getter = Callable[[str], "str | None"]


def size_mb(disk: VectorAttribute, index: int, required: bool) -> int | None:
    """The DISK's SIZE in MB: a positive integer, or None when absent and not required."""
    text = (disk.get("SIZE") or "").strip()
    if not text:
        if required:
            raise VmTemplateError(f"DISK {index}: SIZE attribute must be a positive integer "
                                  "value.")
        return None
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value <= 0:
        raise VmTemplateError(f"DISK {index}: SIZE attribute must be a positive integer "
                              f"value (got {text!r}).")
    return value


def _yes_no(disk: VectorAttribute, index: int, name: str, default: str) -> str:
    text = (disk.get(name) or "").strip().upper()
    if not text:
        return default
    if text not in _YES_NO:
        raise VmTemplateError(f"DISK {index}: {name} must be YES or NO (got "
                              f"{disk.get(name)!r}).")
    return _YES_NO[text]


def _driver(disk: VectorAttribute) -> str:
    return (disk.get("FORMAT") or disk.get("DRIVER") or "raw").strip().lower()


def complete_unmanaged(disk: VectorAttribute, index: int) -> str:
    """Complete a DISK that names no image (volatile, or from a path); returns its target
    queue. Raises VmTemplateError for an unknown TYPE, a bad SIZE or a missing SOURCE."""
    given = (disk.get("TYPE") or "").strip().upper()
    if given in VOLATILE:
        size_mb(disk, index, required=True)
        disk.set("TYPE", given)
        driver = "raw" if given == "SWAP" else _driver(disk)
        queue = DATABLOCK
    else:
        if not (disk.get("SOURCE") or "").strip():
            if not given:
                raise VmTemplateError(f"DISK {index}: it needs an IMAGE or IMAGE_ID, a SOURCE "
                                      "path, or TYPE = swap|fs with a SIZE.")
            raise VmTemplateError(f"DISK {index}: a disk of TYPE {given} needs a SOURCE path.")
        kind = PATH_TYPES.get(given or "DISK")
        if kind is None:
            raise VmTemplateError(f"DISK {index}: unknown disk TYPE {disk.get('TYPE')!r} (use "
                                  "disk, cdrom, floppy, block, swap or fs).")
        size_mb(disk, index, required=False)
        disk.set("TYPE", kind)
        save = (disk.get("SAVE") or "").strip()
        if save.startswith("/"):  # the source documents' save = "path_to_disk_image_file"
            disk.set("SAVE_AS_SOURCE", save)
            disk.set("SAVE", "YES")
        disk.set("SAVE", _yes_no(disk, index, "SAVE", "NO"))
        if kind == "CDROM":
            disk.set("CLONE", "NO")
            disk.set("SAVE", "NO")
        else:
            disk.set("CLONE", _yes_no(disk, index, "CLONE", "YES"))
        disk.set("DISK_TYPE", "BLOCK" if kind == "BLOCK" else "FILE")
        driver = _driver(disk)
        queue = CDROM if kind == "CDROM" else OS
    disk.set("READONLY", "YES" if disk.get("TYPE") == "CDROM" else
             _yes_no(disk, index, "READONLY", "NO"))
    disk.set("DRIVER", driver)
    disk.set("FORMAT", driver)
    if not (disk.get("DEV_PREFIX") or "").strip():
        disk.set("DEV_PREFIX", CDROM_DEV_PREFIX if queue == CDROM else DEV_PREFIX)
    return queue


def assign_targets(disks: list[tuple[VectorAttribute, str]],
                   context: VectorAttribute | None) -> None:
    """TARGET for every DISK that names none, and the CONTEXT CD-ROM's DISK_ID and TARGET
    (VirtualMachineDisks::get_images). ``disks`` are (disk, queue) in DISK_ID order;
    only the first OS disk takes the OS queue. Raises VmTemplateError when two disks
    name the same TARGET or a prefix runs out of devices."""
    used: set[str] = set()
    queues: dict[str, list[VectorAttribute]] = {OS: [], CDROM: [], DATABLOCK: []}

    def claim(vector: VectorAttribute, queue: str) -> None:
        target = (vector.get("TARGET") or "").strip()
        if not target:
            queues[queue].append(vector)
        elif target in used:
            raise VmTemplateError(f"Two disks have defined the same target {target}")
        else:
            used.add(target)

    for disk, queue in disks:
        claim(disk, DATABLOCK if queue == OS and queues[OS] else queue)
    if context is not None:
        if not (context.get("DEV_PREFIX") or "").strip() and not context.get("TARGET"):
            context.set("DEV_PREFIX", CDROM_DEV_PREFIX)
        claim(context, CDROM)
        context.set("DISK_ID", str(len(disks)))  # disks are 0..n-1, the context disk n
    for queue in (OS, CDROM, DATABLOCK):
        for vector in queues[queue]:
            give_target(vector, used)


def give_target(vector: VectorAttribute, used: set[str]) -> None:
    """The first device of the vector's DEV_PREFIX not in ``used`` (which takes it)."""
    prefix = (vector.get("DEV_PREFIX") or DEV_PREFIX).strip()
    free = next((prefix + chr(ord("a") + i) for i in range(26)
                 if prefix + chr(ord("a") + i) not in used), None)
    if free is None:
        raise VmTemplateError(f"No free TARGET left for DEV_PREFIX {prefix}")
    used.add(free)
    vector.set("TARGET", free)


def _int(text: str | None) -> int:
    try:
        return max(0, int(float(text or 0)))
    except ValueError:
        return 0


def tm_target(get: Getter) -> str:
    """Where a DISK lives while the VM runs: SYSTEM (on the system datastore), SELF (its
    image datastore) or NONE (linked in place), as VirtualMachineDisk::get_tm_target."""
    if (get("TYPE") or "").upper() in VOLATILE and not get("IMAGE_ID"):
        return "SYSTEM"
    if not get("IMAGE_ID"):
        return "SYSTEM" if (get("CLONE") or "YES").upper() == "YES" else "NONE"
    name = "CLONE_TARGET" if (get("CLONE") or "").upper() == "YES" else "LN_TARGET"
    return (get(name) or "NONE").upper()


def system_ds_mb(disks: Iterable[Getter]) -> int:
    """MB the disks take on the system datastore (oned's DATASTORE_CAPACITY_CHECK)."""
    return sum(_int(get("SIZE")) for get in disks if tm_target(get) == "SYSTEM")


def image_ds_mb(disks: Iterable[Getter]) -> dict[int, int]:
    """MB the disks cloned into their own image datastore take there, by datastore id."""
    out: dict[int, int] = {}
    for get in disks:
        ds = (get("DATASTORE_ID") or "").strip()
        if ds.isdigit() and tm_target(get) == "SELF":
            out[int(ds)] = out.get(int(ds), 0) + _int(get("SIZE"))
    return out
