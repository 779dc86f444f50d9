"""qemu-img, the one tool the storage drivers use on disk images (sizes, formats,
conversions, backing-file clones, snapshots, resizes), so no driver parses a file
header itself.

Every call raises :class:`QemuImgError` with qemu-img's own message when it fails, so a
driver can hand the reason back to the core (an image in ERROR says why).
"""
from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

MB = 1024 * 1024


class QemuImgError(RuntimeError):
    """qemu-img refused or failed; the message is its stderr."""


def available() -> bool:
    return shutil.which("qemu-img") is not None


def _run(*args: str) -> str:
    try:
        done = subprocess.run(["qemu-img", *args], capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise QemuImgError("qemu-img is not installed (Debian package qemu-utils)") from None
    if done.returncode != 0:
        message = (done.stderr or done.stdout).strip().replace("\n", " ")
        raise QemuImgError(message or f"qemu-img {args[0]} failed ({done.returncode})")
    return done.stdout


@dataclass(frozen=True, slots=True)
class ImageInfo:
    format: str          # raw, qcow2, ...
    virtual_size: int    # bytes the guest sees
    actual_size: int     # bytes used on the host's disk
    backing_file: str | None
    snapshots: tuple[str, ...]  # internal snapshot names (qcow2)

    @property
    def virtual_mb(self) -> int:
        """The size in MB as OpenNebula's SIZE, rounded up."""
        return -(-self.virtual_size // MB)


def info(path: str | Path) -> ImageInfo:
    return parse_info(_run(*info_command(str(path))[1:]))


def create(path: str | Path, size_mb: int, fmt: str = "raw",
           backing: str | Path | None = None, backing_format: str | None = None) -> None:
    """A new image of ``size_mb`` MB; with ``backing`` a copy-on-write clone of it
    (qcow2 only; the size may be 0 to take the backing file's)."""
    if backing is not None and backing_format is None:
        backing_format = info(backing).format
    _run(*create_command(str(path), size_mb, fmt, None if backing is None else str(backing),
                         backing_format or "raw")[1:])


def convert(src: str | Path, dst: str | Path, fmt: str, src_format: str | None = None) -> None:
    """Copy ``src`` into a new ``dst`` of format ``fmt`` (also flattens a backing chain)."""
    args = ["convert", "-q", "-O", fmt]
    if src_format:
        args += ["-f", src_format]
    _run(*args, str(src), str(dst))


def resize(path: str | Path, size_mb: int) -> None:
    _run(*resize_command(str(path), size_mb)[1:])


def check(path: str | Path) -> None:
    """Raises unless qemu-img finds the image consistent; a format without checks (raw)
    passes."""
    try:
        _run("check", "-q", str(path))
    except QemuImgError as e:
        if "does not support checks" not in str(e):
            raise


def snapshot(path: str | Path, op: str, name: str) -> None:
    """An internal qcow2 snapshot: ``op`` is create, apply (revert) or delete."""
    _run(*snapshot_command(str(path), op, name)[1:])


# -- command lines, for a driver that runs qemu-img on another host (over ssh) ----------

def info_command(path: str) -> list[str]:
    return ["qemu-img", "info", "--output=json", "-U", path]


def parse_info(text: str) -> ImageInfo:
    """``qemu-img info --output=json`` as :class:`ImageInfo` (run wherever it ran)."""
    data = json.loads(text)
    return ImageInfo(format=data.get("format", "raw"),
                     virtual_size=int(data.get("virtual-size", 0)),
                     actual_size=int(data.get("actual-size", 0)),
                     backing_file=data.get("backing-filename"),
                     snapshots=tuple(s.get("name", "") for s in data.get("snapshots", [])))


def create_command(path: str, size_mb: int, fmt: str = "raw", backing: str | None = None,
                   backing_format: str = "raw") -> list[str]:
    """As :func:`create`, the command line (``backing_format`` must be given)."""
    args = ["qemu-img", "create", "-q", "-f", fmt]
    if backing is not None:
        args += ["-b", backing, "-F", backing_format]
    args.append(path)
    if size_mb or backing is None:
        args.append(f"{size_mb}M")
    return args


def convert_command(src: str, dst: str, fmt: str) -> list[str]:
    return ["qemu-img", "convert", "-q", "-O", fmt, src, dst]


def resize_command(path: str, size_mb: int) -> list[str]:
    return ["qemu-img", "resize", "-q", path, f"{size_mb}M"]


def snapshot_command(path: str, op: str, name: str) -> list[str]:
    """``op``: create, apply (revert) or delete an internal qcow2 snapshot."""
    flag = {"create": "-c", "apply": "-a", "delete": "-d"}[op]
    return ["qemu-img", "snapshot", flag, name, path]


def convert_snapshot(src: str | Path, dst: str | Path, name: str, fmt: str = "qcow2") -> None:
    """Copy internal snapshot ``name`` of ``src`` into a new ``dst`` (no snapshots, no
    backing file): what flattening an image on one of its snapshots leaves."""
    _run("convert", "-q", "-O", fmt, "-l", f"snapshot.name={name}", str(src), str(dst))
