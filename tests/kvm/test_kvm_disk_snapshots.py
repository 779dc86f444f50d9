"""Disk snapshots of a running VM on a real domain: the kvm driver's DISKSNAPSHOTCREATE
(QEMU's internal snapshot of a qcow2 disk, a paused copy of a raw one) and the transfer
driver's SNAP_DELETE of a disk QEMU holds open, each checked on the files with qemu-img.

Domain name one-900011 is this file's; a finalizer destroys it.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from lxml import etree

libvirt = pytest.importorskip("libvirt")
libvirt.registerErrorHandler(lambda _ctx, _err: None, None)

from kvm_driver import KvmDriver, libvirt_or_skip, vm_body  # noqa: E402

from nubo.drivers.tm.script import Operation, VmFacts  # noqa: E402
from nubo.drivers.tm.transport import Transports  # noqa: E402

VM_ID = 900011
pytestmark = pytest.mark.slow


@pytest.fixture
def world():
    conn = libvirt.open(libvirt_or_skip())
    root = Path(tempfile.mkdtemp(prefix="nubo-kvmsnap-", dir="/var/tmp"))
    root.chmod(0o755)
    driver = KvmDriver(str(root), "--domain-type", "qemu")
    yield driver, root, conn
    driver.close()
    try:
        conn.lookupByName(f"one-{VM_ID}").destroy()
    except libvirt.libvirtError:
        pass
    conn.close()
    shutil.rmtree(root, ignore_errors=True)


def _snapshots(path: Path) -> list[str]:
    info = json.loads(subprocess.run(["qemu-img", "info", "-U", "--output=json", str(path)],
                                     capture_output=True, text=True, check=True).stdout)
    return [s["name"] for s in info.get("snapshots", [])]


def _disks(marked: int | None = None, snap_id: int = 0) -> str:
    def disk(disk_id: int, target: str, fmt: str) -> str:
        mark = (f"<DISK_SNAPSHOT_ACTIVE>YES</DISK_SNAPSHOT_ACTIVE>"
                f"<DISK_SNAPSHOT_ID>{snap_id}</DISK_SNAPSHOT_ID>" if disk_id == marked else "")
        return (f"<DISK><DISK_ID>{disk_id}</DISK_ID><TARGET>{target}</TARGET>"
                f"<DRIVER>{fmt}</DRIVER><TYPE>FILE</TYPE>{mark}</DISK>")
    return disk(0, "vda", "qcow2") + disk(1, "vdb", "raw")


def test_a_running_vm_s_disks_are_snapshotted_and_deleted_live(world):
    driver, root, conn = world
    vm_dir = root / "0" / str(VM_ID)
    vm_dir.mkdir(parents=True)
    qcow2, raw = vm_dir / "disk.0", vm_dir / "disk.1"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(qcow2), "16M"], check=True)
    subprocess.run(["qemu-img", "create", "-q", "-f", "raw", str(raw), "8M"], check=True)
    raw.write_bytes(b"nubo-raw-disk" + raw.read_bytes()[13:])
    assert driver.act("DEPLOY", VM_ID, payload=vm_body(VM_ID, _disks())) == (True, f"one-{VM_ID}")
    dom = conn.lookupByName(f"one-{VM_ID}")

    # qcow2: QEMU's own internal snapshot, named by the id (as qemu-img names them offline)
    body = vm_body(VM_ID, _disks(marked=0, snap_id=0))
    assert driver.act("DISKSNAPSHOTCREATE", VM_ID, payload=body) == (True, "")
    assert _snapshots(qcow2) == ["0"]
    assert driver.act("DISKSNAPSHOTCREATE", VM_ID, payload=body) == (True, "")  # repeated
    assert _snapshots(qcow2) == ["0"]
    # qemu-img itself may not touch the file of a running QEMU: the reason SNAP_DELETE
    # asks QEMU
    locked = subprocess.run(["qemu-img", "snapshot", "-d", "0", str(qcow2)],
                            capture_output=True, text=True)
    assert locked.returncode != 0 and "lock" in locked.stderr

    # raw: a copy of one moment, the domain paused for it and running again after
    body = vm_body(VM_ID, _disks(marked=1, snap_id=3))
    assert driver.act("DISKSNAPSHOTCREATE", VM_ID, payload=body) == (True, "")
    copy = vm_dir / "disk.1.snap" / "3"
    assert copy.read_bytes()[:13] == b"nubo-raw-disk" and copy.stat().st_size == 8 << 20
    assert dom.state()[0] == libvirt.VIR_DOMAIN_RUNNING

    # the transfer driver's SNAP_DELETE of the running qcow2 disk goes through QEMU
    vm_xml = etree.fromstring(f"<VM><ID>{VM_ID}</ID><HISTORY_RECORDS><HISTORY><HOSTNAME>"
                              "localhost</HOSTNAME><VM_MAD>kvm</VM_MAD></HISTORY>"
                              "</HISTORY_RECORDS><TEMPLATE/></VM>")
    transports = Transports(frozenset({"localhost"}), str(root / "sim"), "false {host}")
    delete = f"SNAP_DELETE qcow2 localhost:{qcow2} 0 {VM_ID} 0"
    Operation(transports, VM_ID, VmFacts.parse(vm_xml)).run(delete)
    assert _snapshots(qcow2) == []
    assert dom.state()[0] == libvirt.VIR_DOMAIN_RUNNING

    # a disk the domain does not have says so
    ghost = _disks(marked=0).replace("<DISK_ID>0</DISK_ID>", "<DISK_ID>5</DISK_ID>")
    ok, why = driver.act("DISKSNAPSHOTCREATE", VM_ID, payload=vm_body(VM_ID, ghost))
    assert not ok and "disk.5" in why
