"""A bare libvirt domain of nubo's test guest, with no nubo in between: the test of
the image and bench/guest_boot.py (the baseline nubo's own overhead is measured
against) both use it.

``GuestBridge`` makes a Linux bridge in the root namespace holding the host's address
198.51.100.1/24; ``context_iso`` writes the CD-ROM with nubo's own writer;
``domain_xml`` is a direct-kernel-boot TCG domain with the CD-ROM, a NIC on the
bridge and the serial console logged to a file; ``wait_for_line`` polls that log.
"""
from __future__ import annotations

import re
import shutil
import subprocess
import time
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

from nubo.context.iso import write_context_iso
from nubo.guestimage.build import KERNEL_CMD

HOST_IP = "198.51.100.1"
CONTEXT_LINE = re.compile(r"nubo-context: hostname=\S+ .*")


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check)


class GuestBridge:
    """A bridge ``name`` with HOST_IP/24 on it, deleted by ``close`` (by its name)."""

    def __init__(self, name: str, address: str = f"{HOST_IP}/24") -> None:
        self.name = name
        _ip("link", "del", name, check=False)  # a leftover of a killed run
        _ip("link", "add", name, "type", "bridge")
        _ip("addr", "add", address, "dev", name)
        _ip("link", "set", name, "up")

    def close(self) -> None:
        _ip("link", "del", self.name, check=False)


def vm_xml(hostname: str, nics: list[tuple[str, str]], extra: dict[str, str] | None = None,
           gateway: str = HOST_IP) -> str:
    """A VM body whose CONTEXT is what nubo would resolve: HOSTNAME and, per NIC
    (ip, mac), ETHn_IP/MASK/MAC (ETH0 with the gateway)."""
    context = {"HOSTNAME": hostname, "NETWORK": "YES", **(extra or {})}
    for n, (ip, mac) in enumerate(nics):
        context.update({f"ETH{n}_IP": ip, f"ETH{n}_MAC": mac, f"ETH{n}_MASK": "255.255.255.0",
                        f"ETH{n}_GATEWAY": gateway if n == 0 else ""})
    body = "".join(f"<{k}>{escape(v)}</{k}>" for k, v in context.items())
    return f"<VM><TEMPLATE><CONTEXT>{body}</CONTEXT></TEMPLATE></VM>"


def context_iso(dest: Path, hostname: str, nics: list[tuple[str, str]],
                extra: dict[str, str] | None = None, gateway: str = HOST_IP) -> Path:
    write_context_iso(vm_xml(hostname, nics, extra, gateway), dest, [])
    return dest


def domain_xml(name: str, kernel: Path, initrd: Path, iso: Path, serial_log: Path,
               bridge: str, mac: str, memory_mib: int = 128, model: str = "virtio") -> str:
    """Direct kernel boot under TCG; the context CD-ROM on IDE (hdc), as the pc
    machine offers it; one NIC on ``bridge``; the serial console to ``serial_log``; no
    USB controller (its probe alone takes a quarter of a second under TCG)."""
    a = quoteattr
    return f"""<domain type='qemu'>
  <name>{escape(name)}</name>
  <memory unit='MiB'>{memory_mib}</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>{escape(str(kernel))}</kernel>
    <initrd>{escape(str(initrd))}</initrd>
    <cmdline>{escape(KERNEL_CMD)}</cmdline>
  </os>
  <features><acpi/></features>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    {cdrom_xml(iso)}
    {nic_xml(bridge, mac, model)}
    <serial type='file'>
      <source path={a(str(serial_log))}/>
      <target port='0'/>
    </serial>
    <controller type='usb' model='none'/>
    <memballoon model='none'/>
  </devices>
</domain>"""


def cdrom_xml(iso: Path) -> str:
    """The context CD-ROM's device, to change its medium on a running domain (a
    rebuilt image is a new file: QEMU keeps the one it opened)."""
    return (f"<disk type='file' device='cdrom'><driver name='qemu' type='raw'/>"
            f"<source file={quoteattr(str(iso))}/><target dev='hdc' bus='ide'/>"
            f"<readonly/></disk>")


def nic_xml(bridge: str, mac: str, model: str = "virtio") -> str:
    return (f"<interface type='bridge'><source bridge={quoteattr(bridge)}/>"
            f"<mac address={quoteattr(mac)}/><model type={quoteattr(model)}/></interface>")


def wait_for_line(log: Path, pattern: re.Pattern = CONTEXT_LINE, timeout: float = 120,
                  poll: float = 0.02) -> str:
    """The first line of the serial log matching ``pattern``; TimeoutError with the
    log's tail if none comes within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        text = log.read_text(errors="replace") if log.exists() else ""
        found = pattern.search(text[:text.rfind("\n") + 1])  # whole lines only
        if found:
            return found.group(0).strip()
        if time.monotonic() > deadline:
            raise TimeoutError(f"no line like {pattern.pattern!r} in {log} after {timeout} s; "
                               f"its end:\n{text[-3000:]}")
        time.sleep(poll)


def ping(address: str, count: int = 1, timeout: int = 2) -> bool:
    tool = ["ping"] if shutil.which("ping") else ["busybox", "ping"]
    return subprocess.run([*tool, "-c", str(count), "-W", str(timeout), address],
                          capture_output=True).returncode == 0
