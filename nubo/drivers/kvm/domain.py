"""The VM's body (as one.vm.info renders it) -> libvirt domain XML: OpenNebula's
deployment file for KVM (LibVirtDriverKVM.cc), as a pure function.

No libvirt and no I/O here: the facts about the host (the VM's directory on it, the
domain type its probe found usable, the emulator) come in as :class:`HostFacts`, so
every template variant can be generated and checked against libvirt's schema in the
unit tests. Values are set through lxml, never pasted into text, so a NAME or a
KERNEL_CMD holding quotes or ``<`` stays a value.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from lxml import etree

from nubo.drivers.kvm.devices import (
    DomainError, context_element, disk_element, nic_element, vector, yes,
)

#: OpenNebula's namespace for the VM facts kept in the domain's metadata (its probes
#: read them to tell its own VMs from wild ones).
ONE_NS = "http://opennebula.org/xmlns/libvirt/1.0"
QEMU_NS = "http://libvirt.org/schemas/domain/qemu/1.0"
DOMAIN_TYPES = ("kvm", "qemu")
_BOOT_DEVS = {"hd", "cdrom", "network", "fd"}
_SAFE = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)

__all__ = ["DomainError", "HostFacts", "domain_name", "domain_xml", "owner_dir", "parse_vm",
           "vm_dir"]


@dataclass(frozen=True)
class HostFacts:
    """What the domain needs to know about the host it will run on."""

    vm_dir: str                                 # <datastore_location>/<DS_ID>/<VM_ID>
    domain_type: str = "qemu"                   # 'kvm' where KVM is usable, else TCG
    emulator: str = ""                          # empty: libvirt's default for the arch
    #: "UID:GID" QEMU runs as (a static DAC label), as OpenNebula runs it as oneadmin:
    #: the VM's files are nubo's, in directories only nubo's user may enter; "" for
    #: libvirt's own (qemu.conf's user, with its files relabelled).
    qemu_user: str = ""


def parse_vm(payload: bytes | str | etree._Element) -> etree._Element:
    """The payload's VM element (the payload may be the VM itself or wrap it)."""
    if isinstance(payload, etree._Element):
        root = payload
    else:
        data = payload.encode() if isinstance(payload, str) else payload
        try:
            root = etree.fromstring(data, _SAFE)
        except etree.XMLSyntaxError as e:
            raise DomainError(f"unreadable VM document: {e}") from None
    vm = root if root.tag == "VM" else root.find(".//VM")
    if vm is None:
        raise DomainError("the payload holds no VM")
    return vm


def vm_id(vm: etree._Element) -> int:
    try:
        return int((vm.findtext("ID") or "").strip())
    except ValueError:
        raise DomainError("the VM has no ID") from None


def domain_name(vm: etree._Element) -> str:
    """The VM's DEPLOY_ID once it has one, else the name DEPLOY gives it: one-<ID>."""
    return (vm.findtext("DEPLOY_ID") or "").strip() or f"one-{vm_id(vm)}"


def history(vm: etree._Element, host: str | None = None) -> etree._Element | None:
    """The newest HISTORY record (on ``host`` if one is), by SEQ."""
    records = vm.findall("HISTORY_RECORDS/HISTORY")
    if host:
        on_host = [r for r in records if (r.findtext("HOSTNAME") or "") == host]
        records = on_host or records
    if not records:
        return None
    return max(records, key=lambda r: int((r.findtext("SEQ") or "0").strip() or 0))


def vm_dir(vm: etree._Element, datastore_location: str, host: str | None = None) -> str:
    """``<datastore_location>/<system DS_ID>/<VM_ID>``: where the transfer driver put
    the VM's disks on its host (DS_ID of the newest HISTORY on ``host``)."""
    record = history(vm, host)
    ds_id = (record.findtext("DS_ID") or "").strip() if record is not None else ""
    if not ds_id:
        raise DomainError("the VM has no HISTORY record with a system datastore (DS_ID)")
    return f"{datastore_location.rstrip('/')}/{ds_id}/{vm_id(vm)}"


def _int(value: str | None, what: str, default: int | None = None, minimum: int = 0) -> int:
    raw = (value or "").strip()
    if not raw:
        if default is None:
            raise DomainError(f"the VM has no {what}")
        return default
    try:
        number = int(float(raw)) if "." in raw else int(raw)
    except ValueError:
        raise DomainError(f"{what} '{raw}' is not a number") from None
    if number < minimum:
        raise DomainError(f"{what} '{raw}' is below {minimum}")
    return number


def domain_xml(payload: bytes | str | etree._Element, facts: HostFacts) -> str:
    """The libvirt domain for the VM, as a string ready for createXML."""
    vm = parse_vm(payload)
    if facts.domain_type not in DOMAIN_TYPES:
        raise DomainError(f"domain type '{facts.domain_type}' is not kvm or qemu")
    tmpl = vm.find("TEMPLATE")
    if tmpl is None:
        raise DomainError("the VM has no TEMPLATE")
    oid = vm_id(vm)
    os_vec = vector(tmpl.find("OS"))
    machine = (os_vec.get("MACHINE") or "").strip()
    sd_bus = (os_vec.get("SD_DISK_BUS") or "scsi").strip().lower()
    if sd_bus not in ("scsi", "sata"):
        raise DomainError(f"OS SD_DISK_BUS '{sd_bus}' is not scsi or sata")

    dom = etree.Element("domain", type=facts.domain_type, nsmap={"qemu": QEMU_NS})
    etree.SubElement(dom, "name").text = f"one-{oid}"
    title = " ".join((vm.findtext("NAME") or "").split())
    if title:
        etree.SubElement(dom, "title").text = title[:200]
    _metadata(dom, vm, facts)
    _cpu_memory(dom, tmpl, facts)
    _os(dom, os_vec, facts)
    _features(dom, vector(tmpl.find("FEATURES")), os_vec)
    etree.SubElement(dom, "on_poweroff").text = "destroy"
    etree.SubElement(dom, "on_reboot").text = "restart"
    etree.SubElement(dom, "on_crash").text = "destroy"
    devices = etree.SubElement(dom, "devices")
    if facts.emulator:
        etree.SubElement(devices, "emulator").text = facts.emulator
    _disks(devices, tmpl, facts.vm_dir, machine, sd_bus)
    for index, nic in enumerate(tmpl.findall("NIC")):
        devices.append(nic_element(vector(nic), oid, index))
    _graphics(devices, tmpl)
    _inputs(devices, tmpl)
    _consoles(devices, facts.vm_dir, vector(tmpl.find("FEATURES")))
    _boot_order(dom, devices, os_vec)
    if facts.qemu_user:
        label = etree.SubElement(dom, "seclabel", type="static", model="dac", relabel="no")
        etree.SubElement(label, "label").text = "+" + facts.qemu_user.replace(":", ":+")
    _raw(dom, tmpl)
    return etree.tostring(dom, encoding="unicode", pretty_print=True)


def _metadata(dom: etree._Element, vm: etree._Element, facts: HostFacts) -> None:
    meta = etree.SubElement(dom, "metadata")
    one = etree.SubElement(meta, f"{{{ONE_NS}}}vm", nsmap={"one": ONE_NS})
    for tag, value in (("id", vm.findtext("ID")), ("name", vm.findtext("NAME")),
                       ("uid", vm.findtext("UID")), ("uname", vm.findtext("UNAME")),
                       ("gid", vm.findtext("GID")), ("gname", vm.findtext("GNAME")),
                       ("system_datastore", facts.vm_dir)):
        etree.SubElement(one, f"{{{ONE_NS}}}{tag}").text = (value or "").strip()


def owner_dir(xml: str) -> str | None:
    """The VM directory a running domain's metadata names (``_metadata``): whose domain
    it is. None for a domain nubo did not make."""
    try:
        root = etree.fromstring(xml.encode(), _SAFE)
    except etree.XMLSyntaxError:
        return None
    found = root.find(f"metadata/{{{ONE_NS}}}vm/{{{ONE_NS}}}system_datastore")
    return (found.text or "").strip() if found is not None else None


def _cpu_memory(dom: etree._Element, tmpl: etree._Element, facts: HostFacts) -> None:
    """VCPU (VCPU_MAX: the ceiling of a live resize), CPU as cgroup shares, MEMORY in MB
    (MEMORY_MAX: the ceiling the balloon may grow to), CPU_MODEL, TOPOLOGY."""
    vcpu = _int(tmpl.findtext("VCPU"), "VCPU", 1, 1)
    vcpu_max = _int(tmpl.findtext("VCPU_MAX"), "VCPU_MAX", vcpu, 1)
    if vcpu_max < vcpu:
        raise DomainError(f"VCPU {vcpu} is above VCPU_MAX {vcpu_max}")
    elem = etree.SubElement(dom, "vcpu")
    elem.text = str(vcpu_max)
    if vcpu_max > vcpu:
        elem.set("current", str(vcpu))
    try:
        cpu = float((tmpl.findtext("CPU") or "1").strip() or 1)
    except ValueError:
        raise DomainError(f"CPU '{tmpl.findtext('CPU')}' is not a number") from None
    if not cpu > 0 or math.isinf(cpu):
        raise DomainError(f"CPU '{tmpl.findtext('CPU')}' must be above 0")
    tune = etree.SubElement(dom, "cputune")
    etree.SubElement(tune, "shares").text = str(min(262144, max(2, math.ceil(1024 * cpu))))
    memory = _int(tmpl.findtext("MEMORY"), "MEMORY", None, 1)
    memory_max = _int(tmpl.findtext("MEMORY_MAX"), "MEMORY_MAX", memory, 1)
    if memory_max < memory:
        raise DomainError(f"MEMORY {memory} is above MEMORY_MAX {memory_max}")
    etree.SubElement(dom, "memory", unit="KiB").text = str(memory_max * 1024)
    etree.SubElement(dom, "currentMemory", unit="KiB").text = str(memory * 1024)
    model = (vector(tmpl.find("CPU_MODEL")).get("MODEL") or "").strip()
    topology = vector(tmpl.find("TOPOLOGY"))
    if not model and not topology:
        return
    cpu_elem = etree.SubElement(dom, "cpu")
    if model in ("host-passthrough", "host-model"):
        # TCG cannot pass the host's CPU through: the richest model it emulates instead,
        # so a template written for KVM hosts still boots where KVM is not usable.
        cpu_elem.set("mode", "maximum" if facts.domain_type == "qemu" else model)
    elif model:
        cpu_elem.set("mode", "custom")
        etree.SubElement(cpu_elem, "model", fallback="forbid").text = model
    if topology:
        sockets, cores, threads = (_int(topology.get(k), f"TOPOLOGY {k}", 1, 1)
                                   for k in ("SOCKETS", "CORES", "THREADS"))
        if sockets * cores * threads != vcpu_max:
            raise DomainError(f"TOPOLOGY {sockets} sockets x {cores} cores x {threads} threads "
                              f"is not the VM's {vcpu_max} VCPU")
        etree.SubElement(cpu_elem, "topology", sockets=str(sockets), cores=str(cores),
                         threads=str(threads))


def _os(dom: etree._Element, os_vec: dict[str, str], facts: HostFacts) -> None:
    """OS: ARCH, MACHINE, FIRMWARE (UEFI or a loader path), KERNEL/INITRD (a path on the
    host, or KERNEL_DS/INITRD_DS: the files datastore's file, which OpenNebula's transfer
    manager copies to <vm dir>/kernel and <vm dir>/initrd), ROOT, KERNEL_CMD."""
    os_elem = etree.SubElement(dom, "os")
    firmware = (os_vec.get("FIRMWARE") or "").strip()
    uefi = bool(firmware) and firmware.upper() != "BIOS"
    if uefi and firmware.upper() in ("UEFI", "EFI"):
        os_elem.set("firmware", "efi")
    arch = (os_vec.get("ARCH") or "x86_64").strip()
    os_type = etree.SubElement(os_elem, "type", arch=arch)
    os_type.text = "hvm"
    if os_vec.get("MACHINE", "").strip():
        os_type.set("machine", os_vec["MACHINE"].strip())
    if uefi and firmware.upper() not in ("UEFI", "EFI"):
        if not firmware.startswith("/"):
            raise DomainError(f"OS FIRMWARE '{firmware}' is not BIOS, UEFI or a path")
        loader = etree.SubElement(os_elem, "loader", readonly="yes", type="pflash",
                                  secure="yes" if yes(os_vec.get("FIRMWARE_SECURE")) else "no")
        loader.text = firmware
        etree.SubElement(os_elem, "nvram").text = f"{facts.vm_dir}/uefi_vars.fd"
    kernel = f"{facts.vm_dir}/kernel" if os_vec.get("KERNEL_DS", "").strip() \
        else os_vec.get("KERNEL", "").strip()
    initrd = f"{facts.vm_dir}/initrd" if os_vec.get("INITRD_DS", "").strip() \
        else os_vec.get("INITRD", "").strip()
    if kernel:
        etree.SubElement(os_elem, "kernel").text = kernel
        if initrd:
            etree.SubElement(os_elem, "initrd").text = initrd
        cmdline = os_vec.get("KERNEL_CMD", "").strip()
        root = os_vec.get("ROOT", "").strip()
        if root:
            cmdline = f"root=/dev/{root} {cmdline}".strip()
        if cmdline:
            etree.SubElement(os_elem, "cmdline").text = " ".join(cmdline.split())
    elif initrd:
        raise DomainError("OS INITRD is given without a KERNEL")


def _features(dom: etree._Element, features: dict[str, str], os_vec: dict[str, str]) -> None:
    """FEATURES: ACPI (on unless ACPI = no: SHUTDOWN presses its power button), APIC, PAE,
    HYPERV, LOCALTIME (the guest clock)."""
    elem = etree.SubElement(dom, "features")
    if features.get("ACPI", "yes").strip().lower() not in ("no", "false", "0", "off"):
        etree.SubElement(elem, "acpi")
    for key in ("APIC", "PAE"):
        if yes(features.get(key)):
            etree.SubElement(elem, key.lower())
    if yes(features.get("HYPERV")):
        hyperv = etree.SubElement(elem, "hyperv", mode="custom")
        etree.SubElement(hyperv, "relaxed", state="on")
        etree.SubElement(hyperv, "vapic", state="on")
        etree.SubElement(hyperv, "spinlocks", state="on", retries="4096")
    if yes(os_vec.get("FIRMWARE_SECURE")):
        etree.SubElement(elem, "smm", state="on")
    etree.SubElement(dom, "clock", offset="localtime" if yes(features.get("LOCALTIME")) else "utc")


def _disks(devices: etree._Element, tmpl: etree._Element, vm_dir: str, machine: str,
           sd_bus: str) -> None:
    """DISKs in order, then the context CD-ROM; a virtio-scsi controller when a disk
    sits on the SCSI bus (libvirt would otherwise add an LSI one)."""
    used: set[str] = set()
    disks = tmpl.findall("DISK")
    for index, disk in enumerate(disks):
        elem = disk_element(vector(disk), vm_dir, machine=machine, sd_bus=sd_bus, index=index)
        used.add(elem.find("target").get("dev"))
        devices.append(elem)
    context = tmpl.find("CONTEXT")
    if context is not None:
        ctx = vector(context)
        target = ctx.get("TARGET", "").strip() or next(
            f"hd{c}" for c in "abcdefghijklmnopqrstuvwxyz" if f"hd{c}" not in used)
        if target in used:
            raise DomainError(f"CONTEXT TARGET '{target}' is already a DISK's")
        devices.append(context_element(ctx, vm_dir, len(disks), target, machine, sd_bus))
    if any(d.find("target").get("bus") == "scsi" for d in devices.iterfind("disk")):
        etree.SubElement(devices, "controller", type="scsi", index="0", model="virtio-scsi")


def _graphics(devices: etree._Element, tmpl: etree._Element) -> None:
    """GRAPHICS: VNC or SPICE on LISTEN:PORT (PORT chosen by the core, 5900 + VM id by
    default; none: libvirt picks one), PASSWD, KEYMAP."""
    graphics = vector(tmpl.find("GRAPHICS"))
    if not graphics:
        return
    kind = graphics.get("TYPE", "").strip().lower()
    if kind not in ("vnc", "spice"):
        raise DomainError(f"GRAPHICS TYPE '{graphics.get('TYPE', '')}' is not vnc or spice")
    elem = etree.SubElement(devices, "graphics", type=kind)
    port = _int(graphics.get("PORT"), "GRAPHICS PORT", -1, -1)
    if port >= 0:
        if not 5900 <= port <= 65535:
            raise DomainError(f"GRAPHICS PORT {port} is outside 5900-65535")
        elem.set("port", str(port))
        elem.set("autoport", "no")
    else:
        elem.set("autoport", "yes")
    passwd = graphics.get("PASSWD", "")
    if passwd:
        elem.set("passwd", passwd)
    keymap = graphics.get("KEYMAP", "").strip()
    if keymap:
        elem.set("keymap", keymap)
    listen = graphics.get("LISTEN", "").strip()
    if listen:
        elem.set("listen", listen)
        etree.SubElement(elem, "listen", type="address", address=listen)


def _inputs(devices: etree._Element, tmpl: etree._Element) -> None:
    for inp in tmpl.findall("INPUT"):
        vec = vector(inp)
        kind = vec.get("TYPE", "").strip().lower()
        bus = vec.get("BUS", "").strip().lower() or "usb"
        if kind not in ("mouse", "tablet", "keyboard"):
            raise DomainError(f"INPUT TYPE '{vec.get('TYPE', '')}' is not mouse, tablet or "
                              "keyboard")
        if bus not in ("usb", "ps2", "virtio"):
            raise DomainError(f"INPUT BUS '{bus}' is not usb, ps2 or virtio")
        if kind == "tablet" and bus == "ps2":
            raise DomainError("INPUT tablet needs the usb or virtio BUS")
        etree.SubElement(devices, "input", type=kind, bus=bus)


def _consoles(devices: etree._Element, vm_dir: str, features: dict[str, str]) -> None:
    """A serial console on a pty (``virsh console``), everything it prints logged to
    <vm dir>/serial.log; the guest agent's channel with FEATURES/GUEST_AGENT."""
    serial = etree.SubElement(devices, "serial", type="pty")
    etree.SubElement(serial, "log", file=f"{vm_dir}/serial.log", append="on")
    etree.SubElement(serial, "target", port="0")
    console = etree.SubElement(devices, "console", type="pty")
    etree.SubElement(console, "target", type="serial", port="0")
    if yes(features.get("GUEST_AGENT")):
        channel = etree.SubElement(devices, "channel", type="unix")
        etree.SubElement(channel, "target", type="virtio", name="org.qemu.guest_agent.0")


def _boot_order(dom: etree._Element, devices: etree._Element, os_vec: dict[str, str]) -> None:
    """OS/BOOT: OpenNebula's device list (``disk0,nic1``) as per-device boot order, or the
    old words (hd, cdrom, network, fd) as <boot dev>; none: the first disk."""
    os_elem = dom.find("os")
    items = [b.strip().lower() for b in os_vec.get("BOOT", "").split(",") if b.strip()]
    if os_elem.find("kernel") is not None and not items:
        return
    if not items or all(i in _BOOT_DEVS for i in items):
        for item in items or ["hd"]:
            etree.SubElement(os_elem, "boot", dev=item)
        return
    by_name = {}
    for disk in devices.iterfind("disk"):
        source = disk.find("source")
        path = source.get("file") or source.get("dev") or ""
        by_name[f"disk{path.rsplit('.', 1)[-1]}"] = disk
    for nic_index, nic in enumerate(devices.iterfind("interface")):
        tap = nic.find("target").get("dev")
        by_name[f"nic{tap.rsplit('-', 1)[-1] if tap.startswith('one-') else nic_index}"] = nic
    for order, item in enumerate(items, 1):
        device = by_name.get(item)
        if device is None:
            raise DomainError(f"OS BOOT names '{item}', which is no DISK or NIC of the VM")
        device.append(etree.Element("boot", order=str(order)))


def _raw(dom: etree._Element, tmpl: etree._Element) -> None:
    """RAW with TYPE = kvm: DATA is libvirt XML added to the domain. A top-level element
    replaces the generated one of its name (a <clock>, a <cpu>); <devices> adds its
    children to the domain's devices."""
    for raw in tmpl.findall("RAW"):
        vec = vector(raw)
        if vec.get("TYPE", "").strip().lower() not in ("kvm", "qemu"):
            continue
        data = vec.get("DATA", "")
        if not data.strip():
            continue
        try:
            wrapper = etree.fromstring(f'<raw xmlns:qemu="{QEMU_NS}">{data}</raw>', _SAFE)
        except etree.XMLSyntaxError as e:
            raise DomainError(f"RAW DATA is not XML: {e}") from None
        devices = dom.find("devices")
        for child in list(wrapper):
            if not isinstance(child.tag, str):
                continue
            if child.tag == "devices":
                devices.extend(list(child))
                continue
            existing = dom.find(child.tag)
            if existing is not None and child.tag not in ("name",):
                existing.addprevious(child)
                dom.remove(existing)
            elif child.tag == "name":
                raise DomainError("RAW DATA may not rename the domain")
            else:
                dom.append(child)
