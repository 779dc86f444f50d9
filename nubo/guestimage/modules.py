"""Which kernel modules the guest loads, and in what order.

The guest has no udev and no modprobe database: its init insmods a list of module
files, each after the modules it depends on, as modules.dep (depmod's output) says.
Pure: modules.dep's text in, an ordered list of its relative paths out.
"""
from __future__ import annotations

# What a guest under libvirt/QEMU needs: the IDE/SATA CD-ROM (pc machine: PIIX) or a
# virtio/SCSI one and ISO 9660 to read its context; virtio and e1000 NICs; virtio
# disks; the ACPI power button with evdev so that acpid sees "virsh shutdown".
WANTED = (
    "ata_piix", "ata_generic", "ahci", "sr_mod", "cdrom", "isofs", "sd_mod",
    "virtio_pci", "virtio_net", "virtio_blk", "virtio_scsi", "e1000",
    "button", "evdev",
)


class ModuleError(LookupError):
    """A wanted module is neither in modules.dep nor built into the kernel."""


def module_name(path: str) -> str:
    """The name a module is known by: its file's stem, '-' read as '_'."""
    base = path.rsplit("/", 1)[-1]
    for suffix in (".xz", ".zst", ".gz"):
        base = base.removesuffix(suffix)
    return base.removesuffix(".ko").replace("-", "_")


def parse_dep(text: str) -> dict[str, list[str]]:
    """modules.dep as {path: [paths it needs, nearest first]}."""
    deps: dict[str, list[str]] = {}
    for line in text.splitlines():
        if ":" in line:
            path, _, needs = line.partition(":")
            deps[path.strip()] = needs.split()
    return deps


def load_order(dep_text: str, wanted: tuple[str, ...], builtin: str = "") -> list[str]:
    """The module paths to insmod for ``wanted``, every dependency before its user.
    A wanted module built into the kernel (``builtin``: modules.builtin) is skipped."""
    deps = parse_dep(dep_text)
    by_name = {module_name(p): p for p in deps}
    built_in = {module_name(p) for p in builtin.split()}
    order: list[str] = []

    def visit(path: str) -> None:
        if path in order:
            return
        for need in deps.get(path, []):
            visit(need)
        order.append(path)

    for name in wanted:
        name = name.replace("-", "_")
        if name in by_name:
            visit(by_name[name])
        elif name not in built_in:
            raise ModuleError(f"module {name} is not in modules.dep nor built in")
    return order
