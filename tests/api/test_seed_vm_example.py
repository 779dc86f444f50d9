"""The VM example of the OGF talk in the source documents, as written there (its ``0S``
typo read as the ``OS`` it means): it allocates, its disks are completed as oned
completes them, and it runs on a dummy host."""
from __future__ import annotations

import uuid

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


def test_the_ogf_vm_example_allocates_and_runs(one, nubo, shared_networks) -> None:
    host = one.host.allocate(f"ogf-{uuid.uuid4().hex[:8]}", "dummy", "dummy", -1)
    vm = one.vm.allocate(VM_EXAMPLE, False)
    info = one.vm.info(vm)
    assert info.NAME == "vm-example"
    os_ = info.TEMPLATE["OS"]
    assert (os_["KERNEL"], os_["INITRD"], os_["ROOT"]) == ("/vmlinuz", "/initrd.img", "sda")
    disk, swap = info.TEMPLATE["DISK"]
    assert {k: disk[k] for k in ("DISK_ID", "SOURCE", "TARGET", "TYPE", "CLONE", "SAVE",
                                 "READONLY", "DEV_PREFIX", "DRIVER")} == {
        "DISK_ID": "0", "SOURCE": "/images/etch/disk.img", "TARGET": "sda", "TYPE": "FILE",
        "CLONE": "YES", "SAVE": "NO", "READONLY": "NO", "DEV_PREFIX": "sd", "DRIVER": "raw"}
    assert {k: swap[k] for k in ("DISK_ID", "TYPE", "SIZE", "TARGET", "DRIVER")} == {
        "DISK_ID": "1", "TYPE": "SWAP", "SIZE": "1024", "TARGET": "sdb", "DRIVER": "raw"}
    nic = info.TEMPLATE["NIC"]
    assert (nic["NETWORK"], nic["NETWORK_ID"]) == ("public", str(shared_networks["public"]))
    assert nic["IP"].startswith("198.51.100.") and nic["MAC"]
    assert info.TEMPLATE["AUTOMATIC_REQUIREMENTS"] == \
        "(CLUSTER_ID = 0) & !(PUBLIC_CLOUD = YES) & !(PIN_POLICY = PINNED)"
    one.vm.deploy(vm, host)
    wait_state(one, vm, (ACTIVE, RUNNING))
    ok, body, *_ = raw_call(nubo.endpoint, "one.vm.info", nubo.session, vm)
    assert ok
    assert_valid(body, "vm.xsd")
    one.vm.action("terminate-hard", vm)
