"""libvirt device elements for a VM's DISK, context CD-ROM and NIC vectors.

Pure: template vectors in, lxml elements out. The whole domain (domain.py) and the
hotplug actions (vmm.py: ATTACHDISK, ATTACHNIC) build devices with the same functions,
so a disk attached live looks exactly as it will at the next DEPLOY.

A value libvirt would refuse (an unknown cache mode, a malformed MAC) raises
:class:`DomainError` naming the attribute, so that DEPLOY fails with a message about the
template rather than an XML schema error from libvirt.
"""
from __future__ import annotations

import re
from collections.abc import Mapping

from lxml import etree

Vector = Mapping[str, str]


class DomainError(ValueError):
    """The VM's template cannot become a libvirt domain; the message says why."""


DISK_CACHES = frozenset({"default", "none", "writethrough", "writeback", "directsync", "unsafe"})
DISK_IOS = frozenset({"native", "threads", "io_uring"})
DISK_DISCARDS = frozenset({"ignore", "unmap"})
DISK_FORMATS = frozenset({"raw", "qcow2"})
NIC_MODELS = frozenset({"virtio", "e1000", "e1000e", "rtl8139", "ne2k_pci", "pcnet", "vmxnet3"})
_TARGET_RE = re.compile(r"(?:hd|sd|vd|xvd)[a-z]{1,3}\Z")
_MAC_RE = re.compile(r"[0-9a-fA-F]{2}(?::[0-9a-fA-F]{2}){5}\Z")
_NAME_RE = re.compile(r"[A-Za-z0-9_.:+-]{1,64}\Z")  # filters, bridges, taps: no spaces


def vector(elem: etree._Element | None) -> dict[str, str]:
    """A template vector (``<DISK><TARGET>vda</TARGET>...</DISK>``) as a dict."""
    if elem is None:
        return {}
    return {child.tag: (child.text or "").strip() for child in elem
            if isinstance(child.tag, str)}


def yes(value: str | None) -> bool:
    return (value or "").strip().lower() in ("yes", "true", "1", "on")


def _one_of(vec: Vector, key: str, allowed: frozenset[str], what: str) -> str:
    value = (vec.get(key) or "").strip().lower()
    if value and value not in allowed:
        raise DomainError(f"{what} {key} '{vec.get(key)}' is not one of "
                          f"{', '.join(sorted(allowed))}")
    return value


def _number(vec: Vector, key: str, what: str, default: int | None = None) -> int | None:
    raw = (vec.get(key) or "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise DomainError(f"{what} {key} '{raw}' is not a whole number") from None
    if value < 0:
        raise DomainError(f"{what} {key} '{raw}' is negative")
    return value


def disk_bus(target: str, machine: str = "", sd_bus: str = "scsi") -> str:
    """The bus of a disk from its TARGET's prefix, as OpenNebula picks it: vd -> virtio,
    sd -> SD_DISK_BUS (scsi or sata), hd -> ide (sata on q35, which has no IDE)."""
    if target.startswith("vd"):
        return "virtio"
    if target.startswith("sd"):
        return sd_bus
    if target.startswith("xvd"):
        return "xen"
    return "sata" if "q35" in machine else "ide"


def _target(vec: Vector, what: str) -> str:
    target = (vec.get("TARGET") or "").strip()
    if not target:
        raise DomainError(f"{what} has no TARGET")
    if not _TARGET_RE.match(target):
        raise DomainError(f"{what} TARGET '{target}' is not a device name like vda, sdb or hdc")
    return target


def disk_element(disk: Vector, vm_dir: str, *, machine: str = "", sd_bus: str = "scsi",
                 index: int | None = None) -> etree._Element:
    """``<disk>`` for a DISK vector; its file is ``<vm_dir>/disk.<DISK_ID>`` (the transfer
    driver put it there). ``index`` stands in for a missing DISK_ID."""
    disk_id = _number(disk, "DISK_ID", "DISK", index)
    what = f"DISK {disk_id}"
    if disk_id is None:
        raise DomainError("a DISK has no DISK_ID")
    kind = (disk.get("TYPE") or "").strip().lower()
    if kind not in ("", "file", "disk", "fs", "swap", "block", "cdrom"):
        raise DomainError(f"{what} TYPE '{disk.get('TYPE')}' is not supported by the kvm driver "
                          "(file, fs, swap, block, cdrom)")
    target = _target(disk, what)
    path = f"{vm_dir}/disk.{disk_id}"
    cdrom = kind == "cdrom"
    elem = etree.Element("disk", type="block" if kind == "block" else "file",
                         device="cdrom" if cdrom else "disk")
    fmt = _one_of(disk, "DRIVER", DISK_FORMATS, what) or (
        (disk.get("FORMAT") or "").strip().lower() if (disk.get("FORMAT") or "").strip().lower()
        in DISK_FORMATS else "raw")
    driver = etree.SubElement(elem, "driver", name="qemu", type="raw" if cdrom else fmt)
    for key, allowed, attr in (("CACHE", DISK_CACHES, "cache"), ("IO", DISK_IOS, "io"),
                               ("DISCARD", DISK_DISCARDS, "discard")):
        value = _one_of(disk, key, allowed, what)
        if value:
            driver.set(attr, value)
    etree.SubElement(elem, "source", **({"dev": path} if kind == "block" else {"file": path}))
    bus = disk_bus(target, machine, sd_bus)
    if cdrom and bus == "virtio":
        raise DomainError(f"{what} is a CD-ROM on a virtio TARGET '{target}' (use hd or sd)")
    etree.SubElement(elem, "target", dev=target, bus=bus)
    if cdrom or yes(disk.get("READONLY")):
        etree.SubElement(elem, "readonly")
    if yes(disk.get("SHAREABLE")):
        etree.SubElement(elem, "shareable")
    return elem


def context_element(context: Vector, vm_dir: str, disk_index: int, target: str,
                    machine: str = "", sd_bus: str = "scsi") -> etree._Element:
    """The context CD-ROM ``<vm_dir>/disk.<N>`` (N: CONTEXT/DISK_ID, else the number of
    DISKs, as the transfer driver's CONTEXT line writes it)."""
    return disk_element({"DISK_ID": context.get("DISK_ID") or str(disk_index), "TYPE": "cdrom",
                         "TARGET": target}, vm_dir, machine=machine, sd_bus=sd_bus)


def nic_element(nic: Vector, vm_id: int, index: int = 0) -> etree._Element:
    """``<interface>`` for a NIC: on its BRIDGE (an unmanaged tap when it has none), MAC,
    MODEL (virtio by default), tap ``one-<vm>-<nic>`` unless TARGET names one, FILTER."""
    nic_id = _number(nic, "NIC_ID", "NIC", index)
    what = f"NIC {nic_id}"
    bridge = (nic.get("BRIDGE") or "").strip()
    elem = etree.Element("interface", type="bridge" if bridge else "ethernet")
    if bridge:
        if not _NAME_RE.match(bridge):
            raise DomainError(f"{what} BRIDGE '{bridge}' is not an interface name")
        etree.SubElement(elem, "source", bridge=bridge)
    mac = (nic.get("MAC") or "").strip()
    if mac:
        if not _MAC_RE.match(mac):
            raise DomainError(f"{what} MAC '{mac}' is not a MAC address")
        etree.SubElement(elem, "mac", address=mac.lower())
    target = (nic.get("TARGET") or "").strip() or f"one-{vm_id}-{nic_id}"
    if not _NAME_RE.match(target) or len(target) > 15:
        raise DomainError(f"{what} TARGET '{target}' is not a tap name (at most 15 characters)")
    etree.SubElement(elem, "target", dev=target)
    model = _one_of(nic, "MODEL", NIC_MODELS, what) or "virtio"
    etree.SubElement(elem, "model", type=model)
    if bridge and (nic.get("VN_MAD") or "").strip().lower() in ("ovswitch", "ovswitch_vxlan"):
        etree.SubElement(elem, "virtualport", type="openvswitch")
    _bandwidth(elem, nic, what)
    nic_filter = (nic.get("FILTER") or "").strip()
    if nic_filter:
        if not _NAME_RE.match(nic_filter):
            raise DomainError(f"{what} FILTER '{nic_filter}' is not a filter name")
        ref = etree.SubElement(elem, "filterref", filter=nic_filter)
        ip = (nic.get("IP") or "").strip()
        if ip:
            etree.SubElement(ref, "parameter", name="IP", value=ip)
    return elem


def _bandwidth(elem: etree._Element, nic: Vector, what: str) -> None:
    """INBOUND_/OUTBOUND_ AVG_BW, PEAK_BW, PEAK_KB (KB/s and KB, as libvirt takes them)."""
    found = {}
    for direction in ("INBOUND", "OUTBOUND"):
        attrs = {}
        for key, attr in (("AVG_BW", "average"), ("PEAK_BW", "peak"), ("PEAK_KB", "burst")):
            value = _number(nic, f"{direction}_{key}", what)
            if value:
                attrs[attr] = str(value)
        if attrs:
            if "average" not in attrs:
                raise DomainError(f"{what} {direction}_PEAK_* needs {direction}_AVG_BW")
            found[direction.lower()] = attrs
    if found:
        bandwidth = etree.SubElement(elem, "bandwidth")
        for direction in ("inbound", "outbound"):
            if direction in found:
                etree.SubElement(bandwidth, direction, **found[direction])


def to_string(elem: etree._Element) -> str:
    return etree.tostring(elem, encoding="unicode")
