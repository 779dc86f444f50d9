"""one.vmgroup.* and one.vmgrouppool.info through pyone, against a real ``nubo serve``:
roles, affinity rules, VMs joining at allocate and leaving when DONE."""
from __future__ import annotations

import uuid

import pyone
import pytest

from waits import DONE, wait_state
from xsd import assert_valid, raw_call


def uniq(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def raw(nubo, method: str, *args):
    return raw_call(nubo.endpoint, method, nubo.session, *args)


GROUP = '''
ROLE = [ NAME = "web", POLICY = "anti_affined", HOST_ANTI_AFFINED = "3, 1,1" ]
ROLE = [ NAME = "db", POLICY = "AFFINED", HOST_AFFINED = "0" ]
ROLE = [ NAME = "cache" ]
ROLE = [ NAME = "batch" ]
AFFINED = "db, cache"
ANTI_AFFINED = "web, batch"
DESCRIPTION = "three tiers"
'''


def new_group(one, body: str = GROUP, name: str | None = None) -> int:
    return one.vmgroup.allocate(f'NAME = "{name or uniq("vmg")}"\n{body}')


def new_vm(one, extra: str = "") -> int:
    return one.vm.allocate(f'NAME = "{uniq("vm")}"\nCPU = 0.1\nMEMORY = 16\n{extra}', False)


@pytest.fixture
def user(one, client_for):
    name = uniq("vmg-user")
    uid = one.user.allocate(name, "pw", "", [])
    return uid, client_for(f"{name}:pw")


def roles(one, gid: int) -> dict[str, object]:
    return {r.NAME: r for r in one.vmgroup.info(gid).ROLES.ROLE}


def test_allocate_info_and_pool_are_schema_valid(one, nubo):
    gid = new_group(one)
    group = one.vmgroup.info(gid)
    assert group.ID == gid and group.UID == 0
    by_name = roles(one, gid)
    assert [r.ID for r in group.ROLES.ROLE] == [0, 1, 2, 3]
    assert by_name["web"].POLICY == "ANTI_AFFINED" and by_name["web"].HOST_ANTI_AFFINED == "1,3"
    assert by_name["db"].HOST_AFFINED == "0" and by_name["cache"].POLICY is None
    body = raw(nubo, "one.vmgroup.info", gid)[1]
    assert "<AFFINED><![CDATA[db, cache]]></AFFINED>" in body or "<AFFINED>db, cache" in body
    assert "<ROLE><NAME>" not in body.split("<TEMPLATE>")[1]  # roles left the template
    assert_valid(body, "vm_group.xsd")
    assert_valid(raw(nubo, "one.vmgrouppool.info", -2, -1, -1)[1], "vm_group_pool.xsd")
    assert gid in [g.ID for g in one.vmgrouppool.info(-2, -1, -1).VM_GROUP]


@pytest.mark.parametrize("body, message", [
    ("", "at least one ROLE"),
    ('ROLE = [ POLICY = "AFFINED" ]', "Missing NAME in VM group role"),
    ('ROLE = [ NAME = "a", POLICY = "CLOSE" ]', "Invalid POLICY 'CLOSE' for role a"),
    ('ROLE = [ NAME = "a", COLOR = "red" ]', "Unknown attribute COLOR in role a"),
    ('ROLE = [ NAME = "a" ]\nROLE = [ NAME = "a" ]', "Role a already exists"),
    ('ROLE = [ NAME = "a", HOST_AFFINED = "1,x" ]', "HOST_AFFINED of role a must be a list"),
    ('ROLE = [ NAME = "a", HOST_AFFINED = "1", HOST_ANTI_AFFINED = "2,1" ]',
     "host 1 in both"),
    ('ROLE = [ NAME = "a" ]\nAFFINED = "a, b"', r"Some roles used in AFFINED attribute \(a, b\)"),
    ('ROLE = [ NAME = "a" ]\nROLE = [ NAME = "b" ]\nAFFINED = "a,b"\nAFFINED = "b, a"',
     "Duplicated AFFINED rule"),
    ('ROLE = [ NAME = "a", POLICY = "ANTI_AFFINED" ]\nROLE = [ NAME = "b" ]\nAFFINED = "a,b"',
     "Role a is in an AFFINED rule but the role policy is ANTI_AFFINED"),
    ('ROLE = [ NAME = "a" ]\nROLE = [ NAME = "b" ]\nROLE = [ NAME = "c" ]\nAFFINED = "a,b"\n'
     'ANTI_AFFINED = "b,c"', "Roles defined in AFFINED and ANTI_AFFINED rules: b"),
])
def test_allocate_refuses_bad_groups_and_creates_nothing(one, body, message):
    before = len(one.vmgrouppool.info(-2, -1, -1).VM_GROUP)
    with pytest.raises(pyone.OneInternalException, match=message):
        new_group(one, body)
    assert len(one.vmgrouppool.info(-2, -1, -1).VM_GROUP) == before


def test_names_unique_per_owner(one):
    name = uniq("vmg")
    gid = new_group(one, name=name)
    with pytest.raises(pyone.OneInternalException, match=f"NAME is already taken by VMGroup {gid}"):
        new_group(one, name=name)
    with pytest.raises(pyone.OneInternalException, match="No NAME"):
        one.vmgroup.allocate('ROLE = [ NAME = "a" ]')


def test_vms_join_by_id_or_name_and_leave_when_done(one, nubo):
    name = uniq("vmg")
    gid = new_group(one, name=name)
    a = new_vm(one, f'VMGROUP = [ VMGROUP_ID = "{gid}", ROLE = "web" ]')
    b = new_vm(one, f'VMGROUP = [ VMGROUP_NAME = "{name}", ROLE = "web" ]')
    c = new_vm(one, f'VMGROUP = [ VMGROUP_NAME = "{name}", VMGROUP_UNAME = "oneadmin", '
                    'ROLE = "db" ]')
    by_name = roles(one, gid)
    assert by_name["web"].VMS == f"{a},{b}" and by_name["db"].VMS == str(c)
    assert by_name["cache"].VMS is None
    vm_body = raw(nubo, "one.vm.info", b)[1]
    assert_valid(vm_body, "vm.xsd")
    assert one.vm.info(b).TEMPLATE["VMGROUP"]["VMGROUP_ID"] == str(gid)
    assert_valid(raw(nubo, "one.vmgroup.info", gid)[1], "vm_group.xsd")

    with pytest.raises(pyone.OneActionException, match=r"it has 3 VM\(s\)"):
        one.vmgroup.delete(gid)
    with pytest.raises(pyone.OneInternalException, match="VM Group has 3 VMs"):
        one.vmgroup.update(gid, 'DESCRIPTION = "x"', 1)
    for vm in (a, b, c):
        one.vm.action("terminate", vm)
        wait_state(one, vm, (DONE, 0))
    assert all(r.VMS is None for r in one.vmgroup.info(gid).ROLES.ROLE)
    one.vmgroup.delete(gid)
    with pytest.raises(pyone.OneNoExistsException):
        one.vmgroup.info(gid)


@pytest.mark.parametrize("vmgroup, message", [
    ('VMGROUP = [ VMGROUP_ID = "{gid}" ]', "Missing role name in VM Group definition"),
    ('VMGROUP = [ VMGROUP_ID = "999999", ROLE = "web" ]', "Cannot find VM Group"),
    ('VMGROUP = [ VMGROUP_NAME = "no-such-group", ROLE = "web" ]', "Cannot find VM Group"),
    ('VMGROUP = [ VMGROUP_ID = "{gid}", ROLE = "mail" ]', "Role does not exist in VM Group"),
    ('VMGROUP = [ VMGROUP_ID = "x1", ROLE = "web" ]', "Wrong VMGROUP attribute"),
])
def test_bad_vmgroup_refuses_the_vm(one, vmgroup, message):
    gid = new_group(one)
    before = len(one.vmpool.info(-2, -1, -1, -1).VM)
    with pytest.raises(pyone.OneInternalException, match=message):
        new_vm(one, vmgroup.format(gid=gid))
    assert len(one.vmpool.info(-2, -1, -1, -1).VM) == before
    assert all(r.VMS is None for r in one.vmgroup.info(gid).ROLES.ROLE)


def test_instantiate_joins_too(one):
    gid = new_group(one)
    tid = one.template.allocate(f'NAME = "{uniq("t")}"\nCPU = 0.1\nMEMORY = 16\n'
                                f'VMGROUP = [ VMGROUP_ID = "{gid}", ROLE = "cache" ]')
    vm = one.template.instantiate(tid, "", False, "", False)
    assert roles(one, gid)["cache"].VMS == str(vm)


def test_joining_needs_use_on_the_group(one, user):
    uid, client = user
    gid = new_group(one)
    with pytest.raises(pyone.OneAuthorizationException, match=f"USE VMGROUP \\[{gid}\\]"):
        new_vm(client, f'VMGROUP = [ VMGROUP_ID = "{gid}", ROLE = "web" ]')
    one.vmgroup.chmod(gid, -1, -1, -1, -1, -1, -1, 1, -1, -1)  # other: use
    vm = new_vm(client, f'VMGROUP = [ VMGROUP_ID = "{gid}", ROLE = "web" ]')
    assert roles(one, gid)["web"].VMS == str(vm)
    with pytest.raises(pyone.OneAuthorizationException, match="MANAGE VMGROUP"):
        client.vmgroup.roleadd(gid, 'ROLE = [ NAME = "extra" ]')
    own = new_group(client)
    assert one.vmgroup.info(own).UID == uid
    assert [g.ID for g in client.vmgrouppool.info(-3, -1, -1).VM_GROUP] == [own]


def test_roles_add_delete_update(one, nubo):
    gid = new_group(one, 'ROLE = [ NAME = "a" ]\nROLE = [ NAME = "b" ]\nAFFINED = "a, b"')
    one.vmgroup.roleadd(gid, 'ROLE = [ NAME = "c", POLICY = "ANTI_AFFINED" ]')
    assert roles(one, gid)["c"].ID == 2
    with pytest.raises(pyone.OneActionException, match="Role c already exists"):
        one.vmgroup.roleadd(gid, 'ROLE = [ NAME = "c" ]')
    with pytest.raises(pyone.OneActionException, match="No ROLE attribute"):
        one.vmgroup.roleadd(gid, 'NAME = "c"')
    one.vmgroup.roleupdate(gid, 2, 'ROLE = [ NAME = "cc", HOST_AFFINED = "4,2", VMS = "7" ]')
    cc = roles(one, gid)["cc"]
    assert (cc.ID, cc.POLICY, cc.HOST_AFFINED, cc.VMS) == (2, "ANTI_AFFINED", "2,4", None)
    with pytest.raises(pyone.OneActionException, match="role with name a already exists"):
        one.vmgroup.roleupdate(gid, 2, 'ROLE = [ NAME = "a" ]')
    with pytest.raises(pyone.OneActionException, match="an AFFINED rule but the role policy"):
        one.vmgroup.roleupdate(gid, 0, 'ROLE = [ POLICY = "ANTI_AFFINED" ]')
    with pytest.raises(pyone.OneActionException, match="Some roles used in AFFINED"):
        one.vmgroup.roledelete(gid, 0)  # the rule "a, b" still names it
    one.vmgroup.roledelete(gid, 2)
    with pytest.raises(pyone.OneActionException, match="the role doesn't exist"):
        one.vmgroup.roledelete(gid, 2)
    vm = new_vm(one, f'VMGROUP = [ VMGROUP_ID = "{gid}", ROLE = "b" ]')
    with pytest.raises(pyone.OneActionException, match="the role has assigned VMs"):
        one.vmgroup.roledelete(gid, 1)
    with pytest.raises(pyone.OneActionException, match="has VMs, unable to update"):
        one.vmgroup.roleupdate(gid, 1, 'ROLE = [ POLICY = "AFFINED" ]')
    one.vm.action("terminate", vm)
    wait_state(one, vm, (DONE, 0))
    one.vmgroup.roleadd(gid, 'ROLE = [ NAME = "d" ]')
    assert roles(one, gid)["d"].ID == 2  # one above the highest left
    assert_valid(raw(nubo, "one.vmgroup.info", gid)[1], "vm_group.xsd")


def test_last_role_stays(one):
    gid = new_group(one, 'ROLE = [ NAME = "only" ]')
    with pytest.raises(pyone.OneActionException, match="at least one role"):
        one.vmgroup.roledelete(gid, 0)


def test_update_keeps_roles_and_checks_rules(one):
    gid = new_group(one, 'ROLE = [ NAME = "a" ]\nROLE = [ NAME = "b" ]')
    one.vmgroup.update(gid, 'ANTI_AFFINED = "a, b"\nROLE = [ NAME = "sneaky" ]\nX = "1"', 0)
    group = one.vmgroup.info(gid)
    assert group.TEMPLATE["ANTI_AFFINED"] == "a, b" and group.TEMPLATE["X"] == "1"
    assert "ROLE" not in group.TEMPLATE and sorted(roles(one, gid)) == ["a", "b"]
    with pytest.raises(pyone.OneInternalException, match="Some roles used in AFFINED"):
        one.vmgroup.update(gid, 'AFFINED = "a, z"', 1)
    assert "AFFINED" not in one.vmgroup.info(gid).TEMPLATE


def test_rename_chown_chmod_lock(one, user):
    uid, _client = user
    gid = new_group(one)
    name = uniq("renamed")
    one.vmgroup.rename(gid, name)
    assert one.vmgroup.info(gid).NAME == name
    one.vmgroup.chmod(gid, 1, 1, 0, 1, 0, 0, 0, 0, 0)
    assert one.vmgroup.info(gid).PERMISSIONS.GROUP_U == 1
    one.vmgroup.chown(gid, uid, -1)
    assert one.vmgroup.info(gid).UID == uid
    one.vmgroup.lock(gid, 4, False)
    with pytest.raises(pyone.OneException, match="locked"):
        one.vmgroup.delete(gid)
    with pytest.raises(pyone.OneException, match="locked"):
        one.vmgroup.roleadd(gid, 'ROLE = [ NAME = "x" ]')
    one.vmgroup.unlock(gid)
    one.vmgroup.delete(gid)
