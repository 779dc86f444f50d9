"""Build the test guest from this machine's Debian packages: the kernel of
linux-image-amd64 (/boot/vmlinuz-*) and an initramfs of busybox-static holding the
modules the guest needs and the init that applies its context CD-ROM.

    OUTDIR/vmlinuz      a copy of /boot/vmlinuz-KVER (the newest)
    OUTDIR/initrd.img   gzip'd newc cpio: busybox, its applets as links, /init,
                        /lib/nubo-context.sh, /lib/modules/KVER/*.ko + load-order
"""
from __future__ import annotations

import gzip
import hashlib
import lzma
import os
import re
import shutil
import subprocess
from importlib import resources
from pathlib import Path

from nubo.guestimage import cpio
from nubo.guestimage.modules import WANTED, load_order

BUSYBOX = Path("/bin/busybox")
BOOT = Path("/boot")
MODULES = Path("/lib/modules")
KERNEL_CMD = "console=ttyS0 quiet"
_DIRS = ("bin", "sbin", "usr", "usr/bin", "usr/sbin", "dev", "proc", "sys", "run", "tmp",
         "root", "etc", "mnt", "lib", "lib/modules")


class GuestImageError(RuntimeError):
    """The kernel, its modules or busybox are missing."""


def _version_key(kver: str) -> list:
    return [int(p) if p.isdigit() else p for p in re.split(r"[.-]", kver)]


def newest_kernel(boot: Path = BOOT, modules: Path = MODULES) -> str:
    """The newest KVER with both /boot/vmlinuz-KVER and /lib/modules/KVER."""
    found = [p.name.removeprefix("vmlinuz-") for p in boot.glob("vmlinuz-*")]
    found = [k for k in found if (modules / k / "modules.dep").exists()]
    if not found:
        raise GuestImageError(f"no kernel in {boot} with modules in {modules} "
                              "(apt-get install linux-image-amd64)")
    return max(found, key=_version_key)


def _package_file(name: str) -> bytes:
    return resources.files("nubo.guestimage").joinpath("files", name).read_bytes()


def _module_bytes(path: Path) -> bytes:
    """The module's ELF (busybox insmod reads no compressed module)."""
    data = path.read_bytes()
    if path.suffix == ".xz":
        return lzma.decompress(data)
    if path.suffix == ".zst":
        return subprocess.run(["zstd", "-dc", str(path)], check=True,
                              capture_output=True).stdout
    if path.suffix == ".gz":
        return gzip.decompress(data)
    return data


def _applets(busybox: Path) -> list[str]:
    """Every applet as its install path (bin/ls, sbin/ip, usr/bin/awk ...)."""
    out = subprocess.run([str(busybox), "--list-full"], check=True, capture_output=True,
                         text=True).stdout
    return [line.strip().lstrip("/") for line in out.splitlines() if line.strip()]


def initramfs_entries(kver: str, busybox: Path = BUSYBOX,
                      modules: Path = MODULES) -> list[cpio.Entry]:
    """The members of the initramfs, parents first."""
    moddir = modules / kver
    order = load_order((moddir / "modules.dep").read_text(), WANTED,
                       (moddir / "modules.builtin").read_text()
                       if (moddir / "modules.builtin").exists() else "")
    entries = [cpio.directory(d) for d in _DIRS]
    entries.append(cpio.char_device("dev/console", 5, 1))
    entries.append(cpio.file("bin/busybox", busybox.read_bytes(), 0o755))
    taken = {"bin/busybox"}
    for applet in _applets(busybox):
        if applet not in taken and "/" in applet:
            taken.add(applet)
            entries.append(cpio.symlink(applet, "/bin/busybox"))
    entries.append(cpio.file("init", _package_file("init"), 0o755))
    entries.append(cpio.file("lib/nubo-context.sh", _package_file("nubo-context.sh")))
    names, made = [], {f"lib/modules/{kver}"}
    entries.append(cpio.directory(f"lib/modules/{kver}"))
    for rel in order:
        plain = re.sub(r"\.(xz|zst|gz)$", "", rel)
        parts = f"lib/modules/{kver}/{plain}".split("/")
        for i in range(4, len(parts)):
            d = "/".join(parts[:i])
            if d not in made:
                made.add(d)
                entries.append(cpio.directory(d))
        entries.append(cpio.file("/".join(parts), _module_bytes(moddir / rel)))
        names.append(f"{kver}/{plain}")
    entries.append(cpio.file("lib/modules/load-order", "".join(n + "\n" for n in names).encode()))
    return entries


def source_hash() -> str:
    """A digest of the builder's own sources: part of a cache key."""
    h = hashlib.sha256()
    pkg = resources.files("nubo.guestimage")
    for name in sorted(["build.py", "cpio.py", "modules.py"]):
        h.update(pkg.joinpath(name).read_bytes())
    for name in ("init", "nubo-context.sh"):
        h.update(_package_file(name))
    return h.hexdigest()[:16]


def cache_key(busybox: Path = BUSYBOX) -> str:
    """What decides the image's bytes: kernel, busybox and this builder."""
    bb = hashlib.sha256(busybox.read_bytes()).hexdigest()[:12]
    return f"{newest_kernel()}-{bb}-{source_hash()}"


def build(outdir: Path, kver: str | None = None) -> tuple[Path, Path]:
    """Write OUTDIR/vmlinuz and OUTDIR/initrd.img; returns their paths."""
    if not BUSYBOX.exists():
        raise GuestImageError(f"{BUSYBOX} is missing (apt-get install busybox-static)")
    kver = kver or newest_kernel()
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    kernel, initrd = outdir / "vmlinuz", outdir / "initrd.img"
    data = gzip.compress(cpio.archive(initramfs_entries(kver)), compresslevel=6, mtime=0)
    for dest, write in ((kernel, lambda p: shutil.copyfile(BOOT / f"vmlinuz-{kver}", p)),
                        (initrd, lambda p: p.write_bytes(data))):
        partial = dest.with_name(f".{dest.name}.part")
        write(partial)
        os.replace(partial, dest)
    return kernel, initrd
