"""The initramfs archive: cpio "newc" (SVR4 without CRC), the format the kernel
unpacks, written here rather than by cpio(1) so that device nodes (/dev/console)
go in without root and the same tree gives the same bytes (mtimes are 0).

Pure: entries in, bytes out; ``list_names`` reads an archive back for the tests.
"""
from __future__ import annotations

import stat
from dataclasses import dataclass

MAGIC = b"070701"
TRAILER = "TRAILER!!!"


@dataclass(frozen=True)
class Entry:
    """One member: a path without leading '/', its mode (type and permissions), its
    data (a file's bytes, a symlink's target) and, for a device node, its numbers."""

    name: str
    mode: int
    data: bytes = b""
    rdev: tuple[int, int] = (0, 0)


def directory(name: str, perm: int = 0o755) -> Entry:
    return Entry(name, stat.S_IFDIR | perm)


def file(name: str, data: bytes, perm: int = 0o644) -> Entry:
    return Entry(name, stat.S_IFREG | perm, data)


def symlink(name: str, target: str) -> Entry:
    return Entry(name, stat.S_IFLNK | 0o777, target.encode())


def char_device(name: str, major: int, minor: int, perm: int = 0o600) -> Entry:
    return Entry(name, stat.S_IFCHR | perm, rdev=(major, minor))


def _pad(n: int) -> bytes:
    return b"\0" * (-n % 4)


def _member(ino: int, entry: Entry) -> bytes:
    name = entry.name.encode() + b"\0"
    nlink = 2 if stat.S_ISDIR(entry.mode) else 1
    fields = (ino, entry.mode, 0, 0, nlink, 0, len(entry.data), 0, 0,
              entry.rdev[0], entry.rdev[1], len(name), 0)
    header = MAGIC + b"".join(b"%08X" % f for f in fields)
    head = header + name
    return head + _pad(len(head)) + entry.data + _pad(len(entry.data))


def archive(entries: list[Entry]) -> bytes:
    """The newc archive of ``entries`` in their order (a parent before its children)."""
    parts = [_member(i + 1, e) for i, e in enumerate(entries)]
    parts.append(_member(0, Entry(TRAILER, 0)))
    return b"".join(parts)


def list_names(data: bytes) -> list[tuple[str, int]]:
    """(name, mode) of each member of a newc archive, trailer excluded."""
    out, at = [], 0
    while True:
        if data[at:at + 6] != MAGIC:
            raise ValueError(f"not a newc member at offset {at}")
        fields = [int(data[at + 6 + 8 * i: at + 14 + 8 * i], 16) for i in range(13)]
        mode, size, namesize = fields[1], fields[6], fields[11]
        start = at + 110
        name = data[start:start + namesize - 1].decode()
        if name == TRAILER:
            return out
        out.append((name, mode))
        at = start + namesize
        at += -at % 4
        at += size + (-size % 4)
