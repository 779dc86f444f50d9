"""one.vm.disksnapshotcreate/revert/delete/rename and one.vm.diskresize through pyone, on a
``nubo serve`` whose real transfer driver works on the disks of a simulated host: each
change is checked on the disk file with qemu-img, and the VM's SNAPSHOTS against vm.xsd."""
from __future__ import annotations


import pyone
import pytest

from nubo.drivers.storage import qemu_img
from disk_checks import checked, one, server, uniq  # noqa: F401 (fixtures)
from waits import ACTIVE, POWEROFF, RUNNING, wait_state
from xsd import assert_valid, raw_call

pytestmark = pytest.mark.skipif(not qemu_img.available(), reason="needs qemu-img")



@pytest.fixture
def vm(server, one):
    """A POWEROFF VM on a simulated host: disk 0 from a qcow2 image, 1 from a raw one, 2 a
    volatile raw disk; and the directory of its disks."""
    disks = []
    for fmt in ("qcow2", "raw"):
        path = server.images / uniq("img")
        qemu_img.create(path, 16, fmt)
        img = one.image.allocate(f'NAME = "{uniq("img")}"\nTYPE = "DATABLOCK"\nSIZE = 16\n'
                                 f'FORMAT = "{fmt}"\nSOURCE = "{path}"', 1)
        disks.append(f"DISK = [ IMAGE_ID = {img} ]")
    name = uniq("sim")
    host = one.host.allocate(name, "dummy", "dummy", -1)
    vm_id = one.vm.allocate(f'NAME = "{uniq("vm")}"\nCPU = 0.1\nMEMORY = 64\n'
                            + "\n".join(disks) + '\nDISK = [ TYPE = "fs", SIZE = 8 ]', False)
    one.vm.deploy(vm_id, host)
    wait_state(one, vm_id, (ACTIVE, RUNNING), timeout=60)
    one.vm.action("poweroff", vm_id)
    wait_state(one, vm_id, (POWEROFF, 0), timeout=60)
    system = f"{server.data_dir}/datastores/0/{vm_id}"
    return vm_id, server.data_dir / "dummy-hosts" / name / system.lstrip("/")


def snapshots(one, vm_id: int, disk_id: int) -> dict[int, tuple[str, bool]]:
    found = {}
    for node in (one.vm.info(vm_id).SNAPSHOTS or []):
        if int(node.DISK_ID) == disk_id:
            for snap in node.SNAPSHOT:
                found[int(snap.ID)] = (snap.NAME or "", snap.ACTIVE == "YES")
    return found


def valid(server, vm_id: int) -> None:
    ok, body, *_ = raw_call(server.endpoint, "one.vm.info", server.session, vm_id)
    assert ok, body
    assert_valid(body, "vm.xsd")


def settled(one, vm_id: int) -> None:
    wait_state(one, vm_id, (POWEROFF, 0), timeout=60)


def test_qcow2_disk_snapshots_are_made_reverted_renamed_and_deleted(server, one, vm):
    vm_id, where = vm
    disk = where / "disk.0"
    assert one.vm.disksnapshotcreate(vm_id, 0, "first") == 0
    settled(one, vm_id)
    assert one.vm.disksnapshotcreate(vm_id, 0, "second") == 1
    settled(one, vm_id)
    assert checked(disk).snapshots == ("0", "1")
    assert snapshots(one, vm_id, 0) == {0: ("first", False), 1: ("second", True)}
    valid(server, vm_id)

    assert one.vm.disksnapshotrevert(vm_id, 0, 0) == vm_id
    settled(one, vm_id)
    assert snapshots(one, vm_id, 0) == {0: ("first", True), 1: ("second", False)}
    with pytest.raises(pyone.OneActionException, match="active one"):
        one.vm.disksnapshotdelete(vm_id, 0, 0)
    assert one.vm.disksnapshotdelete(vm_id, 0, 1) == vm_id
    settled(one, vm_id)
    assert checked(disk).snapshots == ("0",)
    assert one.vm.disksnapshotrename(vm_id, 0, 0, "renamed") == vm_id
    assert snapshots(one, vm_id, 0) == {0: ("renamed", True)}
    assert "DISK_SNAPSHOT_ACTIVE" not in one.vm.info(vm_id).TEMPLATE["DISK"][0]
    valid(server, vm_id)

    with pytest.raises(pyone.OneActionException, match="does not exist"):
        one.vm.disksnapshotrevert(vm_id, 0, 7)
    with pytest.raises(pyone.OneActionException, match="volatile"):
        one.vm.disksnapshotcreate(vm_id, 2, "no")
    with pytest.raises(pyone.OneActionException, match="with snapshots"):
        one.vm.diskresize(vm_id, 0, "64")
    one.vm.action("resume", vm_id)
    wait_state(one, vm_id, (ACTIVE, RUNNING), timeout=60)
    with pytest.raises(pyone.OneActionException, match="wrong state RUNNING"):
        one.vm.disksnapshotrevert(vm_id, 0, 0)


def test_raw_disk_snapshots_are_copies(server, one, vm):
    vm_id, where = vm
    assert one.vm.disksnapshotcreate(vm_id, 1, "") == 0
    settled(one, vm_id)
    assert checked(where / "disk.1.snap" / "0").virtual_mb == 16
    assert one.vm.disksnapshotcreate(vm_id, 1, "b") == 1
    settled(one, vm_id)
    one.vm.disksnapshotrevert(vm_id, 1, 0)
    settled(one, vm_id)
    one.vm.disksnapshotdelete(vm_id, 1, 1)
    settled(one, vm_id)
    assert sorted(p.name for p in (where / "disk.1.snap").iterdir()) == ["0"]
    assert checked(where / "disk.1").format == "raw"
    valid(server, vm_id)


def test_diskresize_grows_the_file_and_the_disk_size(server, one, vm):
    vm_id, where = vm
    with pytest.raises(pyone.OneActionException, match="bigger"):
        one.vm.diskresize(vm_id, 2, "4")
    with pytest.raises(pyone.OneException, match="not a number"):
        one.vm.diskresize(vm_id, 2, "lots")
    assert one.vm.diskresize(vm_id, 2, "32") == vm_id
    settled(one, vm_id)
    disk = one.vm.info(vm_id).TEMPLATE["DISK"][2]
    assert disk["SIZE"] == "32" and "RESIZE" not in disk and "SIZE_PREV" not in disk
    assert checked(where / "disk.2").virtual_mb == 32
    # running: through the hypervisor (the dummy's RESIZEDISK)
    one.vm.action("resume", vm_id)
    wait_state(one, vm_id, (ACTIVE, RUNNING), timeout=60)
    one.vm.diskresize(vm_id, 1, "20")
    wait_state(one, vm_id, (ACTIVE, RUNNING), timeout=60)
    assert one.vm.info(vm_id).TEMPLATE["DISK"][1]["SIZE"] == "20"
    valid(server, vm_id)
