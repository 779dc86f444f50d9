"""The kvm driver against the real libvirtd of this machine: guests boot Debian's own
kernel and initramfs under TCG (no disk: they stay in the initramfs, a running domain
all the same), and every action's effect is checked through libvirt directly.

Domain names one-9000NN are this file's; a finalizer destroys whatever is left.
"""
from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

libvirt = pytest.importorskip("libvirt")
libvirt.registerErrorHandler(lambda _ctx, _err: None, None)

from kvm_driver import HOST, KvmDriver, debian_kernel, libvirt_or_skip, vm_body  # noqa: E402

IDS = (900001, 900002, 900003, 900004)
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def conn():
    connection = libvirt.open(libvirt_or_skip())
    yield connection
    for vm_id in IDS:
        try:
            connection.lookupByName(f"one-{vm_id}").destroy()
        except libvirt.libvirtError:
            pass
    connection.close()


@pytest.fixture
def world(conn):
    # QEMU runs as libvirt's own user: the datastores must be reachable by it, which
    # pytest's private tmp_path is not
    root = Path(tempfile.mkdtemp(prefix="nubo-kvmvmm-", dir="/var/tmp"))
    root.chmod(0o755)
    driver = KvmDriver(str(root), "--domain-type", "qemu", "--shutdown-timeout", "30")
    yield driver, root / "0", conn
    driver.close()
    shutil.rmtree(root, ignore_errors=True)


def running(conn, vm_id: int) -> bool:
    try:
        return bool(conn.lookupByName(f"one-{vm_id}").isActive())
    except libvirt.libvirtError:
        return False


def wait_for(check, timeout: float = 60, step: float = 0.5) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(step)
    return False


def test_deploy_poll_reboot_reset_save_restore_shutdown(world):
    driver, ds, conn = world
    vm_id = 900001
    body = vm_body(vm_id, "<CONTEXT><DISK_ID>0</DISK_ID><TARGET>hda</TARGET></CONTEXT>",
                   user_template="<SHUTDOWN_TIMEOUT>2</SHUTDOWN_TIMEOUT>")
    context = ds / str(vm_id) / "disk.0"  # as the transfer driver's CONTEXT line leaves it
    context.parent.mkdir(parents=True)
    context.write_bytes(bytes(64 * 1024))
    assert driver.init.startswith("INIT SUCCESS CAPABILITIES=")
    assert "save-restore" in driver.init and "disk-resize" in driver.init
    assert "disk-snapshots" in driver.init

    start = time.monotonic()
    assert driver.act("DEPLOY", vm_id, payload=body) == (True, f"one-{vm_id}")
    deploy_s = time.monotonic() - start
    assert running(conn, vm_id)
    live = conn.lookupByName(f"one-{vm_id}").XMLDesc(0)
    assert debian_kernel()[0] in live and "<memory unit='KiB'>131072</memory>" in live
    print(f"\nDEPLOY -> running (Debian kernel, TCG, 128 MB): {deploy_s:.3f} s; "
          f"{[log for log in driver.logs if 'created domain' in log]}")
    # recovery repeats a DEPLOY: the same deploy id, nothing started twice
    assert driver.act("DEPLOY", vm_id, payload=body) == (True, f"one-{vm_id}")
    # a domain of that name whose files are another VM directory's is not this VM's
    ok, info = driver.act("DEPLOY", vm_id, payload=vm_body(vm_id, ds_id=1))
    assert not ok and f"a domain one-{vm_id} already runs" in info and \
        f"{ds / str(vm_id)}" in info, info

    ok, info = driver.act("POLL", vm_id, payload=body)
    figures = dict(kv.split("=") for kv in info.split())
    assert ok and figures["STATE"] == "a" and int(figures["MEMORY"]) > 0
    assert {"CPU", "NETRX", "NETTX", "DISKRDBYTES"} <= set(figures)
    ok, info = driver.act("POLL", vm_id)  # without a payload: the domain one-<ID>
    assert ok and info.startswith("STATE=a ")
    serial = ds / str(vm_id) / "serial.log"
    assert wait_for(lambda: serial.exists() and b"Linux version" in serial.read_bytes(), 90), \
        "the kernel's console never reached serial.log"

    snap = "<SNAPSHOT><ACTIVE>YES</ACTIVE><SNAPSHOT_ID>0</SNAPSHOT_ID></SNAPSHOT>"
    ok, info = driver.act("SNAPSHOTCREATE", vm_id, payload=vm_body(vm_id, snap))
    assert not ok and "need a disk, and every disk in qcow2" in info, info

    assert f"{context}" in conn.lookupByName(f"one-{vm_id}").XMLDesc(0)
    assert driver.act("UPDATECONF", vm_id, payload=body) == (True, "")  # media changed
    assert not [log for log in driver.logs if "no context CD-ROM" in log]

    assert driver.act("REBOOT", vm_id, payload=body) == (True, "")
    assert driver.act("RESET", vm_id, payload=body) == (True, "")
    assert running(conn, vm_id)

    start = time.monotonic()
    assert driver.act("SAVE", vm_id, payload=body) == (True, "")
    save_s = time.monotonic() - start
    checkpoint = ds / str(vm_id) / "checkpoint"
    assert checkpoint.exists() and not running(conn, vm_id)
    assert driver.act("POLL", vm_id, payload=body) == (True, "STATE=d")
    assert driver.act("SAVE", vm_id, payload=body) == (True, "")  # repeated by recovery
    start = time.monotonic()
    assert driver.act("RESTORE", vm_id, payload=body) == (True, f"one-{vm_id}")
    print(f"SAVE {save_s:.2f} s, RESTORE {time.monotonic() - start:.2f} s")
    assert running(conn, vm_id) and not checkpoint.exists()

    # the initramfs has nothing listening to the ACPI button: destroyed after 2 s
    assert driver.act("SHUTDOWN", vm_id, payload=body) == (True, "")
    assert not running(conn, vm_id)
    assert any("did not stop within 2 s" in log for log in driver.logs)
    assert driver.act("SHUTDOWN", vm_id, payload=body) == (True, "")
    assert driver.act("CANCEL", vm_id, payload=body) == (True, "")


def test_disk_and_nic_hotplug_snapshots_resize_and_cancel(world):
    driver, ds, conn = world
    vm_id = 900002
    base = "<VCPU>1</VCPU><VCPU_MAX>2</VCPU_MAX><MEMORY_MAX>256</MEMORY_MAX>"
    assert driver.act("DEPLOY", vm_id, payload=vm_body(vm_id, base)) == (True, f"one-{vm_id}")
    dom = conn.lookupByName(f"one-{vm_id}")
    disk = ds / str(vm_id) / "disk.0"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(disk), "16M"], check=True)
    attach = ("<DISK><DISK_ID>0</DISK_ID><TARGET>vdb</TARGET><DRIVER>qcow2</DRIVER>"
              "<ATTACH>YES</ATTACH></DISK>")
    body = vm_body(vm_id, base + attach)
    assert driver.act("ATTACHDISK", vm_id, payload=body) == (True, "")
    assert "dev='vdb'" in dom.XMLDesc(0) and str(disk) in dom.XMLDesc(0)
    assert driver.act("ATTACHDISK", vm_id, payload=body) == (True, "")  # repeated
    grown = vm_body(vm_id, base + attach.replace("<ATTACH>YES</ATTACH>",
                                                 "<SIZE>32</SIZE><RESIZE>YES</RESIZE>"))
    assert driver.act("RESIZEDISK", vm_id, payload=grown) == (True, "")
    info = subprocess.run(["qemu-img", "info", "-U", "--output=json", str(disk)],
                          capture_output=True, text=True, check=True).stdout
    assert '"virtual-size": 33554432' in info

    # VM snapshots: libvirt's internal ones, in the qcow2 disk
    snap = "<SNAPSHOT><ACTIVE>YES</ACTIVE><SNAPSHOT_ID>0</SNAPSHOT_ID><NAME>first</NAME></SNAPSHOT>"
    snapped = vm_body(vm_id, base + attach + snap)
    assert driver.act("SNAPSHOTCREATE", vm_id, payload=snapped) == (True, "snap-0")
    assert dom.snapshotListNames(0) == ["snap-0"]
    with_id = snapped.replace("<NAME>first</NAME>", "<HYPERVISOR_ID>snap-0</HYPERVISOR_ID>")
    assert driver.act("SNAPSHOTREVERT", vm_id, payload=with_id) == (True, "")
    assert running(conn, vm_id)
    assert driver.act("SNAPSHOTDELETE", vm_id, payload=with_id) == (True, "")
    assert dom.snapshotListNames(0) == []
    assert driver.act("SNAPSHOTDELETE", vm_id, payload=with_id) == (True, "")

    assert driver.act("DETACHDISK", vm_id, payload=body) == (True, "")
    assert driver.act("DETACHDISK", vm_id, payload=body) == (True, "")

    nic = ("<NIC><NIC_ID>0</NIC_ID><MAC>02:00:c6:33:64:42</MAC><ATTACH>YES</ATTACH></NIC>")
    nic_body = vm_body(vm_id, base + nic)
    assert driver.act("ATTACHNIC", vm_id, payload=nic_body) == (True, "")
    assert "02:00:c6:33:64:42" in dom.XMLDesc(0) and f"one-{vm_id}-0" in dom.XMLDesc(0)
    ok, info = driver.act("POLL", vm_id, payload=nic_body)
    assert ok and "NETRX=" in info
    assert driver.act("DETACHNIC", vm_id, payload=nic_body) == (True, "")

    resized = vm_body(vm_id, base.replace("<VCPU>1</VCPU>", "<VCPU>2</VCPU>")).replace(
        "<MEMORY>128</MEMORY>", "<MEMORY>192</MEMORY>")
    assert driver.act("RESIZE", vm_id, payload=resized) == (True, "")
    assert dom.info()[3] == 2  # the memory is the balloon's target: the initramfs has no
    # balloon driver to act on it, so libvirt shows no change to check here
    too_big = resized.replace("<VCPU>2</VCPU>", "<VCPU>4</VCPU>")
    ok, info = driver.act("RESIZE", vm_id, payload=too_big)
    assert not ok and "VCPU_MAX" in info
    ok, info = driver.act("RESIZE", vm_id, payload=resized.replace(
        "<MEMORY>192</MEMORY>", "<MEMORY>512</MEMORY>"))
    assert not ok and "MEMORY_MAX" in info

    assert driver.act("UPDATECONF", vm_id, payload=body) == (True, "")
    assert driver.act("UPDATESG", vm_id, payload=body) == (True, "")
    assert driver.act("CANCEL", vm_id, payload=body) == (True, "")
    assert not running(conn, vm_id)
    assert driver.act("CANCEL", vm_id, payload=body) == (True, "")


def test_failures_say_why(world):
    driver, ds, conn = world
    vm_id = 900003
    ok, info = driver.act("DEPLOY", vm_id, payload=vm_body(vm_id, kernel="/nonexistent/vmlinuz"))
    assert not ok and "/nonexistent/vmlinuz" in info, info
    assert not running(conn, vm_id)
    ok, info = driver.act("DEPLOY", vm_id, "nubo-no-such-host.invalid",
                          vm_body(vm_id, hosts=("nubo-no-such-host.invalid",)))
    assert not ok and "cannot reach host nubo-no-such-host.invalid" in info, info
    ok, info = driver.act("DEPLOY", vm_id, payload=vm_body(vm_id, "<DISK><DISK_ID>0</DISK_ID>"
                                                                  "</DISK>"))
    assert (ok, info) == (False, "DISK 0 has no TARGET")
    ok, info = driver.act("SAVE", vm_id, payload=vm_body(vm_id))
    assert (ok, info) == (False, f"domain one-{vm_id} is not running on {HOST}")
    ok, info = driver.act("REBOOT", vm_id, payload=vm_body(vm_id))
    assert not ok and "not running" in info
    ok, info = driver.act("MIGRATE", vm_id, payload=vm_body(vm_id))
    assert not ok and "destination" in info
    assert driver.act("DISKSNAPSHOTCREATE", vm_id, payload=vm_body(vm_id)) == \
        (False, "the VM has no DISK marked DISK_SNAPSHOT_ACTIVE=YES")
    assert driver.act("DISKSNAPSHOTREVERT", vm_id, payload=vm_body(vm_id)) == \
        (False, "unsupported action DISKSNAPSHOTREVERT")
    ok, info = driver.act("RESIZEDISK", vm_id, payload=vm_body(vm_id))
    assert (ok, info) == (False, "the VM has no DISK marked RESIZE=YES")
    ok, info = driver.act("MONITOR", 0, payload="<HOST/>")
    if not Path(__file__).resolve().parents[2].joinpath("nubo/drivers/kvm/probe.py").exists():
        assert (ok, info) == (False, "probe not available")


def test_auto_domain_type_probes_the_host(conn):
    """This machine's /dev/kvm may open, but a firmware boot under it crawls: TCG."""
    from nubo.drivers.kvm.hosts import Hosts
    start = time.monotonic()
    kind = Hosts({HOST}).domain_type_of(HOST)
    print(f"\nauto domain type here: {kind} (probe {time.monotonic() - start:.1f} s)")
    assert kind in ("kvm", "qemu")


def test_the_core_s_driver_manager_runs_it_and_reads_its_capabilities(conn):
    """Through nubo.drivers.DriverManager, as nubo serve runs it: INIT's capabilities
    reach the registry's view, a DEPLOY answers the deploy id, POLL and CANCEL work."""
    import sys

    from nubo.drivers import DriverManager, DriverSpec
    root = Path(tempfile.mkdtemp(prefix="nubo-kvmvmm-", dir="/var/tmp"))
    root.chmod(0o755)
    vm_id = 900004
    manager = DriverManager([DriverSpec("kvm", (sys.executable, "-m", "nubo.drivers.kvm",
                                                "--datastore-location", str(root),
                                                "--domain-type", "qemu"))])
    manager.start()
    try:
        body = vm_body(vm_id)
        result = manager.submit("kvm", "DEPLOY", vm_id, HOST, body).result(timeout=180)
        assert (result.success, result.info, result.origin) == (True, f"one-{vm_id}", "driver")
        assert manager.capabilities("kvm") >= {"save-restore", "snapshots", "live-migration",
                                               "disk-snapshots"}
        assert running(conn, vm_id)
        poll = manager.submit("kvm", "POLL", vm_id, HOST, body).result(timeout=60)
        assert poll.success and poll.info.startswith("STATE=a ")
        assert manager.submit("kvm", "CANCEL", vm_id, HOST, body).result(timeout=60).success
        assert not running(conn, vm_id)
    finally:
        manager.close()
        shutil.rmtree(root, ignore_errors=True)


def test_a_lost_connection_is_opened_again(conn):
    """A connection that died under the driver (libvirtd restarted, ssh cut) is noticed
    and replaced at the next action."""
    from nubo.drivers.kvm.hosts import Hosts
    hosts = Hosts({HOST})
    first = hosts.connection(HOST)
    first.close()  # as if it had died
    assert hosts.call(HOST, lambda c: c.getLibVersion()) > 0
    assert hosts.connection(HOST) is not first
    hosts.close()
