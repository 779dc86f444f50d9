"""What the tests of real disks share: a server whose images are files of a test
directory, and every disk checked with qemu-img."""
from __future__ import annotations

import uuid
from pathlib import Path

import pytest

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


# -- what the tests of real disks share as fixtures: ``from disk_checks import server, one,
# uniq`` (pytest finds the fixtures where the test module has them)

@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """One ``server_with_images`` per test module."""
    srv = server_with_images(tmp_path_factory.mktemp("disks"))
    yield srv
    assert srv.stop() == 0


@pytest.fixture
def one(server):
    import pyone
    return pyone.OneServer(server.endpoint, session=server.session)


def uniq(prefix: str) -> str:
    """A name no other test uses."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"
