"""What the tests of real disks share: a server whose images are files of a test
directory, and every disk checked with qemu-img."""
from __future__ import annotations

from pathlib import Path

from nubo.drivers.storage import qemu_img
from server import NuboServer


def checked(path: Path) -> qemu_img.ImageInfo:
    """qemu-img info, and qemu-img check where the format has checks (raw has none)."""
    info = qemu_img.info(path)
    if info.format != "raw":
        qemu_img.check(path)
    return info


def server_with_images(base: Path) -> NuboServer:
    """``nubo serve`` (the real transfer driver, its default) and ``.images``, a directory
    for image files."""
    srv = NuboServer(base / "data").start()
    srv.images = base / "images"  # type: ignore[attr-defined]
    srv.images.mkdir()
    return srv
