"""Changes to a running VM's domain: disk and NIC hotplug, snapshots, live resize.

A device attached is made by the same functions as the domain's own (devices.py),
so it looks as it will at the next DEPLOY. Repeated actions (recovery) answer as the
first did: what is attached already, detached already or deleted already succeeds.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from xml.sax.saxutils import escape

import libvirt
from lxml import etree

from nubo.drivers.kvm import network
from nubo.drivers.kvm.call import ActionError, Answer, Call
from nubo.drivers.kvm.devices import disk_element, nic_element, vector
from nubo.drivers.kvm.hosts import libvirt_message

LIVE = libvirt.VIR_DOMAIN_AFFECT_LIVE
SCSI_CONTROLLER = "<controller type='scsi' index='0' model='virtio-scsi'/>"


def _devices(c: Call) -> tuple[str, str]:
    os_vec = vector(c.vm.find("TEMPLATE/OS"))
    return (os_vec.get("MACHINE", ""), (os_vec.get("SD_DISK_BUS") or "scsi").lower())


def _live(dom: libvirt.virDomain) -> etree._Element:
    return etree.fromstring(dom.XMLDesc(0))


def attach_disk(c: Call) -> Answer:
    """The DISK marked ATTACH=YES plugged in; a SCSI one onto a virtio-scsi controller,
    plugged in first if the domain has no SCSI controller (libvirt would add an LSI
    one, which guests without its driver never see a disk on), as DEPLOY would."""
    machine, sd_bus = _devices(c)
    elem = disk_element(c.marked("DISK"), c.vm_dir(), machine=machine, sd_bus=sd_bus)
    target = elem.find("target").get("dev")
    dom = c.running()
    live = _live(dom)
    if live.find(f"devices/disk/target[@dev='{target}']") is not None:
        return True, ""
    if (elem.find("target").get("bus") == "scsi"
            and live.find("devices/controller[@type='scsi']") is None):
        dom.attachDeviceFlags(SCSI_CONTROLLER, LIVE)
    dom.attachDeviceFlags(etree.tostring(elem, encoding="unicode"), LIVE)
    return True, ""


def detach_disk(c: Call) -> Answer:
    target = c.marked("DISK").get("TARGET", "")
    return _detach(c, lambda live: next(
        (d for d in live.iterfind("devices/disk")
         if d.find("target") is not None and d.find("target").get("dev") == target), None))


def _alias_change(c: Call) -> bool:
    """A NIC_ALIAS attached or detached is an address on its parent's device, not a
    device: the guest learns of it from its context CD-ROM alone."""
    return any((vector(a).get("ATTACH") or "").upper() == "YES"
               for a in c.vm.iterfind("TEMPLATE/NIC_ALIAS"))


def attach_nic(c: Call) -> Answer:
    """The NIC marked ATTACH=YES plugged in: its bridge made (network ``pre``), the device
    attached, its tap and rules set (``attach_nic``), and the context CD-ROM, rewritten
    with its ETHn_* by the transfer driver, inserted again."""
    if _alias_change(c):
        return update_context(c)
    nic = c.marked("NIC")
    dom = c.domain()
    if dom is None:
        return True, ""  # powered off: the next DEPLOY has it
    elem = nic_element(nic, c.req.oid)
    mac = elem.find("mac").get("address") if elem.find("mac") is not None else None
    if not (mac and _nic_by_mac(_live(dom), mac) is not None):
        network.step(c, "pre")
        dom.attachDeviceFlags(etree.tostring(elem, encoding="unicode"), LIVE)
    if nic.get("NIC_ID", "").isdigit():
        network.step(c, "attach_nic", nic_id=int(nic["NIC_ID"]))
    return update_context(c)


def detach_nic(c: Call) -> Answer:
    if _alias_change(c):
        return update_context(c)
    nic = c.marked("NIC")
    mac = nic.get("MAC", "").lower()
    if c.domain() is None:
        return True, ""
    answer = _detach(c, lambda live: _nic_by_mac(live, mac))
    if answer[0] and nic.get("NIC_ID", "").isdigit():
        network.step(c, "detach_nic", nic_id=int(nic["NIC_ID"]))
        return update_context(c)
    return answer


def _nic_by_mac(live: etree._Element, mac: str) -> etree._Element | None:
    return next((i for i in live.iterfind("devices/interface")
                 if (i.find("mac").get("address") or "").lower() == mac.lower()), None)


def _detach(c: Call, find: Callable[[etree._Element], etree._Element | None]) -> Answer:
    """Detach the device ``find`` picks in the live domain; the guest releases it in
    its own time, so wait a little (--detach-wait) and say if it has not yet."""
    dom = c.running()
    device = find(_live(dom))
    if device is None:
        return True, ""
    dom.detachDeviceFlags(etree.tostring(device, encoding="unicode"), LIVE)
    deadline = time.monotonic() + c.options.detach_wait
    while find(_live(dom)) is not None:
        if time.monotonic() > deadline:
            c.log("W", f"the guest of {c.name} has not released the device yet")
            break
        time.sleep(0.2)
    return True, ""


def _snapshot_name(c: Call) -> tuple[str, dict[str, str]]:
    snap = c.marked("SNAPSHOT", "ACTIVE")
    return snap.get("HYPERVISOR_ID") or f"snap-{snap.get('SNAPSHOT_ID', '0')}", snap


def snapshot_create(c: Call) -> Answer:
    """A libvirt (internal, qcow2) snapshot of disks and memory; INFO is its name,
    which the core keeps as the snapshot's HYPERVISOR_ID."""
    snap = c.marked("SNAPSHOT", "ACTIVE")
    name = f"snap-{snap.get('SNAPSHOT_ID', '0')}"
    dom = c.running()
    if name in dom.snapshotListNames(0):
        return True, name
    description = escape(snap.get("NAME", ""))
    try:
        dom.snapshotCreateXML(f"<domainsnapshot><name>{name}</name>"
                              f"<description>{description}</description></domainsnapshot>", 0)
    except libvirt.libvirtError as e:
        raise ActionError(f"SNAPSHOTCREATE failed: {libvirt_message(e)} (libvirt's snapshots "
                          "of a running VM need a disk, and every disk in qcow2)") from None
    return True, name


def snapshot_revert(c: Call) -> Answer:
    name, _ = _snapshot_name(c)
    dom = c.running()
    dom.revertToSnapshot(dom.snapshotLookupByName(name, 0), 0)
    return True, ""


def snapshot_delete(c: Call) -> Answer:
    name, _ = _snapshot_name(c)
    dom = c.running()
    if name not in dom.snapshotListNames(0):
        return True, ""
    dom.snapshotLookupByName(name, 0).delete(0)
    return True, ""


def resize(c: Call) -> Answer:
    """VCPU and MEMORY of the running domain, up to the VCPU_MAX and MEMORY_MAX it
    was deployed with (libvirt cannot grow a running domain past them)."""
    dom = c.running()
    _, max_kib, cur_kib, vcpus, _ = dom.info()
    tmpl = c.vm.find("TEMPLATE")
    want_vcpu = int((tmpl.findtext("VCPU") or str(vcpus)).strip())
    want_kib = int((tmpl.findtext("MEMORY") or "0").strip() or 0) * 1024 or cur_kib
    if want_vcpu != vcpus:
        max_vcpu = dom.vcpusFlags(libvirt.VIR_DOMAIN_VCPU_MAXIMUM | LIVE)
        if want_vcpu > max_vcpu:
            raise ActionError(f"cannot give {c.name} {want_vcpu} VCPU while it runs: it was "
                              f"deployed with at most {max_vcpu} (set VCPU_MAX)")
        dom.setVcpusFlags(want_vcpu, LIVE)
    if want_kib != cur_kib:
        if want_kib > max_kib:
            raise ActionError(f"cannot give {c.name} {want_kib // 1024} MB while it runs: it "
                              f"was deployed with at most {max_kib // 1024} MB (set MEMORY_MAX)")
        dom.setMemoryFlags(want_kib, LIVE)
    return True, ""


def update_context(c: Call) -> Answer:
    """UPDATECONF: the context CD-ROM (rewritten by the transfer driver) inserted again,
    so the guest sees a media change and reads it anew, as OpenNebula's reconfigure does
    with ``virsh change-media --update``. Without a domain or a CONTEXT: nothing to do."""
    dom = c.domain()
    context = c.vm.find("TEMPLATE/CONTEXT")
    if dom is None or context is None:
        return True, ""
    disk_id = vector(context).get("DISK_ID") or str(len(c.vm.findall("TEMPLATE/DISK")))
    path = f"{c.vm_dir()}/disk.{disk_id}"
    cdrom = next((d for d in _live(dom).iterfind("devices/disk[@device='cdrom']")
                  if d.find("source") is not None and d.find("source").get("file") == path), None)
    if cdrom is None:
        c.log("W", f"{c.name} has no context CD-ROM {path} to update")
        return True, ""
    dom.updateDeviceFlags(etree.tostring(cdrom, encoding="unicode"),
                          LIVE | libvirt.VIR_DOMAIN_DEVICE_MODIFY_FORCE)
    return True, ""


def resize_disk(c: Call) -> Answer:
    """RESIZEDISK: the DISK marked RESIZE=YES grown to its SIZE (MB) while the VM runs
    (QEMU's block_resize); one as large already is left alone."""
    disk = c.marked("DISK", "RESIZE")
    target = disk.get("TARGET", "")
    try:
        size = int(disk.get("SIZE", "")) * 1024 * 1024
    except ValueError:
        raise ActionError(f"DISK {disk.get('DISK_ID', '?')} SIZE '{disk.get('SIZE', '')}' "
                          "is not a number of MB") from None
    dom = c.running()
    if dom.blockInfo(target, 0)[0] >= size:
        return True, ""
    dom.blockResize(target, size, libvirt.VIR_DOMAIN_BLOCK_RESIZE_BYTES)
    return True, ""
