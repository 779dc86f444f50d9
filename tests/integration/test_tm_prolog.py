"""The real transfer driver under ``nubo serve`` (its default): a VM's disks are made on
its simulated host as real files at PROLOG, checked with qemu-img, and removed at
EPILOG; a copy that fails leaves the VM in PROLOG_FAILURE with the reason, and no file."""
from __future__ import annotations

from pathlib import Path

import pytest

from nubo.drivers.storage import qemu_img
from disk_checks import checked, one, server, uniq  # noqa: F401 (fixtures)
from waits import ACTIVE, DONE, PROLOG_FAILURE, RUNNING, wait_for, wait_state

pytestmark = pytest.mark.skipif(not qemu_img.available(), reason="needs qemu-img")



def image_file(server, fmt: str = "qcow2", size_mb: int = 32) -> Path:
    path = server.images / uniq("img")
    qemu_img.create(path, size_mb, fmt)
    return path


def image(one, source: Path, fmt: str = "qcow2") -> int:
    return one.image.allocate(f'NAME = "{uniq("img")}"\nTYPE = "DATABLOCK"\nSIZE = 32\n'
                              f'FORMAT = "{fmt}"\nSOURCE = "{source}"', 1)


def vm_dir(server, host: str, vm_id: int) -> Path:
    """The VM's system directory on its simulated host (DATA_DIR/dummy-hosts/HOST/...)."""
    system = f"{server.data_dir}/datastores/0/{vm_id}"
    return server.data_dir / "dummy-hosts" / host / system.lstrip("/")


def test_prolog_makes_real_disks_on_the_host_and_epilog_removes_the_directory(server, one):
    source = image_file(server)
    img = image(one, source)
    name = uniq("sim")
    host = one.host.allocate(name, "dummy", "dummy", -1)
    vm_id = one.vm.allocate(
        f'NAME = "{uniq("vm")}"\nCPU = 0.1\nMEMORY = 64\nDISK = [ IMAGE_ID = {img} ]\n'
        'DISK = [ TYPE = "swap", SIZE = 16 ]\nDISK = [ TYPE = "fs", SIZE = 24, '
        'FORMAT = "qcow2", FS = "ext4" ]', False)
    one.vm.deploy(vm_id, host)
    wait_state(one, vm_id, (ACTIVE, RUNNING), timeout=60)
    where = vm_dir(server, name, vm_id)
    disk0 = checked(where / "disk.0")
    assert (disk0.format, disk0.virtual_mb) == ("qcow2", 32)
    assert checked(where / "disk.1").virtual_mb == 16
    assert (checked(where / "disk.2").format, checked(where / "disk.2").virtual_mb) == \
        ("qcow2", 24)
    one.vm.action("terminate", vm_id)
    wait_state(one, vm_id, (DONE, 0), timeout=60)
    assert not where.exists()
    assert checked(source).virtual_mb == 32  # the image itself untouched


def test_a_copy_that_fails_fails_the_prolog_with_the_reason_and_leaves_no_file(server, one):
    missing = server.images / uniq("gone")
    img = image(one, missing)
    name = uniq("sim")
    host = one.host.allocate(name, "dummy", "dummy", -1)
    vm_id = one.vm.allocate(
        f'NAME = "{uniq("vm")}"\nCPU = 0.1\nMEMORY = 64\n'
        f'DISK = [ TYPE = "swap", SIZE = 8 ]\nDISK = [ IMAGE_ID = {img} ]', False)
    one.vm.deploy(vm_id, host)
    wait_state(one, vm_id, (ACTIVE, PROLOG_FAILURE), timeout=60)
    error = str(one.vm.info(vm_id).USER_TEMPLATE["ERROR"])
    assert "PROLOG failed: line" in error and f"image file {missing} does not exist" in error
    assert not (server.data_dir / "dummy-hosts" / name).exists() or \
        list((server.data_dir / "dummy-hosts" / name).rglob("disk.*")) == []
    assert not vm_dir(server, name, vm_id).exists()
    # the image appears: recover --retry runs the PROLOG again, and it goes through
    qemu_img.create(missing, 32, "qcow2")
    one.vm.recover(vm_id, 2)  # retry
    wait_state(one, vm_id, (ACTIVE, RUNNING), timeout=60)
    assert checked(vm_dir(server, name, vm_id) / "disk.1").virtual_mb == 32
    one.vm.action("terminate-hard", vm_id)
    wait_state(one, vm_id, (DONE, 0), timeout=60)
    wait_for("the VM's directory removed", lambda: not vm_dir(server, name, vm_id).exists())
