"""A VM's CONTEXT through pyone: resolved at allocate, refused when it names what the VM
does not have, regenerated on NIC hotplug and updateconf."""
from __future__ import annotations

import base64
import uuid

import pyone
import pytest

from waits import ACTIVE, RUNNING, wait_state
from xsd import assert_valid, raw_call

_nets = iter(range(0, 250))


def uniq(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def new_net(one, extra: str = "", name: str | None = None) -> tuple[int, str]:
    n = next(_nets)
    name = name or uniq("ctx-net")
    vnet = one.vn.allocate(
        f'NAME = "{name}"\nVN_MAD = "dummy"\nBRIDGE = "br-ctx"\n'
        f'NETWORK_MASK = "255.255.255.0"\nNETWORK_ADDRESS = "198.18.{n}.0"\n'
        f'DNS = "198.18.{n}.53"\nGUEST_MTU = "1450"\n{extra}'
        f'AR = [ TYPE = "IP4", IP = "198.18.{n}.10", SIZE = "8", GATEWAY = "198.18.{n}.1" ]\n',
        -1)
    return vnet, f"198.18.{n}"


def vm_text(context: str, nics: str = "") -> str:
    return f'NAME = "{uniq("ctx")}"\nCPU = 0.1\nMEMORY = 64\n{nics}\nCONTEXT = [ {context} ]\n'


def context_of(one, vm_id: int) -> dict[str, str]:
    return dict(one.vm.info(vm_id).TEMPLATE["CONTEXT"])


def used_leases(one, vnet: int) -> int:
    return int(one.vn.info(vnet).USED_LEASES)


def test_allocate_resolves_the_variables_and_the_network(one, nubo):
    vnet, net = new_net(one)
    name = one.vn.info(vnet).NAME
    one.user.update(0, 'SSH_PUBLIC_KEY = "ssh-ed25519 AAAAC3 admin@example"', 1)
    vm_id = one.vm.allocate(vm_text(
        'NETWORK = "YES", HOSTNAME = "$NAME", ID = "10.0.0.$VM_ID", OWNER = "$UNAME/$UID",'
        f' PRIV = "$NIC[IP, NETWORK=\\"{name}\\"]", GW = "$NETWORK[GATEWAY, NETWORK_ID={vnet}]",'
        ' SSH_PUBLIC_KEY = "$USER[SSH_PUBLIC_KEY]", T = "$TEMPLATE",'
        ' START_SCRIPT = "echo \'hi\' > /tmp/x"',
        f'NIC = [ NETWORK_ID = "{vnet}" ]'), True)
    vm = one.vm.info(vm_id)
    ctx = dict(vm.TEMPLATE["CONTEXT"])
    assert ctx["HOSTNAME"] == vm.NAME
    assert ctx["ID"] == f"10.0.0.{vm_id}"
    assert ctx["OWNER"] == "oneadmin/0"
    assert ctx["PRIV"] == f"{net}.10" == ctx["ETH0_IP"]
    assert ctx["GW"] == f"{net}.1" == ctx["ETH0_GATEWAY"]
    assert ctx["ETH0_MASK"] == "255.255.255.0"
    assert ctx["ETH0_NETWORK"] == f"{net}.0"
    assert ctx["ETH0_DNS"] == f"{net}.53"
    assert ctx["ETH0_MTU"] == "1450"
    assert ctx["ETH0_MAC"] == vm.TEMPLATE["NIC"]["MAC"]
    assert ctx["SSH_PUBLIC_KEY"] == "ssh-ed25519 AAAAC3 admin@example"
    assert base64.b64decode(ctx["T"]).startswith(b"<VM><ID>")
    assert ctx["START_SCRIPT"] == "echo 'hi' > /tmp/x"
    assert (ctx["TARGET"], ctx["DISK_ID"]) == ("hda", "0")
    assert_valid(raw_call(nubo.endpoint, "one.vm.info", nubo.session, vm_id)[1], "vm.xsd")


@pytest.mark.parametrize("context, message", [
    ('P = "$NIC[IP, NETWORK=\\"No Such LAN\\"]"', 'the VM has no NIC with NETWORK="No Such LAN"'),
    ('P = "$NIC[IP"', "Cannot parse CONTEXT/P: expected ',' or ']'"),
    ('S = "ip=$(hostname)"', "Cannot parse CONTEXT/S: expected a variable name after '$'"),
    ('FILES = "/etc/hostname"', "CONTEXT/FILES cannot use /etc/hostname"),
    ('FILES_DS = "$FILE[IMAGE_ID=999999]"', "image 999999 does not exist"),
])
def test_bad_references_are_refused_and_take_nothing(one, context, message):
    vnet, _ = new_net(one)
    before = used_leases(one, vnet)
    vms = len(one.vmpool.info(-2, -1, -1, -1).VM)
    with pytest.raises(pyone.OneException, match=None) as caught:
        one.vm.allocate(vm_text(context, f'NIC = [ NETWORK_ID = "{vnet}" ]'), True)
    assert message in str(caught.value)
    assert used_leases(one, vnet) == before
    assert len(one.vmpool.info(-2, -1, -1, -1).VM) == vms


def test_files_ds_names_context_images(one):
    files = [d.ID for d in one.datastorepool.info().DATASTORE if int(d.TYPE) == 2]
    if not files:
        pytest.skip("no FILE datastore")
    image = one.image.allocate(f'NAME = "{uniq("ctxfile")}"\nTYPE = "CONTEXT"\n'
                               'SOURCE = "/var/tmp/ctx-init.sh"\nSIZE = 1\nFORMAT = "raw"', files[0])
    info = one.image.info(image)
    if int(info.STATE) != 1:
        pytest.skip("the image is not READY at once here")
    vm_id = one.vm.allocate(vm_text(f'FILES_DS = "$FILE[IMAGE_ID={image}]"'), True)
    assert context_of(one, vm_id)["FILES_DS"] == f"{info.SOURCE}:'{info.NAME}' "


@pytest.fixture
def host(one) -> int:
    return one.host.allocate(uniq("ctx-host"), "dummy", "dummy", -1)


def test_nic_hotplug_and_updateconf_regenerate_the_context(one, host):
    vnet, net = new_net(one)
    other, other_net = new_net(one)
    vm_id = one.vm.allocate(vm_text('NETWORK = "YES", HOSTNAME = "$NAME"',
                                    f'NIC = [ NETWORK_ID = "{vnet}" ]'), False)
    one.vm.deploy(vm_id, host)
    wait_state(one, vm_id, (ACTIVE, RUNNING))
    one.vm.attachnic(vm_id, f'NIC = [ NETWORK_ID = "{other}" ]')
    wait_state(one, vm_id, (ACTIVE, RUNNING))
    ctx = context_of(one, vm_id)
    assert (ctx["ETH0_IP"], ctx["ETH1_IP"]) == (f"{net}.10", f"{other_net}.10")
    assert ctx["ETH1_GATEWAY"] == f"{other_net}.1"
    one.vm.detachnic(vm_id, 0)
    wait_state(one, vm_id, (ACTIVE, RUNNING))
    ctx = context_of(one, vm_id)
    assert "ETH0_IP" not in ctx and ctx["ETH1_IP"] == f"{other_net}.10"
    target = ctx["TARGET"]
    one.vm.updateconf(vm_id, 'CONTEXT = [ NETWORK = "YES", GREETING = "hello $UNAME",'
                             ' TARGET = "hdz" ]', 0)
    wait_state(one, vm_id, (ACTIVE, RUNNING))
    ctx = context_of(one, vm_id)
    assert ctx["GREETING"] == "hello oneadmin"
    assert ctx["ETH1_IP"] == f"{other_net}.10"
    assert ctx["TARGET"] == target  # kept, as oned
    assert "HOSTNAME" not in ctx
    with pytest.raises(pyone.OneException, match="CONTEXT/BAD"):
        one.vm.updateconf(vm_id, 'CONTEXT = [ BAD = "$NIC[IP, NETWORK_ID=999]" ]', 1)
    assert context_of(one, vm_id)["GREETING"] == "hello oneadmin"


def test_a_failed_attach_leaves_no_variables_of_its_nic(one, host):
    vnet, net = new_net(one)
    other, _ = new_net(one)
    vm_id = one.vm.allocate(vm_text('NETWORK = "YES"', f'NIC = [ NETWORK_ID = "{vnet}" ]\n'
                                    'DUMMY_FAIL = "ATTACHNIC"'), False)
    one.vm.deploy(vm_id, host)
    wait_state(one, vm_id, (ACTIVE, RUNNING))
    one.vm.attachnic(vm_id, f'NIC = [ NETWORK_ID = "{other}" ]')
    wait_state(one, vm_id, (ACTIVE, RUNNING))
    ctx = context_of(one, vm_id)
    assert ctx["ETH0_IP"] == f"{net}.10" and "ETH1_IP" not in ctx
