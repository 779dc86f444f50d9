"""one.secgroup.* and one.secgrouppool.info through pyone, against a real ``nubo serve``:
group 0, rule checks as oned's, networks and NICs using groups, SECURITY_GROUP_RULEs
rendered into VMs, and updated rules pushed to running VMs."""
from __future__ import annotations

import uuid

import pyone
import pytest

from waits import ACTIVE, RUNNING, wait_for, wait_state
from xsd import assert_valid, raw_call

INTERNAL, ACTION = 0x2000, 0x800


def uniq(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def raw(nubo, method: str, *args):
    return raw_call(nubo.endpoint, method, nubo.session, *args)


def new_group(one, rules: str = 'RULE = [ PROTOCOL = "TCP", RULE_TYPE = "INBOUND" ]') -> int:
    return one.secgroup.allocate(f'NAME = "{uniq("sg")}"\n{rules}')


_nets = iter(range(1, 250))


def new_net(one, groups: str = "") -> int:
    n = next(_nets)
    extra = f'SECURITY_GROUPS = "{groups}"\n' if groups else ""
    return one.vn.allocate(f'NAME = "{uniq("net")}"\nVN_MAD = "bridge"\n{extra}'
                           f'AR = [ TYPE = "IP4", IP = "198.18.{n}.1", SIZE = "8" ]', -1)


def new_vm(one, nics: str) -> int:
    return one.vm.allocate(f'NAME = "{uniq("vm")}"\nCPU = 0.1\nMEMORY = 16\n{nics}', False)


def vm_rules(one, vm_id: int) -> list[dict]:
    rules = one.vm.info(vm_id).TEMPLATE.get("SECURITY_GROUP_RULE", [])
    return rules if isinstance(rules, list) else [rules]


def members(one, gid: int, which: str = "UPDATED_VMS") -> list[int]:
    return list(getattr(one.secgroup.info(gid), which).ID)


def test_group_zero_is_the_default_as_oned_makes_it(one, nubo):
    body = raw(nubo, "one.secgroup.info", 0)[1]
    assert_valid(body, "security_group.xsd")
    group = one.secgroup.info(0)
    assert (group.NAME, group.UID, group.PERMISSIONS.OTHER_U) == ("default", 0, 1)
    rules = group.TEMPLATE["RULE"]
    assert {(r["PROTOCOL"], r["RULE_TYPE"]) for r in rules} == {("ALL", "OUTBOUND"),
                                                                ("ALL", "INBOUND")}
    with pytest.raises(pyone.OneActionException):
        one.secgroup.delete(0)


def test_allocate_info_pool_clone_rename_chmod(one, nubo):
    gid = new_group(one, 'DESCRIPTION = "web"\nRULE = [ PROTOCOL = "TCP", RULE_TYPE = "INBOUND" ]'
                         '\nRULE = [ PROTOCOL = "ICMP", RULE_TYPE = "OUTBOUND" ]')
    assert gid >= 100  # ids below 100 are the system groups'
    assert_valid(raw(nubo, "one.secgroup.info", gid)[1], "security_group.xsd")
    assert_valid(raw(nubo, "one.secgrouppool.info", -2, -1, -1)[1], "security_group_pool.xsd")
    assert gid in [g.ID for g in one.secgrouppool.info(-2, -1, -1).SECURITY_GROUP]
    copy = one.secgroup.clone(gid, uniq("copy"))
    assert one.secgroup.info(copy).TEMPLATE["RULE"] == one.secgroup.info(gid).TEMPLATE["RULE"]
    name = uniq("renamed")
    one.secgroup.rename(copy, name)
    one.secgroup.chmod(copy, 1, 1, 0, 1, 0, 0, 1, 0, 0)
    info = one.secgroup.info(copy)
    assert info.NAME == name and info.PERMISSIONS.OTHER_U == 1
    with pytest.raises(pyone.OneInternalException, match="NAME is already taken"):
        one.secgroup.allocate(f'NAME = "{name}"')
    one.secgroup.delete(copy)


@pytest.mark.parametrize("rule, message", [
    ('PROTOCOL = "SCTP", RULE_TYPE = "INBOUND"', "Wrong PROTOCOL in rule"),
    ('PROTOCOL = "TCP", RULE_TYPE = "SIDEWAYS"', "Wrong RULE_TYPE in rule"),
    ('PROTOCOL = "ICMP", RULE_TYPE = "INBOUND", RANGE = "22"', "RANGE is supported only"),
    ('PROTOCOL = "TCP", RULE_TYPE = "INBOUND", RANGE = "22-80"', "Invalid RANGE"),
    ('PROTOCOL = "TCP", RULE_TYPE = "INBOUND", RANGE = "70000"', "RANGE out of bounds"),
    ('PROTOCOL = "TCP", RULE_TYPE = "INBOUND", ICMP_TYPE = "8"', "ICMP_TYPE is supported only"),
    ('PROTOCOL = "ICMP", RULE_TYPE = "INBOUND", ICMP_TYPE = "echo"', "Wrong ICMP_TYPE"),
    ('PROTOCOL = "ICMPV6", RULE_TYPE = "INBOUND", ICMPV6_TYPE = "x"', "Wrong ICMPV6_TYPE"),
    ('PROTOCOL = "TCP", RULE_TYPE = "INBOUND", IP = "198.51.100.1"', "Wrong or empty SIZE"),
    ('PROTOCOL = "TCP", RULE_TYPE = "INBOUND", IP = "198.51.100", SIZE = "2"',
     "Wrong format for IP"),
    ('PROTOCOL = "TCP", RULE_TYPE = "INBOUND", NETWORK_ID = "net"', "Wrong NETWORK_ID"),
])
def test_bad_rules_are_refused_and_nothing_changes(one, rule, message):
    before = {g.ID for g in one.secgrouppool.info(-2, -1, -1).SECURITY_GROUP}
    with pytest.raises(pyone.OneInternalException, match=message):
        new_group(one, f"RULE = [ {rule} ]")
    assert {g.ID for g in one.secgrouppool.info(-2, -1, -1).SECURITY_GROUP} == before
    gid = new_group(one)
    with pytest.raises(pyone.OneInternalException, match=message):
        one.secgroup.update(gid, f"RULE = [ {rule} ]", 0)
    assert one.secgroup.info(gid).TEMPLATE["RULE"]["PROTOCOL"] == "TCP"


def test_update_checks_and_drops_duplicate_rules(one):
    gid = new_group(one)
    rule = 'RULE = [ PROTOCOL = "UDP", RULE_TYPE = "OUTBOUND", RANGE = "53,1000:2000" ]'
    one.secgroup.update(gid, f"{rule}\n{rule}", 0)
    assert one.secgroup.info(gid).TEMPLATE["RULE"]["RANGE"] == "53,1000:2000"


def test_nics_get_their_networks_groups_and_the_rules(one, nubo):
    gid = new_group(one, 'RULE = [ PROTOCOL = "TCP", RULE_TYPE = "INBOUND", RANGE = "22" ]')
    peer = new_net(one)
    peer_gid = new_group(one, f'RULE = [ PROTOCOL = "ALL", RULE_TYPE = "INBOUND", '
                              f'NETWORK_ID = "{peer}" ]')
    net = new_net(one, str(gid))
    assert one.vn.info(net).TEMPLATE["SECURITY_GROUPS"] == f"0,{gid}"
    vm_id = new_vm(one, f'NIC = [ NETWORK_ID = "{net}", SECURITY_GROUPS = "{peer_gid}" ]')
    nic = one.vm.info(vm_id).TEMPLATE["NIC"]
    assert nic["SECURITY_GROUPS"] == f"0,{gid},{peer_gid}"
    rules = vm_rules(one, vm_id)
    assert [r["SECURITY_GROUP_ID"] for r in rules] == ["0", "0", str(gid), str(peer_gid)]
    expanded = rules[-1]
    assert (expanded["NETWORK_ID"], expanded["AR_ID"], expanded["SIZE"], expanded["TYPE"]) == (
        str(peer), "0", "8", "IP4")
    assert expanded["IP"].startswith("198.18.") and expanded["SECURITY_GROUP_NAME"]
    assert_valid(raw(nubo, "one.vm.info", vm_id)[1], "vm.xsd")
    assert vm_id in members(one, gid) and vm_id in members(one, 0)
    with pytest.raises(pyone.OneActionException, match="VM"):
        one.secgroup.delete(peer_gid)
    with pytest.raises(pyone.OneActionException, match="virtual network"):
        one.secgroup.delete(gid)
    one.vm.action("terminate-hard", vm_id)
    wait_for("the VM to leave its groups", lambda: vm_id not in members(one, peer_gid))
    one.secgroup.delete(peer_gid)


def test_update_reaches_a_running_vm(one):
    host = one.host.allocate(uniq("dummy-host"), "dummy", "dummy", -1)
    gid = new_group(one)
    net = new_net(one, str(gid))
    vm_id = new_vm(one, f'NIC = [ NETWORK_ID = "{net}" ]')
    idle = new_vm(one, f'NIC = [ NETWORK_ID = "{net}" ]')
    one.vm.deploy(vm_id, host)
    wait_state(one, vm_id, (ACTIVE, RUNNING))
    one.secgroup.update(gid, 'RULE = [ PROTOCOL = "UDP", RULE_TYPE = "INBOUND", RANGE = "53" ]', 0)
    assert idle in members(one, gid)  # not running: re-rendered at once
    wait_for("the running VM to be UPDATED", lambda: vm_id in members(one, gid))
    mine = [r for r in vm_rules(one, vm_id) if r["SECURITY_GROUP_ID"] == str(gid)]
    assert [(r["PROTOCOL"], r.get("RANGE")) for r in mine] == [("UDP", "53")]
    assert one.secgroup.commit(gid, False) == gid
    wait_for("the VM UPDATED again", lambda: vm_id in members(one, gid))
    assert members(one, gid, "ERROR_VMS") == []


def test_attach_and_detach_a_group_on_a_nic(one):
    host = one.host.allocate(uniq("dummy-host"), "dummy", "dummy", -1)
    net = new_net(one)
    extra = new_group(one, 'RULE = [ PROTOCOL = "TCP", RULE_TYPE = "INBOUND", RANGE = "443" ]')
    vm_id = new_vm(one, f'NIC = [ NETWORK_ID = "{net}" ]')
    one.vm.deploy(vm_id, host)
    wait_state(one, vm_id, (ACTIVE, RUNNING))
    assert one.vm.attachsg(vm_id, 0, extra) == vm_id
    assert one.vm.info(vm_id).TEMPLATE["NIC"]["SECURITY_GROUPS"] == f"0,{extra}"
    assert ("TCP", "443") in [(r["PROTOCOL"], r.get("RANGE")) for r in vm_rules(one, vm_id)]
    wait_for("the VM UPDATED in the new group", lambda: vm_id in members(one, extra))
    with pytest.raises(pyone.OneActionException, match="already attached"):
        one.vm.attachsg(vm_id, 0, extra)
    with pytest.raises(pyone.OneActionException, match="no NIC with NIC_ID 5"):
        one.vm.attachsg(vm_id, 5, extra)
    with pytest.raises(pyone.OneException):
        one.vm.attachsg(vm_id, 0, 99999)
    one.vm.detachsg(vm_id, 0, extra)
    assert one.vm.info(vm_id).TEMPLATE["NIC"]["SECURITY_GROUPS"] == "0"
    assert all(r["SECURITY_GROUP_ID"] == "0" for r in vm_rules(one, vm_id))
    assert vm_id not in one.secgroup.info(extra).UPDATED_VMS.ID
    with pytest.raises(pyone.OneActionException, match="not attached"):
        one.vm.detachsg(vm_id, 0, extra)
    one.secgroup.delete(extra)  # no VM uses it any more


def test_a_detached_nic_takes_its_groups_rules_away(one):
    host = one.host.allocate(uniq("dummy-host"), "dummy", "dummy", -1)
    gid = new_group(one)
    plain, guarded = new_net(one), new_net(one, str(gid))
    vm_id = new_vm(one, f'NIC = [ NETWORK_ID = "{plain}" ]\nNIC = [ NETWORK_ID = "{guarded}" ]')
    one.vm.deploy(vm_id, host)
    wait_state(one, vm_id, (ACTIVE, RUNNING))
    assert vm_id in members(one, gid)
    one.vm.detachnic(vm_id, 1)
    wait_for("the NIC detached", lambda: not isinstance(one.vm.info(vm_id).TEMPLATE["NIC"], list))
    assert {r["SECURITY_GROUP_ID"] for r in vm_rules(one, vm_id)} == {"0"}
    assert vm_id not in members(one, gid) and vm_id in members(one, 0)
