"""nubo's test guest built once and kept under /tmp, keyed on what decides its bytes
(kernel version, busybox, the builder's sources), for the tests and bench/guest_boot.py.

The directory is world-readable: QEMU runs as libvirt's user and must reach the
kernel and initrd by their paths.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

from nubo.guestimage.build import build, cache_key

CACHE = Path(tempfile.gettempdir())


def guest_image() -> tuple[Path, Path]:
    """(vmlinuz, initrd.img), built now unless a build with the same key is there."""
    outdir = CACHE / f"nubo-guest-image-{cache_key()}"
    kernel, initrd = outdir / "vmlinuz", outdir / "initrd.img"
    if not (kernel.exists() and initrd.exists()):
        outdir.mkdir(mode=0o755, exist_ok=True)
        os.chmod(outdir, 0o755)
        build(outdir)  # each file renamed into place whole: a racing build is harmless
    return kernel, initrd


def scratch_dir(prefix: str) -> Path:
    """A directory QEMU can read and write (pytest's tmp_path is private to root)."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    os.chmod(path, 0o755)
    return path
