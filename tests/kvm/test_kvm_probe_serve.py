"""Host monitoring through ``nubo serve`` with the kvm information driver: a host on
IM_MAD kvm is MONITORED with the probe's figures (HYPERVISOR kvm, this machine's
memory), and a domain started outside nubo shows in its WILDS. The host comes from
``kvm_host`` (what ``nubo serve --with-kvm`` sets), and a second one from the API."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from libvirt_daemons import ensure_libvirtd  # noqa: E402
import tiny_guests  # noqa: E402
from server import NuboServer  # noqa: E402
from waits import wait_for  # noqa: E402

from nubo.config import kvm_available  # noqa: E402

MONITORED = 2


def _mem_total_kb() -> int:
    line = next(x for x in Path("/proc/meminfo").read_text().splitlines()
                if x.startswith("MemTotal:"))
    return int(line.split()[1])


@pytest.fixture(scope="module")
def kvm_nubo(tmp_path_factory):
    try:
        uri = ensure_libvirtd()
    except RuntimeError as e:
        pytest.skip(str(e))
    # Without the full kvm driver (nubo.drivers.kvm), its information part alone.
    driver = "" if kvm_available() else (
        f'[drivers.kvm]\ncommand = ["{sys.executable}", "-m", "nubo.drivers.kvm.im"]\n')
    server = NuboServer(tmp_path_factory.mktemp("kvmhost") / "data", extra_config=(
        'host_monitoring_interval = 1\nkvm_host = "localhost"\n'
        'kvm_probe_window = 0.2\n' + driver)).start()
    name = f"nubo-test-kvmhost-serve-{os.getpid()}"
    started = tiny_guests.boot_files() is not None
    if started:
        tiny_guests.start(uri, name)
    yield server, name if started else None
    if started:
        tiny_guests.destroy(uri, name)
    assert server.stop() == 0, "".join(server.log_lines[-30:])


def test_the_kvm_host_is_created_and_monitored_by_the_probe(kvm_nubo):
    import pyone
    server, wild = kvm_nubo
    assert any("kvm host 0 (localhost): IM_MAD kvm, VM_MAD kvm (created)" in line
               for line in server.log_lines), "".join(server.log_lines[-20:])
    one = pyone.OneServer(server.endpoint, session=server.session)
    host = wait_for("localhost MONITORED",
                    lambda: (h := one.host.info(0)).STATE == MONITORED and h, timeout=60)
    assert (host.NAME, host.IM_MAD, host.VM_MAD) == ("localhost", "kvm", "kvm")
    template = host.TEMPLATE
    assert template["HYPERVISOR"] == "kvm" and template["ARCH"] == os.uname().machine
    assert template["KVM_USABLE"] in ("YES", "NO")
    assert int(template["TOTALMEMORY"]) == _mem_total_kb()
    assert int(host.HOST_SHARE.TOTAL_MEM) == _mem_total_kb()
    assert int(host.HOST_SHARE.TOTAL_CPU) == 100 * os.cpu_count()
    if wild:
        found = wait_for("the wild domain on the host",
                         lambda: wild in (one.host.info(0).TEMPLATE.get("WILDS") or ""),
                         timeout=30)
        assert found


def test_a_host_created_through_the_api_on_kvm_is_monitored(kvm_nubo):
    """onehost create NAME -i kvm -v kvm: MONITOR goes to the driver named by IM_MAD."""
    import pyone
    server, _ = kvm_nubo
    one = pyone.OneServer(server.endpoint, session=server.session)
    hid = one.host.allocate("127.0.0.1", "kvm", "kvm", -1)
    host = wait_for("127.0.0.1 MONITORED",
                    lambda: (h := one.host.info(hid)).STATE == MONITORED and h, timeout=60)
    assert host.TEMPLATE["HYPERVISOR"] == "kvm"
    assert int(host.TEMPLATE["TOTALMEMORY"]) == _mem_total_kb()
