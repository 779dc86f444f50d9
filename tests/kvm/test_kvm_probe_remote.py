"""A remote KVM host monitored through ``nubo serve``: the second host
(tests/kvm/second_host.py) on IM_MAD kvm is probed over ssh (kvm_ssh with the test's
key), the probe copied there on first use, its figures its own (HOSTNAME), and a
domain started there outside nubo in its WILDS."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import tiny_guests  # noqa: E402
from libvirt_daemons import why_not as libvirt_missing  # noqa: E402
from second_host import second_host_fixture  # noqa: E402
from server import NuboServer  # noqa: E402
from waits import wait_for  # noqa: E402

MONITORED = 2


@pytest.fixture(scope="module")
def host2(tmp_path_factory):
    if libvirt_missing():
        pytest.skip(libvirt_missing())
    yield from second_host_fixture(tmp_path_factory)


def test_a_remote_host_is_monitored_over_ssh(host2, tmp_path):
    import pyone
    remote_dir = f"/var/tmp/nubo-test-kvmhost-remote-{os.getpid()}"
    wild = f"nubo-test-kvmhost-remote-wild-{os.getpid()}"
    if tiny_guests.boot_files() is not None:
        tiny_guests.start(host2.uri, wild)
    server = NuboServer(tmp_path / "data", extra_config=(
        f'kvm_driver = "yes"\nhost_monitoring_interval = 1\nkvm_probe_window = 0.2\n'
        f'kvm_remote_dir = "{remote_dir}"\n' + host2.nubo_config())).start()
    try:
        one = pyone.OneServer(server.endpoint, session=server.session)
        hid = one.host.allocate(host2.address, "kvm", "kvm", -1)
        host = wait_for("the second host MONITORED",
                        lambda: (h := one.host.info(hid)).STATE == MONITORED and h, timeout=90)
        assert host.TEMPLATE["HOSTNAME"] == host2.hostname
        assert host.TEMPLATE["HYPERVISOR"] == "kvm"
        assert Path(remote_dir, "probe.py").exists()  # copied there on first use
        if tiny_guests.boot_files() is not None:
            assert wait_for("the wild domain in WILDS", lambda: wild in (
                one.host.info(hid).TEMPLATE.get("WILDS") or ""), timeout=60)
    finally:
        assert server.stop() == 0, "".join(server.log_lines[-30:])
        subprocess.run(["virsh", "-c", host2.uri, "destroy", wild], capture_output=True,
                       timeout=60)
        shutil.rmtree(remote_dir, ignore_errors=True)
