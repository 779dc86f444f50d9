"""Migration by the kvm driver between this machine and the second hypervisor host the
test harness builds (tests/kvm/second_host.py: a network namespace with its own sshd
and libvirtd): live there and back, then cold (SAVE here, RESTORE there), the domain
running on exactly one host after each step, as both libvirts say."""
from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

import pytest

libvirt = pytest.importorskip("libvirt")
libvirt.registerErrorHandler(lambda _ctx, _err: None, None)
second_host_module = pytest.importorskip("second_host")

from kvm_driver import HOST, KvmDriver, debian_kernel, vm_body  # noqa: E402
from libvirt_daemons import ensure_libvirtd  # noqa: E402

pytestmark = pytest.mark.slow
VM_ID = 900006


@pytest.fixture(scope="module")
def two_hosts():
    reason = second_host_module.why_not()
    if reason:
        pytest.skip(reason)
    try:
        ensure_libvirtd()
    except RuntimeError as e:
        pytest.skip(str(e))
    if not debian_kernel()[0]:
        pytest.skip("no Debian kernel in /boot (linux-image-amd64)")
    # QEMU runs as libvirt's user on both hosts, which share this file system
    root = Path(tempfile.mkdtemp(prefix="nubo-kvmvmm-mig-", dir="/var/tmp"))
    root.chmod(0o755)
    try:
        with second_host_module.second_host(root / "host2") as host2:
            yield root, host2
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _state(driver: KvmDriver, host: str) -> str:
    ok, info = driver.act("POLL", VM_ID, host)
    assert ok, info
    return info.split()[0]


def test_live_migration_there_and_back_then_cold(two_hosts):
    root, host2 = two_hosts
    here = host2.local_address  # this machine, as host2 reaches it
    driver = KvmDriver(str(root / "datastores"), "--domain-type", "qemu",
                       "--uri", host2.uri_template, "--remote-command", host2.remote_command,
                       "--local-name", here)
    try:
        assert driver.act("DEPLOY", VM_ID, HOST, vm_body(VM_ID)) == (True, f"one-{VM_ID}")
        start = time.monotonic()
        there = vm_body(VM_ID, hosts=(HOST, host2.address))
        assert driver.act("MIGRATE", VM_ID, HOST, there, timeout=300) == (True, "")
        print(f"\nlive migration here -> second host: {time.monotonic() - start:.1f} s")
        assert _state(driver, host2.address) == "STATE=a"
        assert _state(driver, HOST) == "STATE=d"
        # repeated by recovery: it runs there already
        assert driver.act("MIGRATE", VM_ID, HOST, there, timeout=300) == (True, "")

        start = time.monotonic()
        back = vm_body(VM_ID, hosts=(HOST, host2.address, here))
        assert driver.act("MIGRATE", VM_ID, host2.address, back, timeout=300) == (True, "")
        print(f"live migration second host -> here: {time.monotonic() - start:.1f} s")
        assert _state(driver, HOST) == "STATE=a"
        assert _state(driver, host2.address) == "STATE=d"

        # cold: saved here, restored there (the hosts share the datastores' file system)
        assert driver.act("SAVE", VM_ID, HOST, back, timeout=300) == (True, "")
        again = vm_body(VM_ID, hosts=(HOST, host2.address, here, host2.address))
        assert driver.act("RESTORE", VM_ID, host2.address, again, timeout=300) == \
            (True, f"one-{VM_ID}")
        assert _state(driver, host2.address) == "STATE=a"
        assert _state(driver, HOST) == "STATE=d"
    finally:
        for host in (HOST, host2.address):
            driver.act("CANCEL", VM_ID, host, vm_body(VM_ID))
        driver.close()
