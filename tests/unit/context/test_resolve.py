"""CONTEXT resolution at allocate (nubo.context.resolve) against in-memory sources."""
from __future__ import annotations

import base64

import pytest

from nubo.context.network import apply_network
from nubo.context.resolve import (ContextError, FileImage, Resolver, file_references, nics_of,
                                  parse_context)
from nubo.model.vm_template import build_vm
from nubo.template import parse

NETWORKS = {  # vnet id -> (AR attributes by AR id, network template)
    3: ({0: {"GATEWAY": "198.51.100.1", "DNS": "198.51.100.53"}},
        {"NETWORK_MASK": "255.255.255.0", "NETWORK_ADDRESS": "198.51.100.0",
         "GUEST_MTU": "1400", "GATEWAY": "198.51.100.254", "SEARCH_DOMAIN": "example.test"}),
    4: ({0: {"PREFIX_LENGTH": "64", "GATEWAY6": "2001:db8::1"}}, {}),
}
IMAGES = {7: FileImage(7, "init", "/ds/2/abc", "CONTEXT", "READY"),
          8: FileImage(8, "disk", "/ds/1/def", "OS", "READY"),
          9: FileImage(9, "busy", "/ds/2/ghi", "CONTEXT", "LOCKED")}


class Sources:
    def vm_xml(self) -> str:
        return "<VM><ID>12</ID></VM>"

    def network_attribute(self, vnet_id, ar_id, name):
        ars, template = NETWORKS.get(vnet_id, ({}, {}))
        return ars.get(ar_id, {}).get(name) or template.get(name, "")

    def image_attribute(self, image_id, name):
        return {"DESCRIPTION": f"image {image_id}"}.get(name, "")

    def user_attribute(self, name):
        return {"SSH_PUBLIC_KEY": "ssh-ed25519 AAAA me@example"}.get(name, "")

    def file_image(self, ref):
        if "IMAGE_ID" in ref:
            return IMAGES[int(ref["IMAGE_ID"])]
        found = [i for i in IMAGES.values() if i.name == ref["IMAGE"]]
        if not found:
            raise ContextError(f"no image {ref['IMAGE']}")
        return found[0]


VM = """
NAME = "web-1"
MEMORY = 64
CPU = 0.1
COLOR = "blue"
DISK = [ IMAGE = "deb", IMAGE_ID = "5", TARGET = "vda" ]
NIC = [ NETWORK = "Private LAN", NETWORK_ID = "3", AR_ID = "0", NIC_ID = "0", NAME = "eth0",
        IP = "198.51.100.7", MAC = "02:00:c6:33:64:07" ]
NIC = [ NETWORK = "v6", NETWORK_ID = "4", AR_ID = "0", NIC_ID = "1",
        IP6 = "2001:db8::7", MAC = "02:00:00:00:00:08" ]
NIC_ALIAS = [ NETWORK = "Private LAN", NETWORK_ID = "3", AR_ID = "0", NIC_ID = "2",
              PARENT = "eth0", PARENT_ID = "0", ALIAS_ID = "0", IP = "198.51.100.8" ]
"""


def vm_with(context: str, extra: str = VM):
    return build_vm(12, parse(extra + context), uid=4, gid=1, uname="alice", gname="users",
                    now=1000)


def resolved(context: str, **kw) -> dict[str, str]:
    vm = vm_with(context)
    parse_context(vm, Sources(), **kw)
    return dict(vm.template.get_vector("CONTEXT").items())


def test_the_variables_of_the_vm_and_its_owner():
    ctx = resolved('CONTEXT = [ HOSTNAME = "$NAME", ID = "10.0.0.$VM_ID", VMID2 = "$VMID",'
                   ' WHO = "$UNAME:$UID/$GNAME:$GID", C = "$COLOR", M = "$MEMORY MB",'
                   ' KEY = "$USER[SSH_PUBLIC_KEY]", NOPE = "[$MISSING]" ]')
    assert ctx["HOSTNAME"] == "web-1"
    assert ctx["ID"] == "10.0.0.12"
    assert ctx["VMID2"] == "12"
    assert ctx["WHO"] == "alice:4/users:1"
    assert (ctx["C"], ctx["M"]) == ("blue", "64 MB")
    assert ctx["KEY"] == "ssh-ed25519 AAAA me@example"
    assert ctx["NOPE"] == "[]"


def test_template_is_the_vm_in_base64():
    ctx = resolved('CONTEXT = [ T = "$TEMPLATE" ]')
    assert base64.b64decode(ctx["T"]) == b"<VM><ID>12</ID></VM>"


def test_nic_network_and_image_references():
    ctx = resolved("CONTEXT = [ P = '$NIC[IP, NETWORK=\"Private LAN\"]', FIRST = \"$NIC[MAC]\","
                   ' GW = "$NETWORK[GATEWAY, NETWORK_ID=3]", GW6 = "$NETWORK[GATEWAY6, NIC_ID=1]",'
                   ' MASK = "$NETWORK[NETWORK_MASK, NETWORK=\\"Private LAN\\"]",'
                   ' T = "$DISK[TARGET]", D = "$IMAGE[DESCRIPTION, IMAGE=deb]" ]')
    assert ctx["P"] == "198.51.100.7"
    assert ctx["FIRST"] == "02:00:c6:33:64:07"
    assert ctx["GW"] == "198.51.100.1"  # the address range's, before the network's
    assert ctx["GW6"] == "2001:db8::1"
    assert ctx["MASK"] == "255.255.255.0"
    assert (ctx["T"], ctx["D"]) == ("vda", "image 5")


@pytest.mark.parametrize("context, message", [
    ("CONTEXT = [ P = '$NIC[IP, NETWORK=\"Public\"]' ]",
     'CONTEXT/P: the VM has no NIC with NETWORK="Public"'),
    ('CONTEXT = [ G = "$NETWORK[GATEWAY, NETWORK_ID=9]" ]',
     'CONTEXT/G: the VM has no NIC with NETWORK_ID="9"'),
    ('CONTEXT = [ G = "$NETWORK[GATEWAY, BRIDGE=br0]" ]',
     "can select by NETWORK or NETWORK_ID or NIC_ID only"),
    ('CONTEXT = [ I = "$IMAGE[SIZE, IMAGE=other]" ]', 'the VM has no DISK with IMAGE="other"'),
    ('CONTEXT = [ S = "echo $(id)" ]', "Cannot parse CONTEXT/S: expected a variable name"),
    ('CONTEXT = [ S = "$NIC[IP" ]', "Cannot parse CONTEXT/S: expected ',' or ']'"),
    ('CONTEXT = [ FILES_DS = "$FILE[IMAGE_ID=8]" ]',
     "Only images of type CONTEXT can be used in FILE_DS attribute."),
    ('CONTEXT = [ FILES_DS = "$FILE[IMAGE_ID=9]" ]', "CONTEXT Image '9' not in READY state."),
    ('CONTEXT = [ FILES_DS = "/etc/passwd" ]', "Cannot parse CONTEXT/FILES_DS: unexpected"),
])
def test_bad_references_are_refused_with_the_attribute(context, message):
    vm = vm_with(context)
    before = vm.template.copy()
    with pytest.raises(ContextError, match=None) as caught:
        parse_context(vm, Sources())
    assert message in str(caught.value)
    assert before.get_vectors("NIC") == vm.template.get_vectors("NIC")


def test_network_yes_generates_every_nic_and_alias():
    ctx = resolved('CONTEXT = [ NETWORK = "YES", ETH0_CONTEXT_FORCE_IPV4 = "YES" ]')
    assert ctx["ETH0_IP"] == "198.51.100.7"
    assert ctx["ETH0_MAC"] == "02:00:c6:33:64:07"
    assert ctx["ETH0_MASK"] == "255.255.255.0"
    assert ctx["ETH0_NETWORK"] == "198.51.100.0"
    assert ctx["ETH0_GATEWAY"] == "198.51.100.1"
    assert ctx["ETH0_DNS"] == "198.51.100.53"
    assert ctx["ETH0_MTU"] == "1400"
    assert ctx["ETH0_SEARCH_DOMAIN"] == "example.test"
    assert ctx["ETH0_IP6"] == ""  # present and empty, as oned writes them
    assert ctx["ETH0_CONTEXT_FORCE_IPV4"] == "YES"
    assert ctx["ETH1_IP6"] == "2001:db8::7"
    assert ctx["ETH1_IP6_PREFIX_LENGTH"] == "64"
    assert ctx["ETH1_IP6_GATEWAY"] == "2001:db8::1"
    assert ctx["ETH0_ALIAS0_IP"] == "198.51.100.8"
    assert ctx["ETH0_ALIAS0_MASK"] == "255.255.255.0"
    assert "ETH2_IP" not in ctx


def test_no_network_no_eth_variables():
    assert not any(k.startswith("ETH") for k in resolved('CONTEXT = [ A = "b" ]'))


def test_a_detached_nic_loses_its_variables_and_others_keep_theirs():
    vm = vm_with('CONTEXT = [ NETWORK = "YES", ETH1_EXTRA = "kept" ]')
    parse_context(vm, Sources())
    context = vm.template.get_vector("CONTEXT")
    resolver = Resolver(vm, Sources())
    leaving = vm.template.get_vectors("NIC")[1]
    apply_network(context, [n for n in nics_of(vm) if n is not leaving], resolver.network_of_nic)
    assert "ETH1_IP6" not in context and context.get("ETH1_EXTRA") == "kept"
    assert context.get("ETH0_IP") == "198.51.100.7"


def test_files_ds_token_target_and_disk_id():
    ctx = resolved('CONTEXT = [ FILES_DS = "$FILE[IMAGE_ID=7] $FILE[IMAGE=\\"init\\"]",'
                   ' TOKEN = "YES" ]', onegate_endpoint="http://198.51.100.1:5030")
    assert ctx["FILES_DS"] == "/ds/2/abc:'init' /ds/2/abc:'init' "
    assert ctx["ONEGATE_ENDPOINT"] == "http://198.51.100.1:5030"
    assert ctx["VMID"] == "12"
    assert (ctx["DISK_ID"], ctx["TARGET"]) == ("1", "hda")


def test_token_without_an_endpoint_gets_no_endpoint():
    vm = vm_with('CONTEXT = [ TOKEN = "YES" ]')
    parse_context(vm, Sources())
    ctx = dict(vm.template.get_vector("CONTEXT").items())
    assert "ONEGATE_ENDPOINT" not in ctx and ctx["VMID"] == "12"
    assert vm.user_template.get("CREATED_BY") == "4"


def test_target_skips_the_disks_targets_and_a_given_one_stays():
    extra = VM.replace('TARGET = "vda"', 'TARGET = "hda"')
    vm = vm_with('CONTEXT = [ A = "b" ]', extra)
    parse_context(vm, Sources())
    assert vm.template.get_vector("CONTEXT").get("TARGET") == "hdb"
    assert resolved('CONTEXT = [ TARGET = "sdc", DISK_ID = "4" ]')["TARGET"] == "sdc"


@pytest.mark.parametrize("text, refs", [
    ("$FILE[IMAGE_ID=3]", [{"IMAGE_ID": "3"}]),
    ('$FILE[IMAGE="a b", IMAGE_UNAME="bob"] $FILE[IMAGE_ID=4]',
     [{"IMAGE": "a b", "IMAGE_UNAME": "bob"}, {"IMAGE_ID": "4"}]),
])
def test_file_references(text, refs):
    assert file_references(text) == refs


@pytest.mark.parametrize("text", ["$FILE[]", "$FILE[IMAGE_UNAME=x]", "$FILE[IMAGE_ID=3",
                                  "x $FILE[IMAGE_ID=3]", "$FILE[IMAGE_ID=3] y"])
def test_malformed_file_references(text):
    with pytest.raises(ContextError, match="FILES_DS"):
        file_references(text)
