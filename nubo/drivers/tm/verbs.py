"""What each transfer command does, per TM_MAD (OpenNebula's tm/<TM_MAD>/<verb> scripts).

``shared``: the datastores are one filesystem of the front-end and the hosts, so the
front-end acts on it (CLONE copies, LN links), but in the directory of a VM whose
system datastore is ``ssh`` (a host's own disk) the files are that host's
(nubo.drivers.tm.script.Operation.place). ``ssh``: the host has its own copy
(CLONE and LN copy the image to it, MV/MVDS copy back). ``qcow2``: shared, and CLONE
is a qcow2 file whose backing file is the image. Disk snapshots: qcow2 files keep
internal snapshots (qemu-img snapshot, named by the snapshot's id; QEMU deletes one
of a running VM's, as it holds the file); raw files are copied to ``disk.N.snap/ID``.
"""
from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

from nubo.drivers.storage import qemu_img, qmp
from nubo.drivers.tm.script import Line, Operation, split_location
from nubo.drivers.tm.transport import Host, TransferError, copy

TM_MADS = frozenset({"shared", "ssh", "qcow2"})
#: The SOURCE the dummy datastore driver gives its images (nubo.drivers.dummy): no file
#: behind it, so a disk from it (or from an image with no SOURCE at all, as images were
#: before datastore drivers made files) is a blank stand-in of the DISK's SIZE.
DUMMY_SOURCE = "dummy_path/"


def _no_file(source: str) -> bool:
    path = split_location(source)[1]
    return not path or path.startswith(DUMMY_SOURCE)
#: mkfs options forcing a file system on a regular file, by family.
_MKFS_FORCE = {"ext2": "-F", "ext3": "-F", "ext4": "-F", "xfs": "-f", "btrfs": "-f"}


def _info(host: Host, path: str) -> qemu_img.ImageInfo:
    return qemu_img.parse_info(host.run(qemu_img.info_command(host.path(path)),
                                        what=f"qemu-img info {path}"))


def _new(op: Operation, host: Host, path: str) -> str:
    """Make room for a new file ``path`` on ``host`` (its directory, its undo entry);
    the path as the host's commands see it."""
    op.make_parent(host, path)
    op.made(host, path)
    return host.path(path)


# -- disks from images ------------------------------------------------------------------

def clone(op: Operation, line: Line) -> None:
    """CLONE tm SRC DST: a disk of its own from an image."""
    dst_host, dst = op.place(line.tm_mad, line.arg(1))
    if _no_file(line.arg(0)):
        return _stand_in(op, dst_host, dst)
    src_host, src = op.place(line.tm_mad, line.arg(0))
    _image_file(src_host, src)
    target = _new(op, dst_host, dst)
    if line.tm_mad == "qcow2":
        fmt = _info(src_host, src).format
        dst_host.run(qemu_img.create_command(target, 0, "qcow2", src_host.path(src), fmt),
                     what="qemu-img create")
    else:
        copy(src_host, src, dst_host, dst)
    _grow(op, dst_host, dst)


def _image_file(host: Host, path: str) -> None:
    """A disk comes from a file: a missing path or a directory (a SOURCE of "/" would
    copy the whole file system) fails the line."""
    if not host.exists(path):
        raise TransferError(f"image file {path} does not exist on {host.name}")
    if host.is_dir(path):
        raise TransferError(f"image file {path} on {host.name} is a directory, not a disk")


def _stand_in(op: Operation, host: Host, path: str) -> None:
    try:
        size = max(1, int(op.disk_attrs(path).get("SIZE") or 1))
    except ValueError:
        size = 1
    host.run(qemu_img.create_command(_new(op, host, path), size, "raw"),
             what="qemu-img create")


def _grow(op: Operation, host: Host, path: str) -> None:
    """A disk whose SIZE exceeds its image's (the user asked for a bigger disk)."""
    try:
        size = int(op.disk_attrs(path).get("SIZE") or 0)
    except ValueError:
        return
    if size and size > _info(host, path).virtual_mb:
        host.run(qemu_img.resize_command(host.path(path), size), what="qemu-img resize")


def link(op: Operation, line: Line) -> None:
    """LN tm SRC DST: the image itself (a persistent or non-cloned disk)."""
    if line.tm_mad == "ssh":
        return clone(op, line)  # the host has no access to the image: a copy, moved back
    host, dst = op.place(line.tm_mad, line.arg(1))
    if _no_file(line.arg(0)):
        return _stand_in(op, host, dst)
    src = op.place(line.tm_mad, line.arg(0))[1]
    _image_file(host, src)
    host.run(["ln", "-sfn", src, _new(op, host, dst)], what="ln")


# -- volatile disks ------------------------------------------------------------------------

def mkswap(op: Operation, line: Line) -> None:
    """MKSWAP tm SIZE DST: a swap disk of SIZE MB."""
    size = int(line.arg(0))
    host, dst = op.place(line.tm_mad, line.arg(1))
    target = _new(op, host, dst)
    host.run(qemu_img.create_command(target, size, "raw"), what="qemu-img create")
    host.run(["mkswap", "-L", "swap", target], what="mkswap")


def mkimage(op: Operation, line: Line) -> None:
    """MKIMAGE tm SIZE FORMAT DST: a volatile disk, formatted with the DISK's FS."""
    size, fmt = int(line.arg(0)), line.arg(1).lower() or "raw"
    host, dst = op.place(line.tm_mad, line.arg(2))
    fs = (op.disk_attrs(dst).get("FS") or "").strip()
    target = _new(op, host, dst)
    if not fs or not _has_mkfs(host, fs):
        host.run(qemu_img.create_command(target, size, fmt), what="qemu-img create")
        return
    raw = target if fmt == "raw" else f"{target}.raw"
    if raw != target:
        op.made(host, f"{dst}.raw")
    host.run(qemu_img.create_command(raw, size, "raw"), what="qemu-img create")
    force = [_MKFS_FORCE[fs]] if fs in _MKFS_FORCE else []
    host.run([f"mkfs.{fs}", "-q", *force, raw] if fs.startswith("ext") else
             [f"mkfs.{fs}", *force, raw], what=f"mkfs.{fs}")
    if raw != target:
        host.run(qemu_img.convert_command(raw, target, fmt), what="qemu-img convert")
        host.run(["rm", "-f", raw], what="rm")


def _has_mkfs(host: Host, fs: str) -> bool:
    if not fs.replace("_", "").isalnum():
        raise TransferError(f"bad FS '{fs}'")
    return host.sh(f"command -v mkfs.{fs} >/dev/null && echo y || true").strip() == "y"


# -- removing and moving ----------------------------------------------------------------

def delete(op: Operation, line: Line) -> None:
    """DELETE tm PATH: a disk or the VM's directory, gone."""
    host, path = op.place(line.tm_mad, line.arg(0))
    host.remove(path)


def move(op: Operation, line: Line) -> None:
    """MV tm SRC DST: the VM's directory to another host (ssh); disks go with it, as
    tm/ssh/mv does; on a shared datastore the files are already there."""
    src_host, src = op.place(line.tm_mad, line.arg(0))
    dst_host, dst = op.place(line.tm_mad, line.arg(1))
    if _same_file(src_host, src, dst_host, dst):
        return
    if _in_moved_directory(op, line):
        return
    if not src_host.exists(src):
        return  # nothing made there (a VM that never got files)
    _new(op, dst_host, dst)
    copy(src_host, src, dst_host, dst)
    src_host.remove(src)


def _same_file(a: Host, a_path: str, b: Host, b_path: str) -> bool:
    """The same file by two names: this machine's under each of its names (a host that
    is the front-end itself, as ``localhost`` and by its host name), else the same host's."""
    if a.here and b.here:
        return a.path(a_path) == b.path(b_path)
    return (a.name, a.root, a_path) == (b.name, b.root, b_path)


def _in_moved_directory(op: Operation, line: Line) -> bool:
    """A disk in the VM's directory on a host's own disk (ssh) goes with the directory's
    MV, in one copy: moved alone first, it would be lost if the directory's copy failed
    (that undo removes the directory)."""
    if not split_location(line.arg(0))[1].rsplit("/", 1)[-1].startswith("disk."):
        return False
    hosts = (split_location(line.arg(0))[0], split_location(line.arg(1))[0])
    return line.tm_mad == "ssh" or "ssh" in (op.facts.system_tms.get(h) for h in hosts)


def mvds(op: Operation, line: Line) -> None:
    """MVDS tm PATH SOURCE: a persistent or SAVE disk written back to its image; the
    image is replaced only once the whole copy is there."""
    host, path = op.place(line.tm_mad, line.arg(0))
    if _no_file(line.arg(1)):
        return  # the image has no file to write to (the dummy datastore's)
    image = op.place(line.tm_mad, line.arg(1))[1]
    front = op.transports.frontend
    if host.here and Path(host.path(path)).resolve() == Path(image).resolve():
        return  # a link to the image itself: it was written in place
    partial = f"{image}.nubo-part"
    op.made(front, partial)
    copy(host, path, front, partial)
    front.run(["mv", "-f", partial, image], what="mv")


def cpds(op: Operation, line: Line) -> None:
    """CPDS tm PATH TARGET [SNAP_ID]: a disk copied to a new image file (disksaveas);
    a qcow2 clone is flattened, so the new image needs no backing file."""
    host, path = op.place(line.tm_mad, line.arg(0))
    target = op.place("shared", line.arg(1))[1]
    front = op.transports.frontend
    _new(op, front, target)
    if host.here:
        fmt = _info(host, path).format
        front.run(qemu_img.convert_command(host.path(path), target, fmt),
                  what="qemu-img convert")
    else:
        copy(host, path, front, target)


# -- context --------------------------------------------------------------------------------

def context(op: Operation, line: Line) -> None:
    """CONTEXT tm FILES... DST: the context CD-ROM, built here and put on the host."""
    from nubo.context import iso
    if len(line.args) < 3:
        raise TransferError("CONTEXT needs FILES... DST VM_ID DS_ID")
    *files, dst_location = line.args[:-2]
    host, dst = op.place(line.tm_mad, dst_location)
    with tempfile.TemporaryDirectory(prefix="nubo-context-") as tmp:
        local = Path(tmp) / "context.iso"
        try:
            iso.write_context_iso(op.facts.xml, local, [Path(f) for f in files])
        except NotImplementedError as e:
            op.on_log(f"no context CD-ROM for VM {op.vm_id}: {e}")
            return
        _new(op, host, dst)
        copy(op.transports.frontend, str(local), host, dst)


# -- disk snapshots and resize -------------------------------------------------------------

def _snapshot(action: str) -> Callable[[Operation, Line], None]:
    def run(op: Operation, line: Line) -> None:
        """SNAP_* tm PATH SNAP_ID: qcow2 internal snapshot, or a raw copy."""
        host, path = op.place(line.tm_mad, line.arg(0))
        snap_id = line.arg(1)
        if not snap_id.isdigit():
            raise TransferError(f"snapshot id must be a number, got '{snap_id}'")
        info = _info(host, path)
        if info.format == "qcow2":
            if action == "delete" and snap_id not in info.snapshots:
                return  # already gone (a retry): deleting is idempotent
            try:
                host.run(qemu_img.snapshot_command(host.path(path), action, snap_id),
                         what=f"qemu-img snapshot {action}")
            except TransferError as e:
                if action != "delete" or "lock" not in str(e):
                    raise
                _delete_live(op, line, host.path(path), snap_id)  # the VM runs: QEMU's to do
            return
        copy_path = f"{path}.snap/{snap_id}"
        if action == "create":
            _new(op, host, copy_path)
            host.run(["cp", "--sparse=always", host.path(path), host.path(copy_path)],
                     what="snapshot copy")
        elif action == "apply":
            host.sh('cp --sparse=always "$1" "$2.part" && mv -f "$2.part" "$2"',
                    host.path(copy_path), host.path(path), what="snapshot revert")
        else:
            host.remove(copy_path)
    return run


def _delete_live(op: Operation, line: Line, path: str, snap_id: str) -> None:
    """SNAP_DELETE of a qcow2 disk a running QEMU has open (and locked): QEMU deletes
    the internal snapshot itself, asked through ``virsh qemu-monitor-command`` on the
    VM's host, as OpenNebula's qcow2 snap_delete uses virsh for a running VM."""
    vm_host = op.host(split_location(line.arg(0))[0])
    domain = f"one-{op.vm_id}"

    def monitor(command: str) -> str:
        return vm_host.run(["virsh", "-c", "qemu:///system", "qemu-monitor-command", domain,
                            command], what=f"virsh qemu-monitor-command {domain}")
    try:
        node = qmp.block_node(monitor(qmp.QUERY_BLOCK), path)
        if node is None:
            raise TransferError(f"{domain} has no disk {path} open")
        if snap_id in node.snapshots:
            qmp.check(monitor(qmp.snapshot_command("delete", node.node, snap_id)))
    except qmp.QmpError as e:
        raise TransferError(f"snapshot {snap_id} of {path}: {e}") from None


def resize(op: Operation, line: Line) -> None:
    """RESIZE tm PATH SIZE: the disk grown to SIZE MB."""
    host, path = op.place(line.tm_mad, line.arg(0))
    size = int(line.arg(1))
    host.run(qemu_img.resize_command(host.path(path), size), what="qemu-img resize")


VERBS: dict[str, Callable[[Operation, Line], None]] = {
    "CLONE": clone, "LN": link, "MKSWAP": mkswap, "MKIMAGE": mkimage, "DELETE": delete,
    "MV": move, "MVDS": mvds, "CPDS": cpds, "CONTEXT": context,
    "SNAP_CREATE": _snapshot("create"), "SNAP_REVERT": _snapshot("apply"),
    "SNAP_DELETE": _snapshot("delete"), "RESIZE": resize,
}
