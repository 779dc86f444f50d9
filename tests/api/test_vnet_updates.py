"""one.vn.update reaching the VMs using the network: their NICs rewritten, the network's
OUTDATED/UPDATING/UPDATED_VMS kept as oned 6.10 keeps them (dummy drivers)."""
from __future__ import annotations

import uuid

from waits import ACTIVE, RUNNING, wait_for, wait_state
from xsd import assert_valid, raw_call


def uniq(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_a_network_change_reaches_its_vms(one, nubo):
    host = one.host.allocate(uniq("dummy-vnup"), "dummy", "dummy", -1)
    vid = one.vn.allocate(f'NAME = "{uniq("upd")}"\nVN_MAD = "bridge"\nMTU = "1500"\n'
                          'AR = [ TYPE = "IP4", IP = "198.18.9.1", SIZE = "8" ]', -1)
    nic = f"NIC = [ NETWORK_ID = {vid} ]"
    running = one.vm.allocate(f"NAME = {uniq('r')}\nCPU = 0.1\nMEMORY = 16\n{nic}", False)
    one.vm.deploy(running, host)
    wait_state(one, running, (ACTIVE, RUNNING))
    pending = one.vm.allocate(f"NAME = {uniq('p')}\nCPU = 0.1\nMEMORY = 16\n{nic}", True)
    other = one.vn.allocate(f'NAME = "{uniq("other")}"\nVN_MAD = "bridge"\n'
                            'AR = [ TYPE = "ETHER", SIZE = "2" ]', -1)
    bystander = one.vm.allocate(f"NAME = {uniq('b')}\nCPU = 0.1\nMEMORY = 16\n"
                                f"NIC = [ NETWORK_ID = {other} ]", True)

    one.vn.update(vid, 'MTU = "9000"\nBRIDGE = "br-upd"', 1)

    def settled():
        vn = one.vn.info(vid)
        return not vn.UPDATING_VMS.ID and set(vn.UPDATED_VMS.ID) == {running, pending}
    wait_for("the running VM updated", settled, timeout=30)
    vn = one.vn.info(vid)
    assert not vn.OUTDATED_VMS.ID and not vn.ERROR_VMS.ID
    assert_valid(raw_call(nubo.endpoint, "one.vn.info", nubo.session, vid)[1], "vnet.xsd")
    for vm in (running, pending):
        got = one.vm.info(vm).TEMPLATE["NIC"]
        assert (got["MTU"], got["BRIDGE"]) == ("9000", "br-upd")
    assert one.vm.info(bystander).TEMPLATE["NIC"]["BRIDGE"] == f"onebr{other}"
    # an update that changes no NIC touches no VM
    one.vn.update(vid, 'DESCRIPTION = "just words"', 1)
    assert set(one.vn.info(vid).UPDATED_VMS.ID) == {running, pending}
    for vm in (running, pending, bystander):
        one.vm.recover(vm, 3)
