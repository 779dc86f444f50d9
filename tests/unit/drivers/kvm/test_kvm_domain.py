"""The kvm driver's domain generator: every domain it makes, from many template variants
and from generated templates, is checked against libvirt's own schema with
``virt-xml-validate`` (skipped where it can't run); and what libvirt would get is what
the template says (names, sizes, files, buses, escaping)."""
from __future__ import annotations

import shutil
import subprocess
import tempfile
from xml.sax.saxutils import escape

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from nubo.drivers.kvm.devices import DomainError, disk_element, nic_element
from nubo.drivers.kvm.domain import (HostFacts, domain_name, domain_xml, owner_dir, parse_vm,
                                     vm_dir)

VM_DIR = "/var/lib/one/datastores/0/7"
FACTS = HostFacts(VM_DIR)


def _validator_missing() -> str:
    if shutil.which("virt-xml-validate") is None:
        return "virt-xml-validate is not installed (libvirt-clients)"
    if shutil.which("xmllint") is None:
        return "xmllint is not installed (libxml2-utils), virt-xml-validate needs it"
    return ""


needs_validator = pytest.mark.skipif(bool(_validator_missing()), reason=_validator_missing())


def validate(xml: str) -> None:
    with tempfile.NamedTemporaryFile("w", suffix=".xml") as f:
        f.write(xml)
        f.flush()
        run = subprocess.run(["virt-xml-validate", f.name, "domain"], capture_output=True,
                             text=True, timeout=60)
    assert run.returncode == 0, f"{run.stdout}{run.stderr}\n{xml}"


def vm(template: str, vm_id: int = 7, name: str = "web", extra: str = "") -> str:
    return (f"<VM><ID>{vm_id}</ID><NAME>{escape(name)}</NAME>{extra}<HISTORY_RECORDS>"
            "<HISTORY><SEQ>0</SEQ><HOSTNAME>old</HOSTNAME><DS_ID>100</DS_ID></HISTORY>"
            "<HISTORY><SEQ>1</SEQ><HOSTNAME>node1</HOSTNAME><DS_ID>0</DS_ID></HISTORY>"
            f"</HISTORY_RECORDS><TEMPLATE>{template}</TEMPLATE></VM>")


def gen(template: str, facts: HostFacts = FACTS, **kw) -> etree._Element:
    xml = domain_xml(vm(template, **kw), facts)
    if not _validator_missing():
        validate(xml)
    return etree.fromstring(xml)


KERNEL = "<OS><KERNEL>/boot/vmlinuz</KERNEL><INITRD>/boot/initrd.img</INITRD></OS>"
VARIANTS = {
    "minimal": "<MEMORY>128</MEMORY>",
    "kernel": f"<MEMORY>128</MEMORY><CPU>0.25</CPU>{KERNEL}",
    "kernel_ds": "<MEMORY>96</MEMORY><OS><KERNEL_DS>$FILE[IMAGE_ID=3]</KERNEL_DS>"
                 "<INITRD_DS>$FILE[IMAGE_ID=4]</INITRD_DS><ROOT>sda1</ROOT>"
                 "<KERNEL_CMD>console=ttyS0 quiet</KERNEL_CMD></OS>",
    "disks": "<MEMORY>512</MEMORY><VCPU>2</VCPU>"
             "<DISK><DISK_ID>0</DISK_ID><TARGET>vda</TARGET><DRIVER>qcow2</DRIVER>"
             "<CACHE>none</CACHE><IO>native</IO><DISCARD>unmap</DISCARD></DISK>"
             "<DISK><DISK_ID>1</DISK_ID><TARGET>sdb</TARGET><TYPE>swap</TYPE></DISK>"
             "<DISK><DISK_ID>2</DISK_ID><TARGET>hdc</TARGET><TYPE>CDROM</TYPE></DISK>"
             "<DISK><DISK_ID>3</DISK_ID><TARGET>vdd</TARGET><TYPE>BLOCK</TYPE>"
             "<READONLY>YES</READONLY></DISK>"
             "<DISK><DISK_ID>4</DISK_ID><TARGET>vde</TARGET><TYPE>fs</TYPE>"
             "<FORMAT>qcow2</FORMAT></DISK>"
             "<CONTEXT><DISK_ID>5</DISK_ID><TARGET>hda</TARGET><NETWORK>YES</NETWORK></CONTEXT>",
    "q35_sata": "<MEMORY>256</MEMORY><OS><MACHINE>q35</MACHINE><SD_DISK_BUS>sata</SD_DISK_BUS>"
                "<BOOT>disk0,nic0</BOOT></OS>"
                "<DISK><DISK_ID>0</DISK_ID><TARGET>sda</TARGET></DISK>"
                "<DISK><DISK_ID>1</DISK_ID><TARGET>hdb</TARGET></DISK>"
                "<NIC><NIC_ID>0</NIC_ID><BRIDGE>br0</BRIDGE><MAC>02:00:c6:33:64:02</MAC></NIC>",
    "nics": "<MEMORY>128</MEMORY>"
            "<NIC><NIC_ID>0</NIC_ID><BRIDGE>nbr0</BRIDGE><MAC>02:00:C6:33:64:02</MAC>"
            "<FILTER>clean-traffic</FILTER><IP>198.51.100.2</IP><MODEL>e1000</MODEL>"
            "<INBOUND_AVG_BW>1000</INBOUND_AVG_BW><INBOUND_PEAK_BW>2000</INBOUND_PEAK_BW>"
            "<OUTBOUND_AVG_BW>500</OUTBOUND_AVG_BW></NIC>"
            "<NIC><NIC_ID>1</NIC_ID><MAC>02:00:c6:33:64:03</MAC></NIC>"
            "<NIC><NIC_ID>2</NIC_ID><BRIDGE>ovsbr</BRIDGE><VN_MAD>ovswitch</VN_MAD>"
            "<TARGET>mytap0</TARGET></NIC>",
    "graphics_vnc": "<MEMORY>128</MEMORY><GRAPHICS><TYPE>VNC</TYPE><LISTEN>0.0.0.0</LISTEN>"
                    "<PORT>5907</PORT><PASSWD>p&lt;a'ss\"w&amp;rd</PASSWD><KEYMAP>es</KEYMAP>"
                    "</GRAPHICS>"
                    "<INPUT><TYPE>tablet</TYPE><BUS>usb</BUS></INPUT>"
                    "<INPUT><TYPE>keyboard</TYPE><BUS>virtio</BUS></INPUT>",
    "graphics_spice": "<MEMORY>128</MEMORY><GRAPHICS><TYPE>spice</TYPE></GRAPHICS>",
    "features": "<MEMORY>128</MEMORY><FEATURES><ACPI>no</ACPI><APIC>yes</APIC><PAE>yes</PAE>"
                "<HYPERV>yes</HYPERV><LOCALTIME>yes</LOCALTIME><GUEST_AGENT>yes</GUEST_AGENT>"
                "</FEATURES>",
    "cpu_model": "<MEMORY>128</MEMORY><VCPU>4</VCPU><CPU_MODEL><MODEL>Haswell</MODEL></CPU_MODEL>"
                 "<TOPOLOGY><SOCKETS>1</SOCKETS><CORES>2</CORES><THREADS>2</THREADS></TOPOLOGY>",
    "passthrough": "<MEMORY>128</MEMORY><CPU_MODEL><MODEL>host-passthrough</MODEL></CPU_MODEL>",
    "resizable": "<MEMORY>128</MEMORY><MEMORY_MAX>512</MEMORY_MAX><VCPU>1</VCPU>"
                 "<VCPU_MAX>4</VCPU_MAX>",
    "uefi": "<MEMORY>128</MEMORY><OS><FIRMWARE>UEFI</FIRMWARE><MACHINE>q35</MACHINE></OS>",
    "uefi_path": "<MEMORY>128</MEMORY><OS><FIRMWARE>/usr/share/OVMF/OVMF_CODE_4M.secboot.fd"
                 "</FIRMWARE><FIRMWARE_SECURE>YES</FIRMWARE_SECURE><MACHINE>q35</MACHINE></OS>",
    "boot_words": "<MEMORY>128</MEMORY><OS><BOOT>cdrom,hd,network</BOOT></OS>",
    "raw": "<MEMORY>128</MEMORY><RAW><TYPE>kvm</TYPE><DATA><![CDATA[<clock offset='localtime'/>"
           "<devices><memballoon model='none'/></devices>"
           "<qemu:commandline><qemu:arg value='-no-hpet'/></qemu:commandline>]]></DATA></RAW>"
           "<RAW><TYPE>vmware</TYPE><DATA>ignored</DATA></RAW>",
    "context_default_target": "<MEMORY>128</MEMORY>"
                              "<DISK><DISK_ID>0</DISK_ID><TARGET>hda</TARGET></DISK>"
                              "<CONTEXT><FILES_DS>x</FILES_DS></CONTEXT>",
}


@needs_validator
@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_every_template_variant_makes_a_domain_libvirt_accepts(name):
    gen(VARIANTS[name])


def test_name_memory_cpu_and_metadata_come_from_the_vm():
    dom = gen("<MEMORY>512</MEMORY><CPU>1.5</CPU><VCPU>3</VCPU>",
              name='odd "name" <with> & stuff')
    assert dom.get("type") == "qemu"
    assert dom.findtext("name") == "one-7"
    assert dom.findtext("title") == 'odd "name" <with> & stuff'
    assert dom.findtext("memory") == str(512 * 1024)
    assert dom.find("memory").get("unit") == "KiB"
    assert dom.findtext("vcpu") == "3"
    assert dom.findtext("cputune/shares") == "1536"
    assert dom.find("devices/emulator") is None  # libvirt's default for the arch
    meta = dom.find("metadata/{http://opennebula.org/xmlns/libvirt/1.0}vm")
    assert meta.findtext("{http://opennebula.org/xmlns/libvirt/1.0}system_datastore") == VM_DIR
    dom = gen("<MEMORY>128</MEMORY>", HostFacts(VM_DIR, "kvm", "/usr/bin/kvm"))
    assert (dom.get("type"), dom.findtext("devices/emulator")) == ("kvm", "/usr/bin/kvm")


def test_a_running_domain_says_whose_it_is():
    assert owner_dir(domain_xml(vm("<MEMORY>128</MEMORY>"), FACTS)) == VM_DIR
    assert owner_dir("<domain type='kvm'><name>one-7</name></domain>") is None  # not nubo's
    assert owner_dir("<domain") is None


def test_qemu_runs_as_nubos_user_or_libvirts():
    """A static DAC label: QEMU as nubo's own user opens the VM's files, which live in
    directories only that user may enter; none leaves it to libvirt's qemu.conf."""
    label = gen("<MEMORY>128</MEMORY>", HostFacts(VM_DIR, qemu_user="1001:1002")).find(
        "seclabel")
    assert (label.get("type"), label.get("model"), label.get("relabel")) == \
        ("static", "dac", "no")
    assert label.findtext("label") == "+1001:+1002"
    assert gen("<MEMORY>128</MEMORY>").find("seclabel") is None


def test_kernel_paths_and_kernel_ds_files_of_the_vm_directory():
    os_elem = gen(VARIANTS["kernel"]).find("os")
    assert (os_elem.findtext("kernel"), os_elem.findtext("initrd")) == \
        ("/boot/vmlinuz", "/boot/initrd.img")
    assert os_elem.find("boot") is None  # a direct kernel boot needs no boot device
    os_elem = gen(VARIANTS["kernel_ds"]).find("os")
    assert os_elem.findtext("kernel") == f"{VM_DIR}/kernel"
    assert os_elem.findtext("initrd") == f"{VM_DIR}/initrd"
    assert os_elem.findtext("cmdline") == "root=/dev/sda1 console=ttyS0 quiet"


def test_disks_files_buses_drivers_and_the_context_cdrom():
    devices = gen(VARIANTS["disks"]).find("devices")
    disks = {d.find("target").get("dev"): d for d in devices.iterfind("disk")}
    assert disks["vda"].find("source").get("file") == f"{VM_DIR}/disk.0"
    assert disks["vda"].find("target").get("bus") == "virtio"
    assert dict(disks["vda"].find("driver").attrib) == {
        "name": "qemu", "type": "qcow2", "cache": "none", "io": "native", "discard": "unmap"}
    assert disks["sdb"].find("target").get("bus") == "scsi"
    assert disks["hdc"].get("device") == "cdrom" and disks["hdc"].find("readonly") is not None
    assert disks["hdc"].find("target").get("bus") == "ide"
    assert disks["vdd"].get("type") == "block"
    assert disks["vdd"].find("source").get("dev") == f"{VM_DIR}/disk.3"
    assert disks["vde"].find("driver").get("type") == "qcow2"
    assert disks["hda"].get("device") == "cdrom"
    assert disks["hda"].find("source").get("file") == f"{VM_DIR}/disk.5"
    assert devices.find("controller[@type='scsi']").get("model") == "virtio-scsi"
    # the context's default disk number is the number of DISKs, its target a free hdX
    ctx = gen(VARIANTS["context_default_target"]).find("devices/disk[@device='cdrom']")
    assert ctx.find("source").get("file") == f"{VM_DIR}/disk.1"
    assert ctx.find("target").get("dev") == "hdb"


def test_q35_puts_hd_and_sd_disks_on_sata_and_boot_order_on_devices():
    dom = gen(VARIANTS["q35_sata"])
    buses = {d.find("target").get("dev"): d.find("target").get("bus")
             for d in dom.iterfind("devices/disk")}
    assert buses == {"sda": "sata", "hdb": "sata"}
    assert dom.find("devices/disk/boot").get("order") == "1"
    assert dom.find("devices/interface/boot").get("order") == "2"
    assert dom.find("os/boot") is None
    assert [b.get("dev") for b in gen(VARIANTS["boot_words"]).iterfind("os/boot")] == \
        ["cdrom", "hd", "network"]


def test_nics_bridge_mac_tap_model_filter_bandwidth():
    nics = gen(VARIANTS["nics"], vm_id=900123).findall("devices/interface")
    first, second, third = nics
    assert first.get("type") == "bridge" and first.find("source").get("bridge") == "nbr0"
    assert first.find("mac").get("address") == "02:00:c6:33:64:02"
    assert first.find("target").get("dev") == "one-900123-0"
    assert first.find("model").get("type") == "e1000"
    assert first.find("filterref").get("filter") == "clean-traffic"
    assert first.find("filterref/parameter").get("value") == "198.51.100.2"
    assert dict(first.find("bandwidth/inbound").attrib) == {"average": "1000", "peak": "2000"}
    assert second.get("type") == "ethernet" and second.find("model").get("type") == "virtio"
    assert third.find("target").get("dev") == "mytap0"
    assert third.find("virtualport").get("type") == "openvswitch"


def test_graphics_password_is_a_value_and_inputs_features_consoles():
    dom = gen(VARIANTS["graphics_vnc"])
    graphics = dom.find("devices/graphics")
    assert (graphics.get("type"), graphics.get("port"), graphics.get("passwd")) == \
        ("vnc", "5907", "p<a'ss\"w&rd")
    assert graphics.find("listen").get("address") == "0.0.0.0"
    assert [(i.get("type"), i.get("bus")) for i in dom.iterfind("devices/input")] == \
        [("tablet", "usb"), ("keyboard", "virtio")]
    assert dom.find("features/acpi") is not None  # on by default: SHUTDOWN presses it
    assert dom.find("devices/serial/log").get("file") == f"{VM_DIR}/serial.log"
    features = gen(VARIANTS["features"])
    assert features.find("features/acpi") is None
    assert {f.tag for f in features.find("features")} == {"apic", "pae", "hyperv"}
    assert features.find("clock").get("offset") == "localtime"
    assert features.find("devices/channel/target").get("name") == "org.qemu.guest_agent.0"
    assert gen(VARIANTS["graphics_spice"]).find("devices/graphics").get("autoport") == "yes"


def test_cpu_models_resizable_ceilings_and_raw_data():
    dom = gen(VARIANTS["cpu_model"])
    assert dom.findtext("cpu/model") == "Haswell"
    assert dom.find("cpu/topology").get("cores") == "2"
    assert gen(VARIANTS["passthrough"]).find("cpu").get("mode") == "maximum"  # TCG
    kvm = domain_xml(vm(VARIANTS["passthrough"]), HostFacts(VM_DIR, "kvm"))
    assert 'mode="host-passthrough"' in kvm
    dom = gen(VARIANTS["resizable"])
    assert (dom.findtext("vcpu"), dom.find("vcpu").get("current")) == ("4", "1")
    assert (dom.findtext("memory"), dom.findtext("currentMemory")) == ("524288", "131072")
    raw = gen(VARIANTS["raw"])
    assert [c.get("offset") for c in raw.iterfind("clock")] == ["localtime"]  # replaced
    assert raw.find("devices/memballoon").get("model") == "none"
    assert raw.find("{http://libvirt.org/schemas/domain/qemu/1.0}commandline") is not None


@pytest.mark.parametrize("template, message", [
    ("", "no MEMORY"),
    ("<MEMORY>lots</MEMORY>", "MEMORY 'lots' is not a number"),
    ("<MEMORY>128</MEMORY><DISK><DISK_ID>0</DISK_ID></DISK>", "DISK 0 has no TARGET"),
    ("<MEMORY>128</MEMORY><DISK><DISK_ID>0</DISK_ID><TARGET>vda</TARGET><CACHE>fast</CACHE>"
     "</DISK>", "DISK 0 CACHE 'fast' is not one of"),
    ("<MEMORY>128</MEMORY><DISK><DISK_ID>0</DISK_ID><TARGET>vda</TARGET><TYPE>RBD</TYPE>"
     "</DISK>", "TYPE 'RBD' is not supported"),
    ("<MEMORY>128</MEMORY><NIC><NIC_ID>0</NIC_ID><MAC>zz</MAC></NIC>", "MAC 'zz'"),
    ("<MEMORY>128</MEMORY><NIC><NIC_ID>0</NIC_ID><BRIDGE>a b</BRIDGE></NIC>", "BRIDGE 'a b'"),
    ("<MEMORY>128</MEMORY><GRAPHICS><TYPE>sdl</TYPE></GRAPHICS>", "GRAPHICS TYPE 'sdl'"),
    ("<MEMORY>128</MEMORY><VCPU>3</VCPU><VCPU_MAX>2</VCPU_MAX>", "above VCPU_MAX"),
    ("<MEMORY>128</MEMORY><RAW><TYPE>kvm</TYPE><DATA>&lt;oops</DATA></RAW>", "RAW DATA is not XML"),
    ("<MEMORY>128</MEMORY><OS><BOOT>disk4</BOOT></OS>", "OS BOOT names 'disk4'"),
    ("<MEMORY>128</MEMORY><VCPU>2</VCPU><TOPOLOGY><CORES>4</CORES></TOPOLOGY>", "TOPOLOGY"),
])
def test_templates_libvirt_would_refuse_fail_with_a_message_about_the_template(template, message):
    with pytest.raises(DomainError, match=message.replace("(", r"\(")):
        domain_xml(vm(template), FACTS)


def test_vm_dir_uses_the_newest_history_record_or_the_one_on_the_host():
    doc = parse_vm(vm("<MEMORY>1</MEMORY>"))
    assert vm_dir(doc, "/srv/ds/") == "/srv/ds/0/7"
    assert vm_dir(doc, "/srv/ds", host="old") == "/srv/ds/100/7"
    assert domain_name(doc) == "one-7"
    assert domain_name(parse_vm(vm("", extra="<DEPLOY_ID>one-7b</DEPLOY_ID>"))) == "one-7b"
    with pytest.raises(DomainError, match="DS_ID"):
        vm_dir(parse_vm("<VM><ID>1</ID></VM>"), "/x")


def test_hotplug_devices_are_the_devices_of_the_domain():
    disk = {"DISK_ID": "3", "TARGET": "vdc", "DRIVER": "qcow2"}
    elem = disk_element(disk, VM_DIR)
    assert elem.find("source").get("file") == f"{VM_DIR}/disk.3"
    nic = nic_element({"NIC_ID": "2", "MAC": "02:00:00:00:00:01"}, 9)
    assert nic.find("target").get("dev") == "one-9-2"


# ------------------------------------------------------------------- generated templates

_words = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=20)
_disk_types = st.sampled_from(["", "FILE", "fs", "swap", "BLOCK", "CDROM"])
_caches = st.sampled_from(["", "none", "writeback", "unsafe", "directsync"])


@st.composite
def templates(draw) -> tuple[str, dict]:
    parts = [f"<MEMORY>{draw(st.integers(96, 4096))}</MEMORY>"]
    vcpu = draw(st.integers(1, 8))
    parts.append(f"<VCPU>{vcpu}</VCPU><CPU>{draw(st.sampled_from(['0.1', '1', '2.5']))}</CPU>")
    if draw(st.booleans()):
        parts.append(f"<VCPU_MAX>{vcpu + draw(st.integers(0, 4))}</VCPU_MAX>")
    machine = draw(st.sampled_from(["", "pc", "q35"]))
    os_parts = [f"<MACHINE>{machine}</MACHINE>" if machine else ""]
    if draw(st.booleans()):
        os_parts.append("<KERNEL>/boot/vmlinuz</KERNEL><INITRD>/boot/initrd.img</INITRD>"
                        f"<KERNEL_CMD>{escape(draw(_words))}</KERNEL_CMD>")
    parts.append(f"<OS>{''.join(os_parts)}</OS>")
    prefixes = ["vd", "sd", "hd"]
    n_disks = draw(st.integers(0, 4))
    for i in range(n_disks):
        kind = draw(_disk_types)
        prefix = draw(st.sampled_from(["sd", "hd"] if kind == "CDROM" else prefixes))
        target = f"{prefix}{'abcdefgh'[i]}"
        parts.append(f"<DISK><DISK_ID>{i}</DISK_ID><TARGET>{target}</TARGET><TYPE>{kind}</TYPE>"
                     f"<CACHE>{draw(_caches)}</CACHE>"
                     f"<DRIVER>{draw(st.sampled_from(['', 'raw', 'qcow2']))}</DRIVER>"
                     f"<READONLY>{draw(st.sampled_from(['', 'YES', 'NO']))}</READONLY>"
                     "</DISK>")
    if draw(st.booleans()):
        parts.append("<CONTEXT><TARGET>hdz</TARGET><DISK_ID>9</DISK_ID></CONTEXT>")
    for i in range(draw(st.integers(0, 3))):
        bridge = draw(st.sampled_from(["", "nbr0", "br-1"]))
        mac = draw(st.sampled_from(["", "02:00:c6:33:64:0a"]))
        parts.append(f"<NIC><NIC_ID>{i}</NIC_ID><BRIDGE>{bridge}</BRIDGE><MAC>{mac}</MAC>"
                     f"<MODEL>{draw(st.sampled_from(['', 'virtio', 'e1000']))}</MODEL></NIC>")
    if draw(st.booleans()):
        port = draw(st.sampled_from(["", "5900", "65535"]))
        parts.append(f"<GRAPHICS><TYPE>{draw(st.sampled_from(['vnc', 'SPICE']))}</TYPE>"
                     f"<PORT>{port}</PORT><PASSWD>{escape(draw(_words))}</PASSWD></GRAPHICS>")
    if draw(st.booleans()):
        parts.append("<FEATURES>" + "".join(
            f"<{k}>{draw(st.sampled_from(['yes', 'no']))}</{k}>"
            for k in ("ACPI", "APIC", "PAE", "HYPERV", "LOCALTIME")) + "</FEATURES>")
    return "".join(parts), {"vcpu": vcpu, "disks": n_disks}


@needs_validator
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(templates(), _words, st.integers(0, 10**6), st.sampled_from(["kvm", "qemu"]))
def test_every_generated_template_makes_a_valid_domain(template, name, vm_id, kind):
    body, expect = template
    xml = domain_xml(vm(body, vm_id=vm_id, name=name), HostFacts(VM_DIR, kind))
    validate(xml)
    dom = etree.fromstring(xml)
    assert dom.findtext("name") == f"one-{vm_id}"
    assert len(dom.findall("devices/disk[@device='disk']")) + len(
        dom.findall("devices/disk[@device='cdrom']")) >= expect["disks"]
    assert dom.find("vcpu").get("current", dom.findtext("vcpu")) == str(expect["vcpu"])
