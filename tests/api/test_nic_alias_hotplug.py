"""one.vm.attachnic with a NIC_ALIAS and one.vm.detachnic of an alias or of its parent,
as oned 6/7 (VirtualMachineNics::set_up_attach_nic, delete_attach_alias): the alias's
own lease, NIC_ID, ALIAS_ID, PARENT_ID and its parent's ALIAS_IDS; a parent takes its
aliases along; every lease freed once."""
from __future__ import annotations

import uuid

import pyone
import pytest

from waits import ACTIVE, RUNNING, wait_state
from xsd import assert_valid, raw_call


def uniq(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def vnet(one) -> int:
    return one.vn.allocate(f'NAME = "{uniq("alias-net")}"\nVN_MAD = "dummy"\nBRIDGE = "nbal"\n'
                           'AR = [ TYPE = "IP4", IP = "198.18.120.1", SIZE = "8" ]', -1)


@pytest.fixture
def vm(one, vnet) -> int:
    host = one.host.allocate(uniq("alias-host"), "dummy", "dummy", -1)
    vm_id = one.vm.allocate(
        f'NAME = "{uniq("alias-vm")}"\nCPU = 0.1\nMEMORY = 64\n'
        f'NIC = [ NAME = "net1", NETWORK_ID = "{vnet}" ]\n'
        f'NIC_ALIAS = [ PARENT = "net1", NETWORK_ID = "{vnet}" ]\n'
        f'NIC_ALIAS = [ PARENT = "net1", NETWORK_ID = "{vnet}" ]\n'
        'CONTEXT = [ NETWORK = "YES" ]', False)
    one.vm.deploy(vm_id, host)
    wait_state(one, vm_id, (ACTIVE, RUNNING))
    return vm_id


def vectors(one, vm_id: int, name: str) -> list[dict]:
    found = one.vm.info(vm_id).TEMPLATE.get(name, [])
    return [dict(v) for v in (found if isinstance(found, list) else [found])]


def leases(one, vnet: int) -> int:
    return int(one.vn.info(vnet).USED_LEASES)


def context_keys(one, vm_id: int, prefix: str) -> list[str]:
    return [k for k in dict(one.vm.info(vm_id).TEMPLATE["CONTEXT"]) if k.startswith(prefix)]


def test_an_alias_attached_gets_a_lease_and_its_links(one, nubo, vm, vnet):
    assert leases(one, vnet) == 3
    one.vm.detachnic(vm, 1)  # alias 0
    wait_state(one, vm, (ACTIVE, RUNNING))
    assert leases(one, vnet) == 2
    assert vectors(one, vm, "NIC")[0]["ALIAS_IDS"] == "2"
    assert not context_keys(one, vm, "ETH0_ALIAS0_")

    one.vm.attachnic(vm, f'NIC_ALIAS = [ PARENT = "net1", NETWORK_ID = "{vnet}" ]')
    wait_state(one, vm, (ACTIVE, RUNNING))
    assert leases(one, vnet) == 3
    aliases = {a["NIC_ID"]: a for a in vectors(one, vm, "NIC_ALIAS")}
    new = aliases["3"]
    assert (new["PARENT_ID"], new["ALIAS_ID"], new["NAME"]) == ("0", "2", "NIC0_ALIAS2")
    assert new["IP"].startswith("198.18.120.") and "ATTACH" not in new
    assert "BRIDGE_TYPE" not in new
    assert vectors(one, vm, "NIC")[0]["ALIAS_IDS"] == "2,3"
    ctx = dict(one.vm.info(vm).TEMPLATE["CONTEXT"])
    assert ctx["ETH0_ALIAS2_IP"] == new["IP"]
    assert_valid(raw_call(nubo.endpoint, "one.vm.info", nubo.session, vm)[1], "vm.xsd")
    ips = [a["IP"] for a in aliases.values()] + [vectors(one, vm, "NIC")[0]["IP"]]
    assert len(set(ips)) == 3


def test_detaching_the_parent_takes_its_aliases_and_their_leases(one, vm, vnet):
    one.vm.detachnic(vm, 0)
    wait_state(one, vm, (ACTIVE, RUNNING))
    assert vectors(one, vm, "NIC") == [] and vectors(one, vm, "NIC_ALIAS") == []
    assert leases(one, vnet) == 0
    assert not context_keys(one, vm, "ETH0_")
    # a NIC without a name gets NIC<n>, and an alias can name it
    one.vm.attachnic(vm, f'NIC = [ NETWORK_ID = "{vnet}" ]')
    wait_state(one, vm, (ACTIVE, RUNNING))
    nic = vectors(one, vm, "NIC")[0]
    one.vm.attachnic(vm, f'NIC_ALIAS = [ PARENT = "{nic["NAME"]}", NETWORK_ID = "{vnet}" ]')
    wait_state(one, vm, (ACTIVE, RUNNING))
    alias = vectors(one, vm, "NIC_ALIAS")[0]
    assert (alias["PARENT_ID"], alias["ALIAS_ID"]) == (nic["NIC_ID"], "0")
    assert leases(one, vnet) == 2
    one.vm.detachnic(vm, int(nic["NIC_ID"]))
    wait_state(one, vm, (ACTIVE, RUNNING))
    assert leases(one, vnet) == 0


def test_an_alias_of_a_missing_nic_is_refused_and_leaves_nothing(one, vm, vnet):
    with pytest.raises(pyone.OneException, match="NIC named nope not found for alias"):
        one.vm.attachnic(vm, f'NIC_ALIAS = [ PARENT = "nope", NETWORK_ID = "{vnet}" ]')
    with pytest.raises(pyone.OneException, match="PARENT"):
        one.vm.attachnic(vm, f'NIC_ALIAS = [ NETWORK_ID = "{vnet}" ]')
    assert leases(one, vnet) == 3
    assert int(one.vm.info(vm).LCM_STATE) == RUNNING


def test_a_failed_alias_attach_frees_its_lease(one, vm, vnet):
    one.vm.update(vm, 'DUMMY_FAIL = "ATTACHNIC"', 1)
    one.vm.attachnic(vm, f'NIC_ALIAS = [ PARENT = "net1", NETWORK_ID = "{vnet}" ]')
    wait_state(one, vm, (ACTIVE, RUNNING))
    assert leases(one, vnet) == 3 and len(vectors(one, vm, "NIC_ALIAS")) == 2
    assert vectors(one, vm, "NIC")[0]["ALIAS_IDS"] == "1,2"
