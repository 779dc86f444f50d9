"""DS_MAD ``fs``: images as files in the datastore's BASE_PATH, raw or qcow2.

Each action returns its INFO as OpenNebula's fs driver prints it; CP, MKFS and CLONE
answer ``SOURCE FORMAT SIZE`` (the file made, its format and size in MB as qemu-img
reads them from the file itself).
"""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from nubo.drivers.ds import files
from nubo.drivers.ds.action_data import ActionData, BadPayload
from nubo.drivers.ds.files import CopyError
from nubo.drivers.ds.stopping import Stop
from nubo.drivers.storage import qemu_img

FORMATS = ("raw", "qcow2")


def _target(data: ActionData, oid: int) -> Path:
    base = data.base_path
    if not base:
        raise BadPayload("datastore has no BASE_PATH")
    return Path(base) / files.image_name(data.ds_id, oid, data.image_attr("REGTIME"))


def _wanted_format(data: ActionData, default: str = "") -> str:
    fmt = (data.image_attr("FORMAT") or default).lower()
    if fmt and fmt not in FORMATS:
        raise CopyError(f"Unsupported image FORMAT {fmt} (fs datastores keep raw or qcow2)")
    return fmt


def _settle(tmp: Path, fmt: str, stop: Stop | None = None) -> str:
    """Give the file written at ``tmp`` the format asked for (converting it if it has
    another, a qemu-img a cancel kills) and return the format it has."""
    found = qemu_img.info(tmp).format
    if not fmt or fmt == found:
        return found
    converted = tmp.with_name(tmp.name + ".conv")
    try:
        (stop or Stop()).run(["qemu-img", "convert", "-q", "-O", fmt, "-f", found, str(tmp),
                              str(converted)])
        os.replace(converted, tmp)
    finally:
        converted.unlink(missing_ok=True)
    return fmt


def _made(dst: Path, fmt: str) -> str:
    return f"{dst} {fmt} {qemu_img.info(dst).virtual_mb}"


def cp(data: ActionData, oid: int, stop: Stop | None = None) -> str:
    """Register PATH (a local file from an allowed directory, or an http(s) URL);
    ``stop`` ends it early (DRIVER_CANCEL): it fails and leaves no file."""
    src = data.image_attr("PATH")
    if not src:
        raise BadPayload("image has no PATH")
    files.check_allowed(src, data.ds_attr("SAFE_DIRS"), data.ds_attr("RESTRICTED_DIRS"))
    fmt = _wanted_format(data)
    dst = _target(data, oid)
    with files.writing(dst) as tmp:
        files.fetch(src, tmp, stop)
        fmt = _settle(tmp, fmt, stop)
        if stop is not None:
            stop.check()  # asked to stop at the last moment: no image after all
    return _made(dst, fmt)


def mkfs(data: ActionData, oid: int) -> str:
    """An empty DATABLOCK of SIZE MB, with filesystem FS when given and mkfs has it."""
    size, fs = data.size_mb, data.image_attr("FS")
    fmt = _wanted_format(data, data.image_attr("DRIVER") or "raw")
    dst = _target(data, oid)
    with files.writing(dst) as tmp:
        qemu_img.create(tmp, size, "raw")
        if fs:
            _mkfs(tmp, fs)
        _settle(tmp, fmt)
    return _made(dst, fmt)


def _mkfs(path: Path, fs: str) -> None:
    tool = shutil.which(f"mkfs.{fs}")
    if tool is None:
        raise CopyError(f"Cannot make a {fs} filesystem: mkfs.{fs} is not installed")
    args = [tool, "-q", "-F", str(path)] if fs.startswith("ext") else [tool, str(path)]
    done = subprocess.run(args, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise CopyError(f"mkfs.{fs} failed: {(done.stderr or done.stdout).strip()}")


def clone(data: ActionData, oid: int, stop: Stop | None = None) -> str:
    """A full copy of another image of the datastore (PATH is its SOURCE), by a
    qemu-img that ``stop`` kills (DRIVER_CANCEL)."""
    src = data.image_attr("PATH")
    if not src or not Path(src).is_file():
        raise CopyError(f"Cannot clone {src or 'an image with no SOURCE'}: no such file")
    fmt = _wanted_format(data) or qemu_img.info(src).format
    dst = _target(data, oid)
    with files.writing(dst) as tmp:
        (stop or Stop()).run(qemu_img.convert_command(src, str(tmp), fmt))
    return _made(dst, fmt)


def rm(data: ActionData, oid: int) -> str:
    """Remove the image's file (and its snapshots); gone already is fine. An image
    deleted while its copy ran has no SOURCE yet: its file has the name the copy gave it
    (this driver runs an image's actions in order, so that copy has finished)."""
    source = data.image_attr("SOURCE") or str(_target(data, oid))
    if not files.inside(source, data.base_path):
        raise CopyError(f"Refusing to remove {source}: not inside {data.base_path}")
    Path(source).unlink(missing_ok=True)
    files.partial_name(Path(source)).unlink(missing_ok=True)  # a copy cut off by a crash
    shutil.rmtree(f"{source}.snap", ignore_errors=True)
    return ""


def stat(data: ActionData, oid: int) -> str:
    """The size in MB PATH would take (the guest's size of a disk image)."""
    src = data.image_attr("PATH")
    files.check_allowed(src, data.ds_attr("SAFE_DIRS"), data.ds_attr("RESTRICTED_DIRS"))
    if files.is_url(src):
        return str(files.remote_size_mb(src))
    if not os.path.isfile(src):
        raise CopyError(f"File not found: {src}")
    return str(qemu_img.info(src).virtual_mb)


def monitor(data: ActionData, oid: int) -> str:
    """TOTAL_MB and FREE_MB of the filesystem holding BASE_PATH; USED_MB what the
    datastore's own files take of it (so that LIMIT_MB caps the datastore, not the
    filesystem it shares with others)."""
    base = Path(data.base_path)
    base.mkdir(parents=True, exist_ok=True)
    vfs = os.statvfs(base)
    total = vfs.f_blocks * vfs.f_frsize // files.MB
    free = vfs.f_bavail * vfs.f_frsize // files.MB
    return f"USED_MB={-(-_taken(base) // files.MB)}\nTOTAL_MB={total}\nFREE_MB={free}\n"


def _taken(base: Path) -> int:
    """Bytes the files under ``base`` occupy on disk (du: sparse parts count nothing)."""
    taken = 0
    for root, _dirs, names in os.walk(base):
        for name in names:
            try:
                taken += os.lstat(os.path.join(root, name)).st_blocks * 512
            except OSError:
                pass  # removed meanwhile
    return taken


def _snapshot(data: ActionData) -> tuple[Path, str]:
    source, target = data.image_attr("SOURCE"), data.image_attr("TARGET_SNAPSHOT")
    if not source or not Path(source).is_file():
        raise CopyError(f"Image file {source or '(none)'} does not exist")
    if qemu_img.info(source).format != "qcow2":
        raise CopyError("Image snapshots need a qcow2 image")
    if not target.lstrip("-").isdigit() or int(target) < 0:
        raise BadPayload(f"TARGET_SNAPSHOT is not a snapshot id: {target!r}")
    return Path(source), target


def snap_revert(data: ActionData, oid: int) -> str:
    path, name = _snapshot(data)
    qemu_img.snapshot(path, "apply", name)
    return ""


def snap_delete(data: ActionData, oid: int) -> str:
    path, name = _snapshot(data)
    qemu_img.snapshot(path, "delete", name)
    return ""


def snap_flatten(data: ActionData, oid: int) -> str:
    """The image becomes its snapshot's content, with no snapshots left."""
    path, name = _snapshot(data)
    with files.writing(path) as tmp:
        qemu_img.convert_snapshot(path, tmp, name)
    return ""


ACTIONS = {"CP": cp, "MKFS": mkfs, "CLONE": clone, "RM": rm, "STAT": stat,
           "MONITOR": monitor, "SNAP_REVERT": snap_revert, "SNAP_DELETE": snap_delete,
           "SNAP_FLATTEN": snap_flatten}
