"""Building VMs from templates: oned's checks, the TEMPLATE/USER_TEMPLATE split, the bodies."""
from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from lxml import etree

from nubo.model import xmlobj
from nubo.model.parts import Lock
from nubo.model.vm import HOLD, PENDING, SYSTEM_ATTRIBUTES, HistoryRecord, VirtualMachine
from nubo.model.vm_search import matches, parse_query
from nubo.model.vm_template import (VmTemplateError, build_vm, build_vm_template,
                                    instance_template, references, split)
from nubo.model.vmbody import short_body
from nubo.template import SingleAttribute, Template, VectorAttribute, parse_str_or_xml
from nubo.template.syntax_errors import TemplateValueError
from xsd import assert_valid

BASE = "CPU=1 MEMORY=128\n"


def vm_of(text: str, oid: int = 7, **kw) -> VirtualMachine:
    return build_vm(oid, parse_str_or_xml(text), uid=5, gid=1, uname="alice", gname="users",
                    now=1000, **kw)


def assert_bodies_valid(vm: VirtualMachine) -> None:
    body = xmlobj.render(vm, "VM")
    assert_valid(body, "vm.xsd")
    assert_valid(f"<VM_POOL>{body}</VM_POOL>", "vm_pool_extended.xsd")
    assert_valid(f"<VM_POOL>{short_body(vm)}</VM_POOL>", "vm_pool.xsd")
    again = xmlobj.render(xmlobj.parse(VirtualMachine, body), "VM")
    assert etree.canonicalize(again) == etree.canonicalize(body)  # reads back the same


REALISTIC = """
NAME = "web-frontend"
CPU = 0.5
VCPU = 2
MEMORY = 2048
MEMORY_MAX = 4096
DISK = [ IMAGE_ID = 3, DEV_PREFIX = "vd", CACHE = "none" ]
DISK = [ IMAGE = "data", IMAGE_UNAME = "bob" ]
DISK = [ TYPE = "swap", SIZE = 1024 ]
NIC = [ NETWORK_ID = 1, MODEL = "virtio" ]
NIC = [ NETWORK = "private", NAME = "eth1", SECURITY_GROUPS = "0,100" ]
NIC_ALIAS = [ NETWORK = "private", PARENT = "eth1" ]
CONTEXT = [ NETWORK = "YES", SSH_PUBLIC_KEY = "$USER[SSH_PUBLIC_KEY]",
            START_SCRIPT = "#!/bin/sh\necho 'hi' > /tmp/x && true" ]
GRAPHICS = [ TYPE = "VNC", LISTEN = "0.0.0.0", PORT = "5907" ]
OS = [ ARCH = "x86_64", BOOT = "disk0,nic0" ]
FEATURES = [ ACPI = "yes", GUEST_AGENT = "yes" ]
INPUT = [ TYPE = "tablet", BUS = "usb" ]
VIDEO = [ VRAM = "16384", TYPE = "virtio" ]
TPM = [ MODEL = "tpm-crb" ]
TOPOLOGY = [ SOCKETS = 1, CORES = 2, THREADS = 1 ]
RAW = [ TYPE = "kvm", DATA = "<devices><serial type='pty'/></devices>" ]
CPU_MODEL = [ MODEL = "host-passthrough" ]
LABELS = "prod,web"
SCHED_REQUIREMENTS = "HYPERVISOR = kvm"
SCHED_RANK = "FREE_CPU"
DESCRIPTION = "Frontend <with> & specials ]]> in it"
LOGO = "images/logos/linux.png"
"""


def test_realistic_template_validates_and_splits():
    vm = vm_of(REALISTIC)
    assert_bodies_valid(vm)
    system, user = vm.template, vm.user_template
    assert vm.name == "web-frontend" and vm.state == PENDING and vm.lcm_state == 0
    assert vm.prev_state == PENDING and vm.stime == 1000 and vm.etime == 0
    assert (vm.uid, vm.gid, vm.uname, vm.gname) == (5, 1, "alice", "users")
    assert vm.permissions.to_octal() == "600"
    assert system.get("VMID") == "7" and system.get("TM_MAD_SYSTEM") == ""
    assert system.get("CPU") == "0.5" and system.get("MEMORY") == "2048"
    assert system.get("VCPU") == "2" and system.get("MEMORY_MAX") == "4096"
    assert [d.get("DISK_ID") for d in system.get_vectors("DISK")] == ["0", "1", "2"]
    assert system.get_vector("OS").get("UUID")
    assert system.get("AUTOMATIC_REQUIREMENTS") == "!(PUBLIC_CLOUD = YES) & !(PIN_POLICY = PINNED)"
    assert list(system.get_vector("VIDEO").values) == ["TYPE", "VRAM"]  # schema order
    for name in ("LABELS", "SCHED_REQUIREMENTS", "SCHED_RANK", "DESCRIPTION", "LOGO", "CPU_MODEL"):
        assert name in user and name not in system
    assert "NAME" not in user and "NAME" not in system
    order = [SYSTEM_ATTRIBUTES.index(a.name) for a in system]
    assert order == sorted(order)


def test_nics_and_aliases_are_numbered_and_linked():
    system = vm_of(REALISTIC).template
    nic0, nic1 = system.get_vectors("NIC")
    alias = system.get_vector("NIC_ALIAS")
    assert (nic0.get("NIC_ID"), nic0.get("NAME")) == ("0", "NIC0")
    assert (nic1.get("NIC_ID"), nic1.get("NAME"), nic1.get("ALIAS_IDS")) == ("1", "eth1", "2")
    assert (alias.get("NIC_ID"), alias.get("PARENT_ID"), alias.get("ALIAS_ID"),
            alias.get("NAME")) == ("2", "1", "0", "NIC1_ALIAS0")
    with pytest.raises(VmTemplateError, match="NIC named nope not found for alias"):
        vm_of(BASE + 'NIC=[NETWORK_ID=1] NIC_ALIAS=[PARENT="nope"]')


def test_ten_kilobyte_template():
    text = BASE + "".join(f'DISK=[TYPE=fs, SIZE={i}, TARGET="vd{i}"]\n' for i in range(20))
    text += "".join(f'NIC=[NETWORK_ID={i}, MODEL="virtio"]\n' for i in range(10))
    text += "".join(f'CUSTOM_{i}="{"x" * 80}"\n' for i in range(100))
    assert len(text) > 9000
    vm = vm_of(text)
    assert_bodies_valid(vm)
    assert len(vm.template.get_vectors("DISK")) == 20 and len(vm.user_template) == 100


@pytest.mark.parametrize("text, message", [
    ("CPU=1", "MEMORY attribute must be a positive integer value."),
    ("CPU=1 MEMORY=0", "MEMORY attribute must be a positive integer value."),
    ("CPU=1 MEMORY=-5", "MEMORY attribute must be a positive integer value."),
    ("CPU=1 MEMORY=1.5", "MEMORY attribute must be a positive integer value."),
    ("CPU=1 MEMORY=lots", "MEMORY attribute must be a positive integer value."),
    ("CPU=1 MEMORY=[SIZE=1]", "MEMORY attribute must be a positive integer value."),
    ("MEMORY=128", "CPU attribute must be a positive float or integer value."),
    ("MEMORY=128 CPU=0", "CPU attribute must be a positive float or integer value."),
    ("MEMORY=128 CPU=-0.5", "CPU attribute must be a positive float or integer value."),
    ("MEMORY=128 CPU=fast", "CPU attribute must be a positive float or integer value."),
    (BASE + "VCPU=0", "VCPU attribute must be a positive integer value."),
    (BASE + "VCPU=1.5", "VCPU attribute must be a positive integer value."),
    (BASE + "VCPU=many", "VCPU attribute must be a positive integer value."),
    (BASE + "CPU_COST=-1", "CPU_COST attribute must be a positive float or integer value."),
    (BASE + "DISK_COST=-0.1", "DISK_COST attribute must be a positive float or integer value."),
    (BASE + "OS=[ARCH=x86_64] OS=[ARCH=aarch64]", "Only one OS attribute can be defined."),
    (BASE + "GRAPHICS=[TYPE=vnc] GRAPHICS=[TYPE=spice]",
     "Only one GRAPHICS attribute can be defined."),
    (BASE + 'CONTEXT="plain"', "Wrong format for CONTEXT attribute."),
    (BASE + 'OS="linux"', "Internal error parsing OS attribute."),
    (BASE + "GRAPHICS=[TYPE=vnc, PORT=70000]", "Wrong PORT number in GRAPHICS attribute"),
    (BASE + "GRAPHICS=[TYPE=vnc, PORT=abc]", "Wrong PORT number in GRAPHICS attribute"),
    (BASE + "VIDEO=[TYPE=virtio, COLOR=blue]", "Unknown attribute COLOR in VIDEO."),
    (BASE + "VIDEO=[VRAM=big]", "Wrong VRAM value in VIDEO attribute."),
    (BASE + "TPM=[VERSION=2]", "Unknown attribute VERSION in TPM."),
    (BASE + "MEMORY_ENCRYPTION=[]", "MEMORY_ENCRYPTION attribute needs TYPE."),
    (BASE + "DEPLOY_ID=one-12", "Trying to import an OpenNebula VM: 'one-*'."),
])
def test_refused_templates(text: str, message: str):
    tmpl = parse_str_or_xml(text)
    before = tmpl.copy()
    with pytest.raises(VmTemplateError) as err:
        split(tmpl, 1)
    assert err.value.message == message
    assert err.value.code == 0x2000
    assert tmpl == before  # the input is never changed


@pytest.mark.parametrize("text, cpu, memory, vcpu", [
    ("CPU=1.0 MEMORY=0512", "1", "512", None),
    ("CPU=' 2 ' MEMORY=' 64 ' VCPU=' 4 '", "2", "64", "4"),
    ("CPU=0.25 MEMORY=1 VCPU=''", "0.25", "1", None),
    ("CPU=1e-2 MEMORY=1", "0.01", "1", None),
])
def test_capacity_is_normalised(text: str, cpu: str, memory: str, vcpu: str | None):
    parts = split(parse_str_or_xml(text.replace("'", '"')), 3)
    assert (parts.system.get("CPU"), parts.system.get("MEMORY")) == (cpu, memory)
    assert parts.system.get("VCPU") == vcpu


def test_empty_vcpu_and_bad_max_stay_with_the_user():
    parts = split(parse_str_or_xml(BASE + 'VCPU="" MEMORY_MAX=-1 VCPU_MAX=x CPU_COST=cheap'), 1)
    for name in ("VCPU", "MEMORY_MAX", "VCPU_MAX", "CPU_COST"):
        assert name in parts.user and name not in parts.system


def test_names_default_from_the_template_name_or_one():
    assert split(parse_str_or_xml(BASE), 42).name == "one-42"
    assert split(parse_str_or_xml(BASE + "TEMPLATE_NAME=ubuntu"), 42).name == "ubuntu-42"
    parts = split(parse_str_or_xml(BASE + 'NAME="x" TEMPLATE_NAME=ubuntu VMID=99'), 42)
    assert parts.name == "x" and parts.system.get("VMID") == "42"
    assert not {"NAME", "TEMPLATE_NAME", "VMID"} & set(parts.user.names())


def test_hold_and_submit_on_hold():
    assert vm_of(BASE, hold=True).state == HOLD
    vm = vm_of(BASE + "SUBMIT_ON_HOLD=yes")
    assert vm.state == HOLD and vm.prev_state == HOLD
    assert vm.template.get("SUBMIT_ON_HOLD") == "YES"
    assert vm_of(BASE + "SUBMIT_ON_HOLD=no").state == PENDING


def test_imported_vm():
    vm = vm_of(BASE + "DEPLOY_ID=i-0abc")
    assert vm.deploy_id == "i-0abc" and vm.template.get("IMPORTED") == "YES"
    assert_bodies_valid(vm)


def test_wrong_shapes_stay_in_user_template():
    parts = split(parse_str_or_xml(BASE + 'NIC="eth0" DISK="sda" EMULATOR=[PATH=x] '
                                   'TM_MAD_SYSTEM=ssh SNAPSHOT=[NAME=s] VMID=3'), 1)
    assert parts.user.get("NIC") == "eth0" and parts.user.get("DISK") == "sda"
    assert parts.user.get_vector("EMULATOR") is not None
    assert parts.user.get_vector("SNAPSHOT") is not None  # written only by the core
    assert parts.system.get("TM_MAD_SYSTEM") == "ssh"
    assert not parts.system.get_vectors("NIC") and not parts.system.get_vectors("SNAPSHOT")


def test_pinned_topology():
    parts = split(parse_str_or_xml(BASE + "TOPOLOGY=[PIN_POLICY=thread, CORES=2]"), 1)
    assert parts.system.get("AUTOMATIC_REQUIREMENTS") == \
        "!(PUBLIC_CLOUD = YES) & (PIN_POLICY = PINNED)"


def test_random_graphics_password():
    graphics = vm_of(BASE + "GRAPHICS=[TYPE=vnc, RANDOM_PASSWD=YES]").template.get_vector(
        "GRAPHICS")
    assert len(graphics.get("PASSWD") or "") == 16


# -- any template: refused with a message, or split into schema-valid bodies -------------

_NAMES = st.sampled_from([*SYSTEM_ATTRIBUTES, "NAME", "TEMPLATE_NAME", "DEPLOY_ID", "LABELS",
                          "SCHED_ACTION", "ERROR", "FOO", "CPU_MODEL"])
_SUBS = st.sampled_from(["TYPE", "VRAM", "MODEL", "SIZE", "PARENT", "NAME", "PORT", "X", "IOMMU"])
_VALUES = st.sampled_from(["", "1", "2", "-1", "yes", "vnc", "a<b&c", "]]>", "NIC0", "16"])
_ATTRS = st.one_of(
    st.builds(SingleAttribute, _NAMES, _VALUES),
    st.builds(VectorAttribute, _NAMES, st.dictionaries(_SUBS, _VALUES, max_size=3)))


@settings(max_examples=300, deadline=None)
@given(st.lists(_ATTRS, max_size=12), st.booleans())
@example([VectorAttribute("DISK", {"SIZE": "-1"})], True)  # found by hypothesis in CI
def test_any_template_is_refused_or_valid(attrs: list, with_capacity: bool):
    tmpl = Template(attrs)
    if with_capacity:
        tmpl.set("CPU", "1")
        tmpl.set("MEMORY", "64")
    before = tmpl.copy()
    try:
        vm = build_vm(1, tmpl, uid=0, gid=0, uname="oneadmin", gname="oneadmin", now=1)
    except (VmTemplateError, TemplateValueError) as e:
        # refused with oned's INTERNAL code and a message: a template error, or a value
        # out of its range (DISK/SIZE = -1)
        assert e.message and e.code == 0x2000
        return
    finally:
        assert tmpl == before
    assert_bodies_valid(vm)
    # Nothing the user wrote is lost: each attribute is in USER_TEMPLATE or moved to TEMPLATE.
    consumed = {"NAME", "TEMPLATE_NAME", "VMID", "DEPLOY_ID", "SUBMIT_ON_HOLD"}
    kept = set(vm.user_template.names()) | set(vm.template.names())
    assert {a.name for a in before} - consumed <= kept


# -- VM templates, instantiation, references -------------------------------------------

def test_build_vm_template_takes_the_name_out():
    t = build_vm_template(4, parse_str_or_xml('NAME="tpl" CPU=1 MEMORY=2'), uid=5, gid=1,
                          uname="alice", gname="users", now=9)
    assert (t.name, t.regtime, t.permissions.to_octal()) == ("tpl", 9, "600")
    assert "NAME" not in t.template and t.template.get("CPU") == "1"
    assert_valid(xmlobj.render(t, "VMTEMPLATE"), "vmtemplate.xsd")


def test_instance_template_merges_and_records_origin():
    t = build_vm_template(4, parse_str_or_xml(
        'NAME="tpl" CPU=1 MEMORY=2 DISK=[IMAGE_ID=1] DISK=[IMAGE_ID=2] TEMPLATE_ID=77'),
        uid=5, gid=1, uname="alice", gname="users", now=9)
    merged = instance_template(t, parse_str_or_xml("MEMORY=4 DISK=[IMAGE_ID=3]"), "")
    assert merged.get("MEMORY") == "4" and len(merged.get_vectors("DISK")) == 1
    assert merged.get("TEMPLATE_ID") == "4" and merged.get("TEMPLATE_NAME") == "tpl"
    assert "NAME" not in merged
    assert split(merged, 10).name == "tpl-10"
    assert instance_template(t, None, "mine").get("NAME") == "mine"
    assert t.template.get("MEMORY") == "2"  # the stored template is untouched


def test_references():
    tmpl = parse_str_or_xml('DISK=[IMAGE_ID=3] DISK=[IMAGE="x", IMAGE_UNAME="bob"] '
                            'DISK=[TYPE=fs] DISK=[IMAGE_ID=bad] NIC=[NETWORK="n", NETWORK_UID=2]')
    images = references(tmpl, ("DISK",), "IMAGE")
    assert [(r.oid, r.name, r.uid, r.uname) for r in images] == [(3, "", None, ""),
                                                                 (None, "x", None, "bob")]
    nets = references(tmpl, ("NIC",), "NETWORK")
    assert [(r.oid, r.name, r.uid) for r in nets] == [(None, "n", 2)]


# -- the short body --------------------------------------------------------------------

def test_short_body_keeps_what_oned_keeps():
    vm = vm_of(REALISTIC + 'ERROR="" SCHED_MESSAGE="no hosts" USER_PRIORITY=5')
    vm.lock = Lock(locked=2, owner=5, time=1)
    vm.history = [HistoryRecord(*([7, seq, f"h{seq}"] + [0] * 4 + ["kvm", "ssh"] + [0] * 12
                                  + [""])) for seq in range(2)]
    short = short_body(vm)
    assert_valid(f"<VM_POOL>{short}</VM_POOL>", "vm_pool.xsd")
    assert_bodies_valid(vm)
    assert "<LOCK><LOCKED>2</LOCKED></LOCK>" in short
    assert short.count("<HISTORY>") == 1 and "<HOSTNAME>h1</HOSTNAME>" in short
    assert "<LABELS>prod,web</LABELS>" in short and "<USER_PRIORITY>5</USER_PRIORITY>" in short
    assert "<ERROR>" not in short and "<SCHED_MESSAGE>no hosts</SCHED_MESSAGE>" in short
    assert "DESCRIPTION" not in short and "<VCPU>" not in short
    assert short.count("<DISK>") == 3 and short.count("<NIC>") == 3
    assert len(short) < len(xmlobj.render(vm, "VM")) / 2


# -- one.vmpool.info's query -----------------------------------------------------------

def test_query_terms():
    body = xmlobj.render(vm_of(REALISTIC), "VM")
    assert matches(body, parse_query(""))
    assert matches(body, parse_query("VM.NAME=frontend"))
    assert matches(body, parse_query("VM.TEMPLATE.NIC[*].NAME=eth1&VM.UNAME=alice"))
    assert matches(body, parse_query("VM.TEMPLATE.NIC[1].NAME=eth1"))
    assert not matches(body, parse_query("VM.TEMPLATE.NIC[0].NAME=eth1"))
    assert matches(body, parse_query("VM.USER_TEMPLATE.DESCRIPTION=<with>"))
    assert matches(body, parse_query("host-passthrough"))
    assert not matches(body, parse_query("VM.NAME=Frontend"))
    assert not matches(body, parse_query("NAME=web"))  # paths start at VM
    with pytest.raises(Exception, match="Wrong query key"):
        parse_query("VM..NAME=x")
