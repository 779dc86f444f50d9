"""The local libvirt daemons the real-hypervisor tests use (there is no systemd here).

``ensure_libvirtd()`` starts ``virtlogd -d`` and ``libvirtd -d`` when they are not
running, waits until qemu:///system answers and returns its URI; where libvirt or
root is missing it says why, so the tests skip with that reason. Daemons started
here are left running for the rest of the session (other tests reuse them) and are
stopped by pid at exit.
"""
from __future__ import annotations

import atexit
import os
import shutil
import signal
import subprocess
import time

URI = "qemu:///system"
_started: list[int] = []


def _running(name: str) -> bool:
    return subprocess.run(["pgrep", "-x", name], capture_output=True).returncode == 0


def _answers() -> bool:
    return subprocess.run(["virsh", "-c", URI, "version"], capture_output=True,
                          timeout=30).returncode == 0


def why_not() -> str:
    """Empty when libvirt can be used here, else the reason."""
    if os.geteuid() != 0:
        return "the real-hypervisor tests need root"
    for tool in ("libvirtd", "virtlogd", "virsh", "qemu-system-x86_64"):
        if shutil.which(tool) is None and not os.path.exists(f"/usr/sbin/{tool}"):
            return f"{tool} is not installed (scripts/system-deps installs it)"
    try:
        import libvirt  # noqa: F401
    except ImportError:
        return "libvirt-python is not installed (scripts/install adds it with libvirt-dev)"
    return ""


def _start(name: str) -> None:
    """Start a daemon by hand and remember its pid (it forks: read it from its pidfile)."""
    subprocess.run([name, "-d"], check=True, timeout=30)
    pidfile = f"/run/{name}.pid"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not os.path.exists(pidfile):
        time.sleep(0.05)
    if os.path.exists(pidfile):
        _started.append(int(open(pidfile).read().split()[0]))


def ensure_libvirtd() -> str:
    """qemu:///system, started if need be; raises RuntimeError when it can't be."""
    reason = why_not()
    if reason:
        raise RuntimeError(reason)
    if not _running("virtlogd"):
        _start("virtlogd")
    if not _running("libvirtd"):
        _start("libvirtd")
    deadline = time.monotonic() + 120  # a loaded 2-core machine starts it slowly
    while not _answers():
        if time.monotonic() > deadline:
            raise RuntimeError(f"libvirtd does not answer on {URI}")
        time.sleep(0.2)
    return URI


@atexit.register
def _stop() -> None:
    for pid in reversed(_started):
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
