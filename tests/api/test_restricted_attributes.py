"""Restricted attributes (issue 9, item 6): only the oneadmin group sets them, via pyone.

A plain user (group "users") is refused RAW, EMULATOR, NIC/MAC... at every entry point
with oned's words, and nothing changes; oneadmin still can.
"""
from __future__ import annotations

import uuid

import pyone
import pytest
from image_files import var_tmp_disk  # noqa: F401 (fixture)

from server import NuboServer

SMALL = "CPU = 0.1\nMEMORY = 64\n"
MAC = "02:00:c0:a8:00:99"


def uniq(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def user(plain_user):
    return plain_user


def vm_ids(client) -> list[int]:
    return sorted(vm.ID for vm in client.vmpool.info(-2, -1, -1, -2).VM)


def body(one, method: str, oid: int) -> str:
    """The object's TEMPLATE and USER_TEMPLATE as the server has them."""
    obj = getattr(one, method).info(oid)
    return repr((getattr(obj, "TEMPLATE", None), getattr(obj, "USER_TEMPLATE", None)))


RESTRICTED_VM = [
    ('RAW = [ TYPE = "kvm", DATA = "<devices/>" ]', "RAW"),
    ('EMULATOR = "/tmp/evil"', "EMULATOR"),
    ("USER_PRIORITY = 100", "USER_PRIORITY"),
    ("CPU_COST = 0", "CPU_COST"),
    ("MEMORY_COST = 0", "MEMORY_COST"),
    ("DISK_COST = 0", "DISK_COST"),
    ('NIC = [ NETWORK = "public", NETWORK_UNAME = "oneadmin", BRIDGE = "eth0" ]', "NIC/BRIDGE"),
    ('NIC = [ NETWORK = "public", NETWORK_UNAME = "oneadmin", VLAN_ID = "7" ]', "NIC/VLAN_ID"),
    (f'NIC = [ NETWORK = "public", NETWORK_UNAME = "oneadmin", MAC = "{MAC}" ]', "NIC/MAC"),
    ('CONTEXT = [ FILES = "/etc/shadow" ]', "CONTEXT/FILES"),
    ('DISK = [ TYPE = "fs", SIZE = 10, TOTAL_BYTES_SEC = 1 ]', "DISK/TOTAL_BYTES_SEC"),
    ('DISK = [ TYPE = "fs", SIZE = 10, WRITE_IOPS_SEC = 1 ]', "DISK/WRITE_IOPS_SEC"),
    ('PCI = [ VENDOR = "10de" ]', "PCI"),
]


@pytest.mark.parametrize("extra, name", RESTRICTED_VM, ids=[n for _, n in RESTRICTED_VM])
def test_vm_allocate_refuses_restricted_attributes(one, user, shared_networks, extra, name):
    _, client = user
    before = vm_ids(one)
    with pytest.raises(pyone.OneAuthorizationException,
                       match=f"VM Template includes a restricted attribute {name}$"):
        client.vm.allocate(SMALL + extra, True)
    assert vm_ids(one) == before


def test_template_allocate_and_update_refuse_them_oneadmin_may(one, user):
    _, client = user
    ids = [t.ID for t in one.templatepool.info(-2, -1, -1).VMTEMPLATE]
    with pytest.raises(pyone.OneAuthorizationException,
                       match="VM Template includes a restricted attribute RAW"):
        client.template.allocate(f'NAME = "{uniq("t")}"\n{SMALL}RAW = [ TYPE = "kvm" ]')
    assert [t.ID for t in one.templatepool.info(-2, -1, -1).VMTEMPLATE] == ids
    tid = client.template.allocate(f'NAME = "{uniq("t")}"\n{SMALL}')
    before = body(one, "template", tid)
    with pytest.raises(pyone.OneInternalException, match="Cannot update template. Tried to "
                                                         "change restricted attribute: RAW"):
        client.template.update(tid, 'RAW = [ TYPE = "kvm" ]', 1)
    assert body(one, "template", tid) == before
    one.template.update(tid, 'RAW = [ TYPE = "kvm", DATA = "x" ]', 1)  # oneadmin may
    admin_tid = one.template.allocate(f'NAME = "{uniq("t")}"\n{SMALL}EMULATOR = "/usr/bin/q"')
    assert one.template.info(admin_tid).TEMPLATE["EMULATOR"] == "/usr/bin/q"


def test_update_keeps_what_oneadmin_set_unless_changed(one, user):
    _, client = user
    vm_id = client.vm.allocate(SMALL, True)
    one.vm.update(vm_id, "CPU_COST = 5\nUSER_PRIORITY = 3", 1)
    client.vm.update(vm_id, 'DESCRIPTION = "mine"', 1)  # the restricted ones unchanged
    client.vm.update(vm_id, 'CPU_COST = 5\nUSER_PRIORITY = 3\nDESCRIPTION = "again"', 0)
    before = body(one, "vm", vm_id)
    for text, kind, name in (("CPU_COST = 0", 1, "CPU_COST"),
                             ('DESCRIPTION = "drops them"', 0, "CPU_COST"),
                             ('RAW = [ TYPE = "kvm" ]', 1, "RAW")):
        with pytest.raises(pyone.OneInternalException,
                           match=f"Tried to change restricted attribute: {name}$"):
            client.vm.update(vm_id, text, kind)
        assert body(one, "vm", vm_id) == before
    ut = one.vm.info(vm_id).USER_TEMPLATE
    assert (ut["CPU_COST"], ut["USER_PRIORITY"], ut["DESCRIPTION"]) == ("5", "3", "again")


def test_instantiate_checks_the_template_and_the_extra(one, user):
    uid, client = user
    raw = 'RAW = [ TYPE = "kvm", DATA = "<x/>" ]'
    admin_tid = one.template.allocate(f'NAME = "{uniq("t")}"\n{SMALL}{raw}')
    one.template.chmod(admin_tid, 1, 1, 0, 1, 0, 0, 1, 0, 0)
    # oneadmin's template may hold them: that is how users get them
    vm_id = client.template.instantiate(admin_tid, "", True, "", False)
    assert one.vm.info(vm_id).TEMPLATE["RAW"]["DATA"] == "<x/>"
    client.template.instantiate(admin_tid, "", True, raw, False)  # restated unchanged
    before = vm_ids(one)
    for extra, name in (('RAW = [ TYPE = "kvm", DATA = "<evil/>" ]', "RAW"),
                        ('USER_PRIORITY = "50"', "USER_PRIORITY"),
                        ('DISK = [ TYPE = "fs", SIZE = 1, READ_BYTES_SEC = 9 ]',
                         "DISK/READ_BYTES_SEC")):
        with pytest.raises(pyone.OneAuthorizationException,
                           match=f"User Template includes a restricted attribute {name}$"):
            client.template.instantiate(admin_tid, "", True, extra, False)
    # a template of a user's holding one (given away by oneadmin) is refused whole
    tid = one.template.allocate(f'NAME = "{uniq("t")}"\n{SMALL}{raw}')
    one.template.chown(tid, uid, 1)
    with pytest.raises(pyone.OneAuthorizationException,
                       match="VM Template includes a restricted attribute RAW$"):
        client.template.instantiate(tid, "", True, "", False)
    assert vm_ids(one) == before
    assert one.template.instantiate(tid, "", True, "", False) >= 0  # oneadmin may


def test_attach_attachnic_and_updateconf_refuse_them(one, user, shared_networks):
    _, client = user
    vm_id = client.vm.allocate(SMALL, True)
    before = body(one, "vm", vm_id)
    with pytest.raises(pyone.OneAuthorizationException,
                       match="DISK includes a restricted attribute DISK/TOTAL_IOPS_SEC$"):
        client.vm.attach(vm_id, 'DISK = [ TYPE = "fs", SIZE = 1, TOTAL_IOPS_SEC = 1 ]')
    with pytest.raises(pyone.OneAuthorizationException,
                       match="NIC includes a restricted attribute NIC/MAC$"):
        client.vm.attachnic(vm_id, f'NIC = [ NETWORK_ID = {shared_networks["public"]}, '
                                   f'MAC = "{MAC}" ]')
    with pytest.raises(pyone.OneAuthorizationException,
                       match="Template includes a restricted attribute RAW$"):
        client.vm.updateconf(vm_id, 'RAW = [ TYPE = "kvm", DATA = "<x/>" ]', 1)
    with pytest.raises(pyone.OneAuthorizationException,
                       match="Template includes a restricted attribute CONTEXT/FILES$"):
        client.vm.updateconf(vm_id, 'CONTEXT = [ FILES = "/etc/shadow" ]', 1)
    assert body(one, "vm", vm_id) == before
    one.vm.updateconf(vm_id, 'RAW = [ TYPE = "kvm", DATA = "<x/>" ]', 1)  # oneadmin may
    assert one.vm.info(vm_id).TEMPLATE["RAW"]["DATA"] == "<x/>"
    client.vm.updateconf(vm_id, 'CONTEXT = [ TOKEN = "yes" ]', 1)  # RAW unchanged: fine


def image_ids(one) -> list[int]:
    return sorted(i.ID for i in one.imagepool.info(-2, -1, -1).IMAGE)


def test_image_source_and_path_outside_safe_dirs(one, user, var_tmp_disk):
    _, client = user
    before = image_ids(one)
    with pytest.raises(pyone.OneAuthorizationException,
                       match="Template includes a restricted attribute SOURCE$"):
        client.image.allocate(f'NAME = "{uniq("i")}"\nSOURCE = "/dev/sda"\nFORMAT = "raw"\n'
                              "SIZE = 10", 1, False)
    for path in ("/etc/shadow", "/var/tmp/../../root/.ssh/id_rsa", "images/disk.qcow2"):
        with pytest.raises(pyone.OneAuthorizationException, match="restricted attribute PATH"):
            client.image.allocate(f'NAME = "{uniq("i")}"\nPATH = "{path}"', 1, False)
    assert image_ids(one) == before
    iid = client.image.allocate(f'NAME = "{uniq("i")}"\nPATH = "{var_tmp_disk()}"', 1, False)
    with pytest.raises(pyone.OneInternalException,
                       match="Tried to change restricted attribute: SOURCE$"):
        client.image.update(iid, 'SOURCE = "/dev/sdb"', 1)
    # oneadmin may set SOURCE; a PATH outside SAFE_DIRS the datastore driver refuses to
    # anyone, as OpenNebula's (check_restricted)
    one.image.allocate(f'NAME = "{uniq("i")}"\nSOURCE = "/dev/sda"\nFORMAT = "raw"\n'
                       "SIZE = 10", 1, False)
    with pytest.raises(pyone.OneInternalException,
                       match="Not allowed to copy image file /etc/hostname"):
        one.image.allocate(f'NAME = "{uniq("i")}"\nPATH = "/etc/hostname"', 1, False)


def test_reservations_keep_their_network_attributes(one, user, shared_networks):
    uid, client = user
    rid = client.vn.reserve(shared_networks["public"], f'SIZE = 1\nNAME = "{uniq("res")}"')
    one.acl.addrule(f"{0x100000000 + uid:x}", f"{0x4100000000 + rid:x}", "4")  # ADMIN NET
    before = one.vn.info(rid)
    for text, name in (('BRIDGE = "eth0"', "BRIDGE"), ('VN_MAD = "802.1Q"', "VN_MAD"),
                       ('PHYDEV = "eth1"', "PHYDEV")):
        with pytest.raises(pyone.OneInternalException,
                           match=f"Tried to change restricted attribute: {name}$"):
            client.vn.update(rid, text, 1)
    with pytest.raises(pyone.OneAuthorizationException,
                       match="Extra Template includes a restricted attribute AR/BRIDGE$"):
        client.vn.update_ar(rid, 'AR = [ AR_ID = 0, BRIDGE = "eth0" ]')
    with pytest.raises(pyone.OneAuthorizationException,
                       match="Extra Template includes a restricted attribute AR/VN_MAD$"):
        client.vn.add_ar(rid, 'AR = [ TYPE = "ETHER", SIZE = 2, VN_MAD = "802.1Q" ]')
    after = one.vn.info(rid)
    assert (after.BRIDGE, after.VN_MAD, after.PHYDEV) == (before.BRIDGE, before.VN_MAD,
                                                         before.PHYDEV)
    client.vn.update(rid, 'DESCRIPTION = "mine"', 1)  # the rest is the owner's
    one.vn.update(rid, 'BRIDGE = "br9"', 1)  # oneadmin may
    assert one.vn.info(rid).BRIDGE == "br9"


def test_an_admin_chooses_the_lists(tmp_path):
    """vm_restricted_attr replaces oned's defaults: here DESCRIPTION only."""
    server = NuboServer(tmp_path / "data",
                        extra_config='vm_restricted_attr = ["DESCRIPTION", "NIC/MODEL"]\n'
                                     "image_restricted_attr = []\n").start()
    try:
        one = pyone.OneServer(server.endpoint, session=server.session)
        name = uniq("ru")
        one.user.allocate(name, "pw", "", [])
        client = pyone.OneServer(server.endpoint, session=f"{name}:pw")
        vm_id = client.vm.allocate(SMALL + 'RAW = [ TYPE = "kvm" ]', True)  # no longer
        assert one.vm.info(vm_id).TEMPLATE["RAW"]["TYPE"] == "kvm"
        with pytest.raises(pyone.OneAuthorizationException,
                           match="VM Template includes a restricted attribute DESCRIPTION$"):
            client.vm.allocate(SMALL + 'DESCRIPTION = "x"', True)
        with pytest.raises(pyone.OneAuthorizationException, match="NIC/MODEL$"):
            client.vm.allocate(SMALL + 'NIC = [ NETWORK_ID = 0, MODEL = "e1000" ]', True)
        client.image.allocate(f'NAME = "{uniq("i")}"\nSOURCE = "/dev/sda"\nFORMAT = "raw"\n'
                              "SIZE = 10", 1, False)
    finally:
        assert server.stop() == 0
