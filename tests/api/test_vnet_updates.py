"""one.vn.update reaching the VMs using the network: their NICs rewritten, the network's
OUTDATED/UPDATING/UPDATED_VMS kept as oned 6.10 keeps them (dummy drivers)."""
from __future__ import annotations

import uuid

import pyone
import pytest

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


def test_recover_as_oned(one):
    vid = one.vn.allocate(f'NAME = "{uniq("rec")}"\nVN_MAD = "bridge"\n'
                          'AR = [ TYPE = "ETHER", SIZE = "2" ]', -1)
    assert one.vn.info(vid).STATE == 1  # READY
    for op, word in ((0, "failure"), (1, "success"), (2, "delete"), (3, "retry")):
        with pytest.raises(pyone.OneInternalException,
                           match=f"Could not perform 'recover {word}' on VN {vid}, wrong "
                                 "state READY."):
            one.vn.recover(vid, op)
    with pytest.raises(pyone.OneActionException, match="Wrong recovery operation code"):
        one.vn.recover(vid, 4)
    assert one.vn.info(vid).STATE == 1


def test_a_failed_vm_update_is_recovered(one):
    """The dummy driver refuses UPDATESG when the VM's template asks it to (DUMMY_FAIL):
    the network goes to UPDATE_FAILURE with the message; retry resends, success accepts."""
    host = one.host.allocate(uniq("dummy-vnfail"), "dummy", "dummy", -1)
    vid = one.vn.allocate(f'NAME = "{uniq("fail")}"\nVN_MAD = "bridge"\n'
                          'AR = [ TYPE = "IP4", IP = "198.18.10.1", SIZE = "4" ]', -1)
    vm = one.vm.allocate(f"NAME = {uniq('f')}\nCPU = 0.1\nMEMORY = 16\n"
                         f'NIC = [ NETWORK_ID = {vid} ]\nDUMMY_FAIL = "UPDATESG"', False)
    one.vm.deploy(vm, host)
    wait_state(one, vm, (ACTIVE, RUNNING))
    one.vn.update(vid, 'MTU = "1400"', 1)
    wait_for("the update failed", lambda: one.vn.info(vid).STATE == 6)
    vn = one.vn.info(vid)
    assert list(vn.ERROR_VMS.ID) == [vm] and "UPDATESG" in vn.TEMPLATE["ERROR"]
    one.vn.recover(vid, 3)  # retry: fails again
    wait_for("the retry failed", lambda: one.vn.info(vid).STATE == 6)
    one.vn.recover(vid, 1)  # success: accepted as updated
    vn = one.vn.info(vid)
    assert (vn.STATE, list(vn.UPDATED_VMS.ID), list(vn.ERROR_VMS.ID)) == (1, [vm], [])
    assert "ERROR" not in vn.TEMPLATE
    one.vm.recover(vm, 3)
