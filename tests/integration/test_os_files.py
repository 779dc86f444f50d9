"""A VM's kernel and initrd as images of the files datastore (OS/KERNEL_DS, INITRD_DS,
``$FILE[IMAGE_ID=n]``): checked at allocate, and copied into the VM's directory as
``kernel`` and ``initrd`` by the PROLOG, as oned's transfer manager does."""
from __future__ import annotations

from pathlib import Path

import pyone
import pytest

from disk_checks import one, server, uniq  # noqa: F401 (fixtures)
from images import wait_image
from waits import ACTIVE, DONE, RUNNING, wait_state



def file_image(server, one, kind: str, content: bytes) -> int:
    path = server.images / uniq(kind.lower())
    path.write_bytes(content)
    image_id = one.image.allocate(f'NAME = "{uniq(kind)}"\nTYPE = "{kind}"\n'
                                  f'SOURCE = "{path}"\nSIZE = 1\nFORMAT = "raw"', 2)
    wait_image(one, image_id)
    return image_id


def test_kernel_and_initrd_images_reach_the_vms_directory(server, one):
    kernel = file_image(server, one, "KERNEL", b"a kernel")
    initrd = file_image(server, one, "RAMDISK", b"an initrd")
    host_name = uniq("sim")
    host = one.host.allocate(host_name, "dummy", "dummy", -1)
    vm_id = one.vm.allocate(
        f'NAME = "{uniq("vm")}"\nCPU = 0.1\nMEMORY = 64\n'
        f'OS = [ KERNEL_DS = "$FILE[IMAGE_ID={kernel}]", INITRD_DS = "$FILE[IMAGE_ID={initrd}]",'
        ' KERNEL_CMD = "console=ttyS0" ]', False)
    os_ = one.vm.info(vm_id).TEMPLATE["OS"]
    assert os_["KERNEL_DS_DSID"] == "2" and os_["KERNEL_DS_TM"] == "ssh"
    assert os_["INITRD_DS_SOURCE"] == one.image.info(initrd).SOURCE
    one.vm.deploy(vm_id, host)
    wait_state(one, vm_id, (ACTIVE, RUNNING), timeout=60)
    where = (server.data_dir / "dummy-hosts" / host_name
             / f"{server.data_dir}/datastores/0/{vm_id}".lstrip("/"))
    assert (where / "kernel").read_bytes() == b"a kernel"
    assert (where / "initrd").read_bytes() == b"an initrd"
    one.vm.action("terminate", vm_id)
    wait_state(one, vm_id, (DONE, 0), timeout=60)
    assert not where.exists()


@pytest.mark.parametrize("os_vector, message", [
    ('KERNEL_DS = "$FILE[IMAGE_ID=999999]"', "OS/KERNEL_DS: image 999999 does not exist"),
    ('KERNEL_DS = "/boot/vmlinuz"', "OS/KERNEL_DS: unexpected '/boot/vmlinuz'"),
    ('INITRD_DS = "$FILE[IMAGE_ID={kernel}]"', "is of type KERNEL, not RAMDISK"),
])
def test_a_wrong_file_reference_is_refused_and_nothing_is_made(server, one, os_vector, message):
    kernel = file_image(server, one, "KERNEL", b"k")
    before = len(one.vmpool.info(-2, -1, -1, -1).VM)
    with pytest.raises(pyone.OneException, match=message):
        one.vm.allocate(f'NAME = "{uniq("bad")}"\nCPU = 0.1\nMEMORY = 64\n'
                        f'OS = [ {os_vector.format(kernel=kernel)} ]', False)
    assert len(one.vmpool.info(-2, -1, -1, -1).VM) == before
