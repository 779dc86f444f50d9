"""The VM example of the OGF talk in the source documents, as written there (its ``0S``
typo read as the ``OS`` it means): it allocates, its disks are completed as oned
completes them, and it runs on a dummy host, whose PROLOG makes real files (the real
transfer driver): the disk copied from its SOURCE, which the test makes as a real file
(the talk's /images/etch/disk.img is a path on its authors' front-end), and the swap
disk made with mkswap."""
from __future__ import annotations

import uuid

from disk_checks import checked
from nubo.drivers.storage import qemu_img
from waits import ACTIVE, RUNNING, wait_state
from xsd import assert_valid, raw_call

VM_EXAMPLE = '''NAME = vm-example
CPU = 1
MEMORY = 512

# --- kernel & boot device ---
OS = [
  kernel = "/vmlinuz",
initrd = "/initrd.img",
root = "sda" ]
# --- 2 disks ---
DISK = [
  source = "/images/etch/disk.img",
target = "sda" ]
DISK = [
 type = swap,
 size = 1024,
  target = "sdb" ]
# --- 1 NIC ---
NIC = [ network="public" ]
'''


def test_the_ogf_vm_example_allocates_and_runs(one, nubo, shared_networks, tmp_path) -> None:
    source = tmp_path / "images" / "etch" / "disk.img"
    source.parent.mkdir(parents=True)
    qemu_img.create(source, 16)
    name = f"ogf-{uuid.uuid4().hex[:8]}"
    host = one.host.allocate(name, "dummy", "dummy", -1)
    vm = one.vm.allocate(VM_EXAMPLE.replace("/images/etch/disk.img", str(source)), False)
    info = one.vm.info(vm)
    assert info.NAME == "vm-example"
    os_ = info.TEMPLATE["OS"]
    assert (os_["KERNEL"], os_["INITRD"], os_["ROOT"]) == ("/vmlinuz", "/initrd.img", "sda")
    disk, swap = info.TEMPLATE["DISK"]
    assert {k: disk[k] for k in ("DISK_ID", "SOURCE", "TARGET", "TYPE", "CLONE", "SAVE",
                                 "READONLY", "DEV_PREFIX", "DRIVER")} == {
        "DISK_ID": "0", "SOURCE": str(source), "TARGET": "sda", "TYPE": "FILE",
        "CLONE": "YES", "SAVE": "NO", "READONLY": "NO", "DEV_PREFIX": "sd", "DRIVER": "raw"}
    assert {k: swap[k] for k in ("DISK_ID", "TYPE", "SIZE", "TARGET", "DRIVER")} == {
        "DISK_ID": "1", "TYPE": "SWAP", "SIZE": "1024", "TARGET": "sdb", "DRIVER": "raw"}
    nic = info.TEMPLATE["NIC"]
    assert (nic["NETWORK"], nic["NETWORK_ID"]) == ("public", str(shared_networks["public"]))
    assert nic["IP"].startswith("198.51.100.") and nic["MAC"]
    assert info.TEMPLATE["AUTOMATIC_REQUIREMENTS"] == \
        "(CLUSTER_ID = 0) & !(PUBLIC_CLOUD = YES) & !(PIN_POLICY = PINNED)"
    one.vm.deploy(vm, host)
    try:
        wait_state(one, vm, (ACTIVE, RUNNING))
    except AssertionError:
        raise AssertionError(one.vm.info(vm).USER_TEMPLATE.get("ERROR")) from None
    ok, body, *_ = raw_call(nubo.endpoint, "one.vm.info", nubo.session, vm)
    assert ok
    assert_valid(body, "vm.xsd")
    ds_id = int(one.vm.info(vm).HISTORY_RECORDS.HISTORY[-1].DS_ID)
    system = nubo.data_dir / "dummy-hosts" / name / str(
        nubo.data_dir / "datastores" / str(ds_id) / str(vm)).lstrip("/")
    assert checked(system / "disk.0").virtual_size == 16 * 1024 * 1024
    assert (system / "disk.1").stat().st_size == 1024 * 1024 * 1024  # the swap disk
    with open(system / "disk.1", "rb") as swap_disk:
        assert swap_disk.read(4096).endswith(b"SWAPSPACE2")  # mkswap's signature
    one.vm.action("terminate-hard", vm)
