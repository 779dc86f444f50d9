"""The ``ssh`` and ``qcow2`` transfer drivers for real, on real guests.

A cloud of this machine and a second host whose system datastore directory is its
own (a directory bind-mounted over the same path in its mount namespace), as two
machines with local disks: the system datastore's TM_MAD is ``ssh``, so a guest
deployed there gets its kernel, initrd (of a ``shared`` files datastore) and
context copied over ssh into its directory there, runs from them, and comes back
with its files at a cold migration. Each guest (that one, and one on this machine)
has a disk from an image of a ``qcow2`` datastore: a qcow2 overlay of the image,
made on the guest's host, snapshotted by its QEMU while it runs.

Net 198.19.75.0/24 (bridge nbe2e75) is this module's; its VM ids start at HELD, VMs
0..HELD-1 held and never run, so its domains (one-<id>) never meet another cloud's.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import libvirt_daemons  # noqa: E402
from e2e_cloud import BOOT, Cloud, context_lines, domstate, state  # noqa: E402
from guest_image import scratch_dir  # noqa: E402
from second_host import second_host_fixture  # noqa: E402
from waits import ACTIVE, DONE, RUNNING, wait_for  # noqa: E402

pytestmark = pytest.mark.skipif(bool(libvirt_daemons.why_not()),
                                reason=libvirt_daemons.why_not() or "-")
NET = 75
HELD = 40
IMAGE_READY = 1


@pytest.fixture(scope="module")
def base():
    path = scratch_dir("nubo-e2e-tm-")
    (path / "datastores" / "0").mkdir(parents=True, mode=0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def host2(tmp_path_factory, base):
    yield from second_host_fixture(tmp_path_factory,
                                   private_dirs=(str(base / "datastores" / "0"),))


@pytest.fixture(scope="module")
def cloud(base, host2):
    """This machine and the second host, the system datastore ``ssh`` (each host's
    files its own; the other datastores, the guest's kernel and initrd's ``shared``
    one among them, are one file system of both), a ``qcow2`` image datastore."""
    c = Cloud(base, NET, extra_config=host2.nubo_config())
    one = c.one
    one.datastore.update(0, 'TM_MAD = "ssh"\nSHARED = "NO"', 1)
    c.qcow2 = one.datastore.allocate('NAME = "qcow2"\nTYPE = "IMAGE_DS"\nDS_MAD = "fs"\n'
                                     'TM_MAD = "qcow2"', -1)
    for _ in range(HELD):
        c.placeholders.add(one.vm.allocate('NAME = "held"\nCPU = 0.1\nMEMORY = 64', True))
    c.image = one.image.allocate('NAME = "blk"\nTYPE = "DATABLOCK"\nSIZE = "8"\n'
                                 'FORMAT = "qcow2"', c.qcow2)
    c.host2 = one.host.allocate(host2.address, "kvm", "kvm", -1)
    wait_for("the second host MONITORED", lambda: one.host.info(c.host2).STATE == 2,
             timeout=120)
    wait_for("the image READY", lambda: one.image.info(c.image).STATE == IMAGE_READY,
             timeout=60)
    c.image_file = one.image.info(c.image).SOURCE
    yield c
    c.close()


def _guest(c: Cloud, name: str) -> tuple[int, str]:
    """A guest with a disk of the qcow2 datastore's image; its id, the disk's name."""
    vm_id = c.one.template.instantiate(c.template, name, False,
                                       f'DISK = [ IMAGE_ID = {c.image} ]', False)
    assert vm_id >= HELD
    return vm_id, f"disk.{c.one.vm.info(vm_id).TEMPLATE['DISK']['DISK_ID']}"


def _qemu_img_info(path: Path) -> dict:
    return json.loads(subprocess.run(["qemu-img", "info", "-U", "--output=json", str(path)],
                                     capture_output=True, text=True, check=True).stdout)


def _snapshots(path: Path) -> list[str]:
    return [s["name"] for s in _qemu_img_info(path).get("snapshots", [])]


def _overlay_of(path: Path, image: str) -> bool:
    info = _qemu_img_info(path)
    return (info["format"], info.get("full-backing-filename")) == ("qcow2", image)


def _snapshots_live(one, vm_id: int, disk: str, path: Path) -> None:
    """Two snapshots of the running VM's qcow2 disk taken by its QEMU, the first (not
    the active one) deleted by it: each seen in the file (``path`` read here)."""
    disk_id = int(disk.split(".")[1])
    for name, ids in (("s1", ["0"]), ("s2", ["0", "1"])):
        one.vm.disksnapshotcreate(vm_id, disk_id, name)
        wait_for(f"snapshot {name} in the disk", lambda ids=ids: _snapshots(path) == ids,
                 timeout=60)
        state(one, vm_id, (ACTIVE, RUNNING), timeout=60)
    one.vm.disksnapshotdelete(vm_id, disk_id, 0)
    wait_for("snapshot s1 gone from the disk", lambda: _snapshots(path) == ["1"], timeout=60)
    state(one, vm_id, (ACTIVE, RUNNING), timeout=60)


def test_ssh_system_datastore_deploy_cold_migrate_terminate(cloud, host2):
    c, one = cloud, cloud.one
    vm_id, disk = _guest(c, "tm-ssh")
    here = c.vm_dir(vm_id)
    there = host2.private[str(c.datastores / "0")] / str(vm_id)
    one.vm.deploy(vm_id, c.host2)
    state(one, vm_id, (ACTIVE, RUNNING), timeout=120)
    context = f"disk.{one.vm.info(vm_id).TEMPLATE['CONTEXT']['DISK_ID']}"
    assert {"kernel", "initrd", context, disk} <= {p.name for p in there.iterdir()}
    assert _overlay_of(there / disk, c.image_file)  # made there, on the image they share
    assert not here.exists()  # the same path on this machine: nothing copied here
    assert host2.ssh(f"test -s {here}/kernel").returncode == 0
    wait_for("the context line on the second host",
             lambda: context_lines(there / "serial.log"), timeout=BOOT)
    assert domstate(host2.uri, vm_id) == "running"
    _snapshots_live(one, vm_id, disk, there / disk)  # QEMU's, asked over ssh there
    # cold: saved there, its directory copied back over ssh, restored here
    one.vm.migrate(vm_id, c.host, False, False, -1, 0)
    state(one, vm_id, (ACTIVE, RUNNING), timeout=300)
    assert (domstate(c.uri, vm_id), domstate(host2.uri, vm_id)) == ("running", "gone")
    assert {"kernel", "initrd", context, disk} <= {p.name for p in here.iterdir()}
    assert _overlay_of(here / disk, c.image_file) and _snapshots(here / disk) == ["1"]
    assert not there.exists()
    assert len(context_lines(here / "serial.log")) == 1  # restored, not booted again
    one.vm.action("terminate-hard", vm_id)
    state(one, vm_id, (DONE, 0), timeout=120)
    assert not here.exists()


def test_qcow2_disk_overlay_and_live_snapshot(cloud):
    c, one = cloud, cloud.one
    vm_id, disk = _guest(c, "tm-qcow2")
    one.vm.deploy(vm_id, c.host)
    state(one, vm_id, (ACTIVE, RUNNING), timeout=120)
    path = c.vm_dir(vm_id) / disk
    assert _overlay_of(path, c.image_file)
    blk = subprocess.run(["virsh", "-c", c.uri, "domblklist", f"one-{vm_id}"],
                         capture_output=True, text=True, check=True).stdout
    assert str(path) in blk
    _snapshots_live(one, vm_id, disk, path)
    assert domstate(c.uri, vm_id) == "running"
    one.vm.action("terminate-hard", vm_id)
    state(one, vm_id, (DONE, 0), timeout=120)
