"""Throw-away guests for the probe's tests and bench: transient TCG domains that boot
Debian's own kernel and initrd (``break=top``: they stop in the initramfs's shell and
idle there, reading a serial pty nobody writes to: a console that gave end of file
would end the shell, and init with it), 96 MiB each, named by the caller
(``nubo-test-kvmhost-...``) and destroyed by that name.
"""
from __future__ import annotations

import glob
import subprocess
import tempfile
from pathlib import Path

MEMORY_MIB = 96


def boot_files() -> tuple[str, str] | None:
    """(kernel, initrd) of the machine's own Debian kernel, or None."""
    for kernel in sorted(glob.glob("/boot/vmlinuz-*"), reverse=True):
        initrd = kernel.replace("vmlinuz-", "initrd.img-")
        if Path(initrd).exists():
            return kernel, initrd
    return None


def domain_xml(name: str, kernel: str, initrd: str, memory_mib: int = MEMORY_MIB) -> str:
    return f"""<domain type='qemu'>
  <name>{name}</name>
  <memory unit='MiB'>{memory_mib}</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64'>hvm</type><kernel>{kernel}</kernel><initrd>{initrd}</initrd>
    <cmdline>console=ttyS0 quiet break=top</cmdline></os>
  <on_poweroff>destroy</on_poweroff><on_reboot>destroy</on_reboot>
  <devices><serial type='pty'/><console type='pty'/><memballoon model='virtio'/></devices>
</domain>
"""


def start(uri: str, name: str) -> None:
    """``virsh create`` the guest ``name`` (transient: gone once destroyed)."""
    files = boot_files()
    if files is None:
        raise RuntimeError("no /boot/vmlinuz-* with its initrd.img-*")
    with tempfile.NamedTemporaryFile("w", suffix=".xml", prefix="nubo-kvmhost-") as f:
        f.write(domain_xml(name, *files))
        f.flush()
        done = subprocess.run(["virsh", "-c", uri, "create", f.name], capture_output=True,
                              text=True, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"virsh create {name}: {done.stderr.strip()}")


def destroy(uri: str, name: str) -> None:
    """Stop the guest ``name`` if it runs (nothing else is touched)."""
    subprocess.run(["virsh", "-c", uri, "destroy", name], capture_output=True, timeout=60)
