"""The kvm driver run as the core runs it (a process speaking the protocol), and VM
bodies for it: what the real-hypervisor tests of the kvm driver share."""
from __future__ import annotations

import base64
import glob
import queue
import subprocess
import sys
import threading
import time
from xml.sax.saxutils import escape

HOST = "localhost"


def debian_kernel() -> tuple[str, str]:
    """Debian's own kernel and initramfs from /boot (linux-image-amd64)."""
    kernels, initrds = sorted(glob.glob("/boot/vmlinuz-*")), sorted(glob.glob("/boot/initrd.img-*"))
    if not kernels or not initrds:
        return "", ""
    return kernels[-1], initrds[-1]


def libvirt_or_skip() -> str:
    """The local libvirt's URI (libvirtd started if need be), or the test skipped with
    the reason it can't run here: no libvirt, or no Debian kernel to boot."""
    import pytest

    from libvirt_daemons import ensure_libvirtd
    try:
        uri = ensure_libvirtd()
    except RuntimeError as e:
        pytest.skip(str(e))
    if not debian_kernel()[0]:
        pytest.skip("no Debian kernel in /boot (linux-image-amd64)")
    return uri


def vm_body(vm_id: int, template: str = "", kernel: str | None = None, *,
            hosts: tuple[str, ...] = (HOST,), ds_id: int = 0, user_template: str = "") -> str:
    """A VM's body as one.vm.info renders it: 128 MB, Debian's kernel, no disk."""
    default_kernel, initrd = debian_kernel()
    kernel = default_kernel if kernel is None else kernel
    records = "".join(f"<HISTORY><SEQ>{seq}</SEQ><HOSTNAME>{escape(h)}</HOSTNAME>"
                      f"<DS_ID>{ds_id}</DS_ID><VM_MAD>kvm</VM_MAD></HISTORY>"
                      for seq, h in enumerate(hosts))
    return (f"<VM><ID>{vm_id}</ID><NAME>nubo-test-kvmvmm-{vm_id}</NAME><UID>0</UID>"
            f"<UNAME>oneadmin</UNAME><HISTORY_RECORDS>{records}</HISTORY_RECORDS><TEMPLATE>"
            f"<CPU>1</CPU><MEMORY>128</MEMORY><OS><KERNEL>{escape(kernel)}</KERNEL>"
            f"<INITRD>{escape(initrd)}</INITRD><KERNEL_CMD>console=ttyS0</KERNEL_CMD></OS>"
            f"{template}</TEMPLATE><USER_TEMPLATE>{user_template}</USER_TEMPLATE></VM>")


class KvmDriver:
    """``python -m nubo.drivers.kvm`` on pipes; ``act`` sends one action and waits for its
    answer, collecting the LOG lines about it."""

    def __init__(self, datastore_location: str, *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "nubo.drivers.kvm", "--datastore-location",
             datastore_location, *args],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.lines: queue.Queue[str] = queue.Queue()
        self.logs: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()
        self.proc.stdin.write(b"INIT\n")
        self.proc.stdin.flush()
        self.init = self.lines.get(timeout=30)

    def _read(self) -> None:
        for raw in self.proc.stdout:
            self.lines.put(raw.decode().rstrip("\n"))

    def act(self, action: str, vm_id: int, host: str = HOST, payload: str = "",
            timeout: float = 120) -> tuple[bool, str]:
        field = base64.b64encode(payload.encode()).decode() if payload else "-"
        self.proc.stdin.write(f"{action} {vm_id} {host} {field}\n".encode())
        self.proc.stdin.flush()
        deadline = time.monotonic() + timeout
        while True:
            line = self.lines.get(timeout=max(0.1, deadline - time.monotonic()))
            if line.startswith("LOG "):
                self.logs.append(line)
                continue
            word, result, oid, *info = line.split(" ", 3)
            assert (word, oid) == (action, str(vm_id)), line
            return result == "SUCCESS", (info[0] if info and info[0] != "-" else "")

    def close(self) -> None:
        try:
            self.proc.stdin.write(b"FINALIZE\n")
            self.proc.stdin.flush()
            self.proc.wait(timeout=30)
        except (BrokenPipeError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait()
