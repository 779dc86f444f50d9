"""nubo's test guest boots under libvirt/QEMU (TCG) with no nubo in between: it reads
its context CD-ROM (written by nubo's own writer), says so on the serial console and
answers ping on a bridge the test makes. bench/guest_boot.py runs here at tiny size.
"""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import libvirt_daemons
from guest_domain import (GuestBridge, cdrom_xml, context_iso, domain_xml, nic_xml, ping,
                          wait_for_line)
from guest_image import guest_image, scratch_dir

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(bool(libvirt_daemons.why_not()),
                                 reason=libvirt_daemons.why_not() or "-")]

BENCH = Path(__file__).resolve().parents[2] / "bench" / "guest_boot.py"
BRIDGE = "nbguest0"
NET = "198.19.71"            # 198.18.0.0/15: a subnet no other test's bridge uses
MAC, MAC2 = "52:54:00:c6:47:05", "52:54:00:c6:47:06"


@pytest.fixture(scope="session")
def image():
    return guest_image()


@pytest.fixture
def conn():
    import libvirt
    c = libvirt.open(libvirt_daemons.ensure_libvirtd())
    yield c
    c.close()


@pytest.fixture
def bridge():
    b = GuestBridge(BRIDGE, f"{NET}.1/24")
    yield b
    b.close()


@pytest.fixture
def workdir():
    path = scratch_dir("nubo-test-guest-")
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _destroy(conn, name: str) -> None:
    import libvirt
    try:
        dom = conn.lookupByName(name)
    except libvirt.libvirtError:
        return
    try:
        dom.destroy()
    except libvirt.libvirtError:
        pass  # it went by itself meanwhile (a transient domain is gone once off)


def test_the_guest_applies_its_context_and_answers_ping(image, conn, bridge, workdir):
    kernel, initrd = image
    name = "nubo-test-guest-ping"
    iso = context_iso(workdir / "context.iso", "guest-one", [(f"{NET}.5", MAC)],
                      {"SSH_PUBLIC_KEY": "ssh-ed25519 AAAAC3Nza test@nubo",
                       "START_SCRIPT": "echo started by context"},
                      gateway=f"{NET}.1")
    log = workdir / "serial.log"
    _destroy(conn, name)
    try:
        dom = conn.createXML(domain_xml(name, kernel, initrd, iso, log, bridge.name, MAC), 0)
        line = wait_for_line(log)
        assert re.fullmatch(rf"nubo-context: hostname=guest-one eth0={NET}\.5/24 "
                            rf"gw={NET}\.1 ssh-key=yes start-script=yes uptime=[0-9.]+", line)
        wait_for_line(log, re.compile("nubo-context: start-script exit=0"), timeout=30)
        assert "started by context" in log.read_text()
        assert any(ping(f"{NET}.5") for _ in range(10)), "the guest does not answer ping"

        # NIC hotplug: the context rebuilt with ETH1 (a new file, the medium changed, as
        # QEMU holds the old one open), then the NIC attached: the guest configures it
        iso2 = context_iso(workdir / "context-2.iso", "guest-one",
                           [(f"{NET}.5", MAC), (f"{NET}.6", MAC2)], gateway=f"{NET}.1")
        dom.updateDeviceFlags(cdrom_xml(iso2), 0)
        dom.attachDevice(nic_xml(bridge.name, MAC2))
        hotplug = wait_for_line(log, re.compile(r"nubo-context: hotplug .*"), timeout=120)
        assert re.fullmatch(rf"nubo-context: hotplug dev=eth1 eth1={NET}\.6/24", hotplug)
        assert any(ping(f"{NET}.6") for _ in range(10)), "the hotplugged NIC does not answer"

        dom.shutdown()  # the ACPI power button: the init's acpid powers off
        wait_for_line(log, re.compile("nubo-context: power button, powering off"),
                      timeout=60)
    finally:
        _destroy(conn, name)
    import libvirt
    with pytest.raises(libvirt.libvirtError):
        conn.lookupByName(name)


def test_the_boot_benchmark_runs_tiny():
    done = subprocess.run([sys.executable, str(BENCH), "--runs", "1"], capture_output=True,
                          text=True, timeout=600)
    out = done.stdout + done.stderr
    assert done.returncode == 0, out[-3000:]
    assert "virsh create -> context line" in out, out[-3000:]
