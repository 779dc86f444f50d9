"""Restricted attributes: what only the oneadmin group may set (pure).

OpenNebula's oned.conf lists them as VM_RESTRICTED_ATTR, IMAGE_RESTRICTED_ATTR and
VNET_RESTRICTED_ATTR: a name (``RAW``, ``PCI``) restricts every attribute of that
name, a ``VECTOR/SUB`` path (``NIC/MAC``) restricts that key of every such vector.
nubo's configuration holds the lists (docs/configuration.md) with oned's defaults
below; the API asks :func:`first_restricted` at every entry point.

A PATH an image is copied from is restricted by its datastore instead, as the
datastore drivers' ``RESTRICTED_DIRS`` / ``SAFE_DIRS`` do: :func:`path_refused`.
"""
from __future__ import annotations

import posixpath
import re
from typing import Iterable

from nubo.template import SingleAttribute, Template

#: oned.conf's VM_RESTRICTED_ATTR (OpenNebula 6.x/7.x defaults).
VM_RESTRICTED_ATTR: tuple[str, ...] = (
    "CONTEXT/FILES",
    *(f"NIC/{k}" for k in (
        "MAC", "VLAN_ID", "BRIDGE", "FILTER", "FILTER_IP_SPOOFING", "FILTER_MAC_SPOOFING",
        "INBOUND_AVG_BW", "INBOUND_PEAK_BW", "INBOUND_PEAK_KB", "OUTBOUND_AVG_BW",
        "OUTBOUND_PEAK_BW", "OUTBOUND_PEAK_KB", "OPENNEBULA_MANAGED", "VCENTER_INSTANCE_ID",
        "VCENTER_NET_REF", "VCENTER_PORTGROUP_TYPE", "EXTERNAL")),
    *(f"NIC_ALIAS/{k}" for k in (
        "MAC", "VLAN_ID", "BRIDGE", "INBOUND_AVG_BW", "INBOUND_PEAK_BW", "INBOUND_PEAK_KB",
        "OUTBOUND_AVG_BW", "OUTBOUND_PEAK_BW", "OUTBOUND_PEAK_KB", "OPENNEBULA_MANAGED",
        "VCENTER_INSTANCE_ID", "VCENTER_NET_REF", "VCENTER_PORTGROUP_TYPE")),
    *(f"NIC_DEFAULT/{k}" for k in ("MAC", "VLAN_ID", "BRIDGE", "FILTER", "EXTERNAL")),
    *(f"DISK/{io}{suffix}" for io in ("TOTAL_BYTES_SEC", "READ_BYTES_SEC", "WRITE_BYTES_SEC",
                                      "TOTAL_IOPS_SEC", "READ_IOPS_SEC", "WRITE_IOPS_SEC")
      for suffix in ("", "_MAX_LENGTH", "_MAX")),
    "DISK/SIZE_IOPS_SEC", "DISK/OPENNEBULA_MANAGED", "DISK/VCENTER_DS_REF",
    "DISK/VCENTER_INSTANCE_ID", "DISK/ORIGINAL_SIZE", "DISK/SIZE_PREV",
    "DEPLOY_ID", "CPU_COST", "MEMORY_COST", "DISK_COST", "PCI", "EMULATOR", "RAW",
    "USER_PRIORITY", "USER_INPUTS/CPU", "USER_INPUTS/MEMORY", "USER_INPUTS/VCPU",
    "VCENTER_VM_FOLDER", "VCENTER_ESX_HOST", "TOPOLOGY/PIN_POLICY", "TOPOLOGY/HUGEPAGE_SIZE",
)

#: oned.conf's IMAGE_RESTRICTED_ATTR.
IMAGE_RESTRICTED_ATTR: tuple[str, ...] = ("SOURCE", "VCENTER_IMPORTED")

#: oned.conf's VNET_RESTRICTED_ATTR (oned applies them to reservations only; so does nubo).
VNET_RESTRICTED_ATTR: tuple[str, ...] = (
    "VN_MAD", "PHYDEV", "VLAN_ID", "CVLANS", "QINQ_TYPE", "BRIDGE", "CONF", "BRIDGE_CONF",
    "OVS_BRIDGE_CONF", "IP_LINK_CONF", "FILTER", "FILTER_IP_SPOOFING", "FILTER_MAC_SPOOFING",
    *(f"AR/{k}" for k in ("VN_MAD", "PHYDEV", "VLAN_ID", "BRIDGE", "FILTER",
                          "FILTER_IP_SPOOFING", "FILTER_MAC_SPOOFING")),
    "CLUSTER_IDS", "EXTERNAL",
)

_SPEC = re.compile(r"[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)?")


def spec_problem(spec: object) -> str | None:
    """Why ``spec`` cannot be a restricted attribute (``NAME`` or ``VECTOR/SUB``), or None."""
    if not isinstance(spec, str) or _SPEC.fullmatch(spec) is None:
        return f"{spec!r} is not an attribute name (NAME or VECTOR/NAME)"
    return None


def _values(template: Template, spec: str) -> list[str]:
    """Every value ``spec`` names in ``template``, sorted (order does not make a change)."""
    name, _, sub = spec.upper().partition("/")
    if sub:
        return sorted(v.get(sub) or "" for v in template.get_vectors(name) if sub in v)
    return sorted(a.value if isinstance(a, SingleAttribute) else repr(sorted(a.items()))
                  for a in template.get_all(name))


def first_restricted(template: Template, restricted: Iterable[str],
                     base: Template | None = None, *, append: bool = False) -> str | None:
    """The first restricted attribute ``template`` sets, as ``NAME`` or ``VECTOR/SUB``.

    Without ``base`` any restricted attribute present counts. With ``base`` (the
    template being updated, or the VM template an instantiation starts from) only
    a change counts, as oned's Template::check_restricted: values equal to the
    base's are allowed, and so is dropping one when ``append`` (a merge, whose
    result keeps what the base had unless the same name replaced it).
    """
    for spec in restricted:
        mine = _values(template, spec)
        if base is None:
            if mine:
                return spec.upper()
            continue
        theirs = _values(base, spec)
        if mine != theirs and (mine or not append):
            return spec.upper()
    return None


def _inside(path: str, directory: str) -> bool:
    directory = posixpath.normpath(directory)
    return directory == "/" or path == directory or path.startswith(directory + "/")


def path_refused(path: str, safe_dirs: str, restricted_dirs: str) -> bool:
    """Is an image PATH off limits, as the datastore drivers' check_restricted decides?

    A local path (no ``scheme://``) inside one of RESTRICTED_DIRS is refused unless it
    is also inside one of SAFE_DIRS (both space-separated; oned's defaults are "/" and
    "/var/tmp"). ``..`` is resolved first; a relative path is always refused.
    """
    if re.match(r"[A-Za-z][A-Za-z0-9+.-]*://", path):
        return False
    if not path.startswith("/"):
        return True
    normal = posixpath.normpath(path)
    if normal.startswith("//"):
        normal = "/" + normal.lstrip("/")
    if not any(_inside(normal, d) for d in restricted_dirs.split()):
        return False
    return not any(_inside(normal, d) for d in safe_dirs.split())
