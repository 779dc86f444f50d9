"""What a VM takes at allocate (images, leases) and the transfer scripts of its disks,
via pyone on a real ``nubo serve`` whose transfer driver records its payloads
(tests/fixtures/drivers/tm_recorder.py) while the dummy runs the VMs."""
from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pyone
import pytest

from disk_checks import one, uniq  # noqa: F401 (one: a fixture over this module's server)
from server import NuboServer
from waits import ACTIVE, DONE, RUNNING, wait_for, wait_state

RECORDER = Path(__file__).resolve().parents[1] / "fixtures" / "drivers" / "tm_recorder.py"
IMAGE_READY, IMAGE_USED, IMAGE_USED_PERS = 1, 2, 8


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    base = tmp_path_factory.mktemp("transfer")
    scripts = base / "scripts"
    scripts.mkdir()
    extra = (f'transfer_driver = "recorder"\nfrontend_name = "fe"\n'
             f'[drivers.recorder]\ncommand = ["{sys.executable}", "{RECORDER}", "{scripts}"]\n')
    srv = NuboServer(base / "data", extra_config=extra).start()
    srv.scripts = scripts
    srv.system = f"{base / 'data'}/datastores/0"  # config.datastore_dir + the system DS
    yield srv
    assert srv.stop() == 0


def image(one, persistent: bool = False) -> int:
    return one.image.allocate(
        f'NAME = "{uniq("img")}"\nTYPE = "DATABLOCK"\nSIZE = 10\nFORMAT = "qcow2"\n'
        f'SOURCE = "/var/lib/one/datastores/1/{uniq("src")}"\n'
        f'PERSISTENT = "{"YES" if persistent else "NO"}"', 1)


def network(one, size: int = 4) -> int:
    return one.vn.allocate(f'NAME = "{uniq("net")}"\nVN_MAD = "dummy"\nBRIDGE = "br0"\n'
                           f'AR = [ TYPE = "IP4", IP = "198.51.100.10", SIZE = "{size}" ]', -1)


def leases(one, vnet: int) -> dict[str, int]:
    ar = one.vn.info(vnet).AR_POOL.AR[0]
    return {lease.IP: lease.VM for lease in (ar.LEASES.LEASE if ar.LEASES else [])}


def script(server, vm_id: int, n: int) -> tuple[str, list[str]]:
    path = server.scripts / f"{vm_id}-{n}.xml"
    wait_for(f"transfer {n} of VM {vm_id}", path.exists)
    doc = ET.fromstring(path.read_text())
    assert doc.find("VM/ID").text == str(vm_id)  # the VM travels with its script
    return doc.findtext("ACTION"), doc.findtext("SCRIPT").splitlines()


def vm_template(img: int, net: int, extra: str = "") -> str:
    return (f'NAME = "{uniq("tvm")}"\nCPU = 0.1\nMEMORY = 64\nDISK = [ IMAGE_ID = {img} ]\n'
            f'DISK = [ TYPE = "swap", SIZE = 512 ]\n'
            f'DISK = [ TYPE = "fs", SIZE = 1024, FORMAT = "raw" ]\n'
            f'NIC = [ NETWORK_ID = {net} ]\n{extra}')


def test_a_vm_takes_its_image_and_lease_and_its_disks_travel_as_scripts(server, one):
    img, net = image(one), network(one)
    host = one.host.allocate(uniq("tm-host"), "dummy", "dummy", -1)
    hostname = one.host.info(host).NAME
    vm_id = one.vm.allocate(vm_template(img, net), False)
    vm = one.vm.info(vm_id)
    disk0, swap, fs = vm.TEMPLATE["DISK"]
    source = one.image.info(img).SOURCE
    assert (disk0["DISK_ID"], disk0["SOURCE"], disk0["TM_MAD"], disk0["CLONE"]) == \
        ("0", source, "ssh", "YES")
    assert (swap["DISK_ID"], swap["TYPE"], fs["DISK_ID"], fs["TYPE"]) == ("1", "SWAP", "2", "FS")
    nic = vm.TEMPLATE["NIC"]
    assert nic["IP"] == "198.51.100.10" and nic["MAC"] and nic["NIC_ID"] == "0"
    assert leases(one, net) == {"198.51.100.10": vm_id}
    info = one.image.info(img)
    assert (info.STATE, info.RUNNING_VMS, list(info.VMS.ID)) == (IMAGE_USED, 1, [vm_id])

    one.vm.deploy(vm_id, host)
    wait_state(one, vm_id, (ACTIVE, RUNNING))
    here = f"{hostname}:{server.system}/{vm_id}"
    assert script(server, vm_id, 0) == ("PROLOG", [
        f"CLONE ssh fe:{source} {here}/disk.0 {vm_id} 1",
        f"MKSWAP ssh 512 {here}/disk.1 {vm_id} 0",
        f"MKIMAGE ssh 1024 raw {here}/disk.2 {vm_id} 0"])

    one.vm.action("terminate", vm_id)
    wait_state(one, vm_id, (DONE, 0))
    action, lines = script(server, vm_id, 1)
    assert action == "EPILOG" and lines[-1] == f"DELETE ssh {here} {vm_id} 0"
    assert f"DELETE ssh {here}/disk.0 {vm_id} 1" in lines
    assert leases(one, net) == {}
    info = one.image.info(img)
    assert (info.STATE, info.RUNNING_VMS) == (IMAGE_READY, 0)


def test_a_persistent_image_is_saved_back_and_serves_one_vm_at_a_time(server, one):
    img, net = image(one, persistent=True), network(one)
    host = one.host.allocate(uniq("tm-host"), "dummy", "dummy", -1)
    vm_id = one.vm.allocate(vm_template(img, net), False)
    assert one.image.info(img).STATE == IMAGE_USED_PERS
    before = [v.ID for v in one.vmpool.info(-2, -1, -1, -2).VM]
    with pytest.raises(pyone.OneActionException, match=f"Cannot acquire image {img}"):
        one.vm.allocate(vm_template(img, net), False)
    # the refusal changed nothing: no VM, no second lease, one user of the image
    assert [v.ID for v in one.vmpool.info(-2, -1, -1, -2).VM] == before
    assert list(leases(one, net).values()) == [vm_id]
    assert one.image.info(img).RUNNING_VMS == 1
    one.vm.deploy(vm_id, host)
    wait_state(one, vm_id, (ACTIVE, RUNNING))
    one.vm.action("terminate", vm_id)
    wait_state(one, vm_id, (DONE, 0))
    action, lines = script(server, vm_id, 1)
    assert any(line.startswith("MVDS ssh ") and f"/disk.0 {one.image.info(img).SOURCE}" in line
               for line in lines), lines
    assert one.image.info(img).STATE == IMAGE_READY


def test_a_nic_on_a_missing_or_full_network_refuses_the_vm(server, one):
    img, net = image(one), network(one, size=1)
    with pytest.raises(pyone.OneNoExistsException, match="virtual network"):
        one.vm.allocate(vm_template(img, 999999), False)
    first = one.vm.allocate(vm_template(img, net), False)
    with pytest.raises(pyone.OneException):
        one.vm.allocate(vm_template(img, net), False)  # no address left
    assert list(leases(one, net).values()) == [first]
    assert one.image.info(img).RUNNING_VMS == 1  # the refused VMs took nothing
