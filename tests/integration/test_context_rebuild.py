"""The context CD-ROM rebuilt on its simulated host by the real transfer driver when a
running or powered-off VM's NICs or CONTEXT change (NIC hotplug, updateconf), before
the hypervisor hears of the change; read back with pycdlib."""
from __future__ import annotations

import io

import pycdlib
import pytest

from disk_checks import one, server, uniq  # noqa: F401 (fixtures)
from nubo.drivers.storage import qemu_img
from waits import ACTIVE, POWEROFF, RUNNING, wait_for, wait_state

pytestmark = pytest.mark.skipif(not qemu_img.available(), reason="needs qemu-img")

_nets = iter(range(40, 90))



def new_net(one) -> tuple[int, str]:
    n = next(_nets)
    vnet = one.vn.allocate(
        f'NAME = "{uniq("cr-net")}"\nVN_MAD = "dummy"\nBRIDGE = "nbcr"\n'
        f'NETWORK_MASK = "255.255.255.0"\nDNS = "198.18.{n}.53"\n'
        f'AR = [ TYPE = "IP4", IP = "198.18.{n}.10", SIZE = "8", GATEWAY = "198.18.{n}.1" ]',
        -1)
    return vnet, f"198.18.{n}"


def context_sh(server, host: str, vm_id: int) -> dict[str, str]:
    """The KEY='value' lines of context.sh on the VM's CD-ROM (disk.0: it has no disk)."""
    system = f"{server.data_dir}/datastores/0/{vm_id}/disk.0"
    path = server.data_dir / "dummy-hosts" / host / system.lstrip("/")
    iso = pycdlib.PyCdlib()
    iso.open(str(path))
    try:
        out = io.BytesIO()
        iso.get_file_from_iso_fp(out, rr_path="/context.sh")
    finally:
        iso.close()
    pairs = (line.split("=", 1) for line in out.getvalue().decode().splitlines()
             if "=" in line and not line.startswith("#"))
    return {k: v.strip("'") for k, v in pairs}


def running_vm(one, vnet: int, context: str = 'NETWORK = "YES"') -> tuple[int, str]:
    host = uniq("cr-host")
    host_id = one.host.allocate(host, "dummy", "dummy", -1)
    vm_id = one.vm.allocate(f'NAME = "{uniq("cr-vm")}"\nCPU = 0.1\nMEMORY = 64\n'
                            f'NIC = [ NETWORK_ID = "{vnet}" ]\nCONTEXT = [ {context} ]', False)
    one.vm.deploy(vm_id, host_id)
    wait_state(one, vm_id, (ACTIVE, RUNNING), timeout=60)
    return vm_id, host


def test_nic_hotplug_and_updateconf_rebuild_the_cd_rom_of_a_running_vm(server, one):
    vnet, net = new_net(one)
    other, other_net = new_net(one)
    vm_id, host = running_vm(one, vnet, 'NETWORK = "YES", GREETING = "hi"')
    sh = context_sh(server, host, vm_id)
    assert sh["ETH0_IP"] == f"{net}.10" and "ETH1_IP" not in sh

    one.vm.attachnic(vm_id, f'NIC = [ NETWORK_ID = "{other}" ]')
    wait_state(one, vm_id, (ACTIVE, RUNNING), timeout=60)
    sh = context_sh(server, host, vm_id)
    assert (sh["ETH1_IP"], sh["ETH1_GATEWAY"], sh["ETH1_DNS"]) == \
        (f"{other_net}.10", f"{other_net}.1", f"{other_net}.53")
    assert sh["ETH0_IP"] == f"{net}.10"
    body = dict(one.vm.info(vm_id).TEMPLATE["CONTEXT"])  # the body says the same
    assert body["ETH1_IP"] == sh["ETH1_IP"] and body["ETH1_MAC"] == sh["ETH1_MAC"]

    one.vm.detachnic(vm_id, 1)
    wait_state(one, vm_id, (ACTIVE, RUNNING), timeout=60)
    sh = context_sh(server, host, vm_id)
    assert not any(k.startswith("ETH1_") for k in sh) and sh["ETH0_IP"] == f"{net}.10"

    one.vm.updateconf(vm_id, 'CONTEXT = [ NETWORK = "YES", GREETING = "hello $UNAME" ]', 0)
    wait_state(one, vm_id, (ACTIVE, RUNNING), timeout=60)
    sh = context_sh(server, host, vm_id)
    assert sh["GREETING"] == "hello oneadmin" and sh["ETH0_IP"] == f"{net}.10"
    one.vm.action("terminate-hard", vm_id)


def test_a_powered_off_vm_gets_its_cd_rom_rebuilt_for_its_next_boot(server, one):
    vnet, net = new_net(one)
    other, other_net = new_net(one)
    vm_id, host = running_vm(one, vnet)
    one.vm.action("poweroff-hard", vm_id)
    wait_state(one, vm_id, (POWEROFF, 0), timeout=60)
    one.vm.attachnic(vm_id, f'NIC = [ NETWORK_ID = "{other}" ]')
    wait_state(one, vm_id, (POWEROFF, 0), timeout=60)
    assert context_sh(server, host, vm_id)["ETH1_IP"] == f"{other_net}.10"
    nic = [n for n in one.vm.info(vm_id).TEMPLATE["NIC"] if n["NIC_ID"] == "1"][0]
    assert "ATTACH" not in nic
    one.vm.updateconf(vm_id, 'CONTEXT = [ NETWORK = "YES", COLOR = "blue" ]', 1)
    wait_for("the CD-ROM rebuilt",
             lambda: context_sh(server, host, vm_id).get("COLOR") == "blue", timeout=30)
    one.vm.detachnic(vm_id, 1)
    wait_state(one, vm_id, (POWEROFF, 0), timeout=60)
    assert "ETH1_IP" not in context_sh(server, host, vm_id)
    assert int(one.vn.info(other).USED_LEASES) == 0
    one.vm.action("terminate-hard", vm_id)


def test_a_failed_rebuild_fails_the_attach_and_frees_its_lease(server, one):
    vnet, _ = new_net(one)
    other, _ = new_net(one)
    vm_id, host = running_vm(one, vnet)
    one.vm.update(vm_id, 'DUMMY_FAIL = "CONTEXT"', 1)
    one.vm.attachnic(vm_id, f'NIC = [ NETWORK_ID = "{other}" ]')
    wait_state(one, vm_id, (ACTIVE, RUNNING), timeout=60)
    nics = one.vm.info(vm_id).TEMPLATE["NIC"]
    assert isinstance(nics, dict) or len(nics) == 1
    assert int(one.vn.info(other).USED_LEASES) == 0
    assert "ETH1_IP" not in context_sh(server, host, vm_id)
    one.vm.action("terminate-hard", vm_id)

