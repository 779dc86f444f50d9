"""one.template.* and one.templatepool.info, and VMs instantiated from templates, via pyone."""
from __future__ import annotations

import uuid
import xmlrpc.client

import pyone
import pytest
from images import ready_image, wait_gone, wait_image

from xsd import assert_valid, raw_call

BODY = """CPU = 1
VCPU = 2
MEMORY = 512
DISK = [ TYPE = "fs", SIZE = 1024 ]
NIC = [ NETWORK = "public", NETWORK_UNAME = "oneadmin" ]
CONTEXT = [ NETWORK = "YES", TOKEN = "NO" ]
GRAPHICS = [ TYPE = "VNC", LISTEN = "0.0.0.0" ]
LOGO = "images/logos/ubuntu.png"
DESCRIPTION = "Ubuntu & friends <22.04>"
"""


@pytest.fixture(autouse=True)
def _networks(shared_networks):
    """The templates' NICs name "public" and "private": they must exist."""


def uniq(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def tmpl(name: str, body: str = BODY) -> str:
    return f'NAME = "{name}"\n{body}'


def raw(nubo, method: str, *args):
    return raw_call(nubo.endpoint, method, nubo.session, *args)


def ids(pool) -> list[int]:
    return [t.ID for t in pool.VMTEMPLATE]


@pytest.fixture
def user(one, client_for):
    name = uniq("tu")
    uid = one.user.allocate(name, "pw", "", [])
    return uid, client_for(f"{name}:pw")


def test_allocate_and_info(one, nubo, user):
    uid, client = user
    name = uniq("ubuntu")
    tid = client.template.allocate(tmpl(name))
    body = raw(nubo, "one.template.info", tid)[1]
    assert_valid(body, "vmtemplate.xsd")
    t = client.template.info(tid, False, False)
    assert (t.ID, t.NAME, t.UID, t.UNAME, t.GID, t.GNAME) == (tid, name, uid, t.UNAME, 1, "users")
    assert t.REGTIME > 0 and t.LOCK is None
    p = t.PERMISSIONS
    assert (p.OWNER_U, p.OWNER_M, p.OWNER_A, p.GROUP_U, p.OTHER_U) == (1, 1, 0, 0, 0)
    assert t.TEMPLATE["MEMORY"] == "512" and t.TEMPLATE["DESCRIPTION"] == "Ubuntu & friends <22.04>"
    assert "NAME" not in t.TEMPLATE
    assert client.template.info(tid).ID == tid  # extended and decrypt are optional
    assert_valid(raw(nubo, "one.templatepool.info", -2, tid, tid)[1], "vmtemplate_pool.xsd")


def test_allocate_errors_change_nothing(one, user):
    uid, client = user
    name = uniq("dup")
    client.template.allocate(tmpl(name))
    before = ids(client.templatepool.info(-3, -1, -1))
    with pytest.raises(pyone.OneInternalException, match=r"NAME is already taken by TEMPLATE \d+"):
        client.template.allocate(tmpl(name))
    with pytest.raises(pyone.OneInternalException, match="Invalid NAME, it cannot be empty"):
        client.template.allocate(BODY)
    with pytest.raises(pyone.OneInternalException, match="Invalid NAME"):
        client.template.allocate(tmpl("a/b"))
    with pytest.raises(pyone.OneInternalException, match="syntax error"):
        client.template.allocate('NAME = "x"\nDISK = [')
    assert ids(client.templatepool.info(-3, -1, -1)) == before
    assert one.template.allocate(tmpl(name)) >= 0  # names are unique per owner only


def test_errors_and_types(one, nubo):
    reply = raw(nubo, "one.template.info", 987654)
    assert reply[:4] == [False, "[one.template.info] Error getting virtual machine template "
                         "[987654].", 0x400, 987654]
    with pytest.raises(xmlrpc.client.Fault):
        raw(nubo, "one.template.allocate", 1)
    with pytest.raises(xmlrpc.client.Fault):
        raw(nubo, "one.template.instantiate", "zero", "", False, "", False)
    for method, args in [("one.template.delete", (987654,)), ("one.template.clone", (987654, "c")),
                         ("one.template.instantiate", (987654, "", False, "", False)),
                         ("one.template.update", (987654, "A=1", 1)),
                         ("one.template.rename", (987654, "n")),
                         ("one.template.chown", (987654, -1, -1)),
                         ("one.template.chmod", (987654, *[-1] * 9, False)),
                         ("one.template.lock", (987654, 1, False))]:
        assert raw(nubo, method, *args)[2] == 0x400, method


def test_non_admin_refusals(one, user):
    uid, client = user
    tid = one.template.allocate(tmpl(uniq("admins")))
    with pytest.raises(pyone.OneAuthorizationException,
                       match=rf"User \[{uid}\] : Not authorized to perform USE TEMPLATE \[{tid}\]"):
        client.template.info(tid)
    with pytest.raises(pyone.OneAuthorizationException, match="USE TEMPLATE"):
        client.template.instantiate(tid, "", False, "", False)
    with pytest.raises(pyone.OneAuthorizationException, match="USE TEMPLATE"):
        client.template.clone(tid, uniq("c"), False)
    with pytest.raises(pyone.OneAuthorizationException, match="MANAGE TEMPLATE"):
        client.template.delete(tid, False)
    with pytest.raises(pyone.OneAuthorizationException, match="MANAGE TEMPLATE"):
        client.template.update(tid, "X = 1", 1)
    assert tid not in ids(client.templatepool.info(-2, -1, -1))
    one.template.chmod(tid, -1, -1, -1, -1, -1, -1, 1, -1, -1, False)  # other: use
    assert client.template.info(tid).ID == tid
    assert tid in ids(client.templatepool.info(-2, -1, -1))
    vid = client.template.instantiate(tid, "", False, "", False)
    assert client.vm.info(vid).UID == uid
    with pytest.raises(pyone.OneAuthorizationException, match="MANAGE TEMPLATE"):
        client.template.rename(tid, uniq("r"))


def test_pool_filters_and_pages(one, user):
    uid, client = user
    mine = [client.template.allocate(tmpl(uniq("p"))) for _ in range(5)]
    theirs = one.template.allocate(tmpl(uniq("q")))
    assert sorted(ids(client.templatepool.info(-3, -1, -1))) == mine
    assert sorted(ids(client.templatepool.info(-1, -1, -1))) == mine
    assert sorted(ids(client.templatepool.info(uid, -1, -1))) == mine
    assert theirs not in ids(client.templatepool.info(-2, -1, -1))
    assert theirs in ids(one.templatepool.info(-2, -1, -1))
    group = ids(client.templatepool.info(-4, -1, -1))
    assert set(mine) <= set(group) and theirs not in group
    assert sorted(ids(one.templatepool.info(uid, -1, -1))) == mine
    assert sorted(ids(client.templatepool.info(-3, mine[1], mine[3]))) == mine[1:4]
    assert sorted(ids(client.templatepool.info(-3, mine[3], -1))) == mine[3:]
    full = ids(client.templatepool.info(-3, -1, -1))
    pages = [ids(client.templatepool.info(-3, off, -2)) for off in (0, 2, 4)]
    assert pages == [full[0:2], full[2:4], full[4:]]
    with pytest.raises(pyone.OneApiException, match="Incorrect filter_flag"):
        client.templatepool.info(-7, -1, -1)


def test_update_rename_chown_chmod_lock(one, user):
    uid, client = user
    tid = client.template.allocate(tmpl(uniq("u")))
    client.template.update(tid, 'MEMORY = "1024"\nEXTRA = "1"', 1)
    t = client.template.info(tid)
    assert t.TEMPLATE["MEMORY"] == "1024" and t.TEMPLATE["EXTRA"] == "1"
    assert t.TEMPLATE["CPU"] == "1"
    client.template.update(tid, 'CPU = "2"\nMEMORY = "64"', 0)
    assert dict(client.template.info(tid).TEMPLATE) == {"CPU": "2", "MEMORY": "64"}
    new_name = uniq("renamed")
    client.template.rename(tid, new_name)
    assert client.template.info(tid).NAME == new_name
    other = client.template.allocate(tmpl(uniq("o")))
    with pytest.raises(pyone.OneActionException, match="cannot be renamed to .* because it "
                       "collides with virtual machine template"):
        client.template.rename(other, new_name)
    client.template.chmod(tid, -1, -1, -1, 1, -1, -1, -1, -1, -1, True)
    assert client.template.info(tid).PERMISSIONS.GROUP_U == 1
    with pytest.raises(pyone.OneAuthorizationException, match="ADMIN TEMPLATE"):
        client.template.chmod(tid, -1, -1, 1, -1, -1, -1, -1, -1, -1, False)
    client.template.lock(tid, 1, False)
    assert client.template.info(tid).LOCK.LOCKED == 1
    with pytest.raises(pyone.OneException, match="locked"):
        client.template.instantiate(tid, "", False, "", False)
    with pytest.raises(pyone.OneActionException):  # test=True on a locked object: ACTION
        client.template.lock(tid, 1, True)
    client.template.unlock(tid)
    one.template.chown(tid, 0, 0)
    t = one.template.info(tid)
    assert (t.UID, t.GID, t.UNAME, t.GNAME) == (0, 0, "oneadmin", "oneadmin")
    with pytest.raises(pyone.OneAuthorizationException):
        client.template.info(tid)


def test_clone_and_delete(one, user):
    uid, client = user
    name = uniq("src")
    tid = client.template.allocate(tmpl(name))
    copy_name = uniq("copy")
    cid = client.template.clone(tid, copy_name, False)
    a, b = client.template.info(tid), client.template.info(cid)
    assert b.NAME == copy_name and b.UID == uid and dict(a.TEMPLATE) == dict(b.TEMPLATE)
    with pytest.raises(pyone.OneInternalException, match="NAME is already taken"):
        client.template.clone(tid, copy_name, False)
    rid = client.template.clone(tid, uniq("rec"), True)  # no images: recursive is the same
    client.template.delete(cid, False)
    client.template.delete(rid, True)
    with pytest.raises(pyone.OneNoExistsException):
        client.template.info(cid)
    assert cid not in ids(client.templatepool.info(-3, -1, -1))
    assert client.template.info(tid).NAME == name


def test_recursive_clone_delete_and_persistent_instantiate_copy_the_images(one, user):
    iid = ready_image(one, f'NAME = "{uniq("img")}"\nTYPE = DATABLOCK\nSIZE = 2', 1)
    tid = one.template.allocate(tmpl(uniq("withimg"), "CPU = 1\nMEMORY = 64\n"
                                                      f"DISK = [ IMAGE_ID = {iid} ]"))
    name = uniq("c")
    cid = one.template.clone(tid, name, True)
    copy_disk = one.template.info(cid).TEMPLATE["DISK"]
    clone_id = int(copy_disk["IMAGE_ID"])
    assert clone_id != iid and "IMAGE" not in copy_disk
    clone = wait_image(one, clone_id)
    assert clone.NAME == f"{name}-disk-0" and clone.SOURCE != one.image.info(iid).SOURCE
    one.template.delete(cid, True)  # the clone goes with it
    wait_gone(one, clone_id)
    vid = one.template.instantiate(tid, uniq("pers"), False, "", True)
    vm = one.vm.info(vid)
    own = int(vm.TEMPLATE["DISK"]["IMAGE_ID"])
    assert own != iid and one.image.info(own).PERSISTENT == 1
    assert vm.TEMPLATE["CLONING_TEMPLATE_ID"] == str(tid)
    one.template.chmod(tid, -1, -1, -1, 1, -1, -1, -1, -1, -1, True)
    assert one.image.info(iid).PERMISSIONS.GROUP_U == 1  # recursive chmod reached the image
    one.vm.action("terminate-hard", vid)


def test_instantiate(one, user):
    uid, client = user
    name = uniq("web")
    tid = client.template.allocate(tmpl(name))
    vid = client.template.instantiate(tid, "", False, "", False)
    vm = client.vm.info(vid)
    assert vm.NAME == f"{name}-{vid}" and vm.STATE == 1 and vm.UID == uid
    assert vm.TEMPLATE["TEMPLATE_ID"] == str(tid) and vm.TEMPLATE["MEMORY"] == "512"
    assert vm.USER_TEMPLATE["LOGO"] == "images/logos/ubuntu.png"
    assert "TEMPLATE_NAME" not in vm.USER_TEMPLATE
    held = client.template.instantiate(tid, "held-one", True, 'MEMORY = 2048\nOWNER = "me"',
                                       False)
    vm = client.vm.info(held)
    assert (vm.NAME, vm.STATE) == ("held-one", 2)
    assert vm.TEMPLATE["MEMORY"] == "2048" and vm.USER_TEMPLATE["OWNER"] == "me"
    xml = client.template.instantiate(tid, "", False, "<TEMPLATE><VCPU>4</VCPU></TEMPLATE>", False)
    assert client.vm.info(xml).TEMPLATE["VCPU"] == "4"
    assert client.template.info(tid).TEMPLATE["MEMORY"] == "512"  # the template is unchanged


def test_instantiate_errors(one, user):
    uid, client = user
    bad = client.template.allocate(tmpl(uniq("nomem"), "CPU = 1\n"))
    with pytest.raises(pyone.OneException,
                       match=r"Error allocating a new virtual machine template\. MEMORY attribute "
                             r"must be a positive integer value\.") as err:
        client.template.instantiate(bad, "", False, "", False)
    assert err.type is pyone.OneException  # ALLOCATE (0x4000) has no pyone subclass
    with pytest.raises(pyone.OneInternalException, match="syntax error"):
        client.template.instantiate(bad, "", False, "MEMORY = [", False)
    vrouter = client.template.allocate(tmpl(uniq("vr"), BODY + "VROUTER = YES"))
    with pytest.raises(pyone.OneActionException, match="Virtual router templates"):
        client.template.instantiate(vrouter, "", False, "", False)
    assert client.vmpool.info(-3, -1, -1, -2).VM == []


def test_persistent_instantiate(one, user):
    uid, client = user
    name = uniq("pers")
    tid = client.template.allocate(tmpl(name))
    vid = client.template.instantiate(tid, "", False, "MEMORY = 256", True)
    vm = client.vm.info(vid)
    copies = [t for t in client.templatepool.info(-3, -1, -1).VMTEMPLATE
              if t.NAME == f"{name}-copy"]
    assert len(copies) == 1
    copy = copies[0]
    assert vm.TEMPLATE["TEMPLATE_ID"] == str(copy.ID)
    assert vm.TEMPLATE["CLONING_TEMPLATE_ID"] == str(tid)
    assert vm.TEMPLATE["MEMORY"] == "256" and copy.TEMPLATE["MEMORY"] == "256"
    assert vm.NAME == f"{name}-copy-{vid}"
