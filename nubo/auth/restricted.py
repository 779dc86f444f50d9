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
from functools import lru_cache
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


def _by_name(template: Template) -> dict[str, list]:
    """The template's attributes by name: one pass, so 75 specs cost 75 look-ups."""
    found: dict[str, list] = {}
    for attr in template:
        found.setdefault(attr.name, []).append(attr)
    return found


def _values(attrs: dict[str, list], name: str, sub: str) -> list[str]:
    """Every value ``name``/``sub`` names, sorted (order does not make a change)."""
    if sub:
        return sorted(a.get(sub) or "" for a in attrs.get(name, ())
                      if not isinstance(a, SingleAttribute) and sub in a)
    return sorted(a.value if isinstance(a, SingleAttribute) else repr(sorted(a.items()))
                  for a in attrs.get(name, ()))


@lru_cache(maxsize=64)
def _grouped(restricted: tuple[str, ...]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """The specs by attribute name, in the order of their first appearance."""
    groups: dict[str, list[str]] = {}
    for spec in restricted:
        name, _, sub = spec.upper().partition("/")
        groups.setdefault(name, []).append(sub)
    return tuple((name, tuple(subs)) for name, subs in groups.items())


def _keys(attrs: list) -> set[str]:
    return {k for a in attrs if not isinstance(a, SingleAttribute) for k, _ in a.items()}


def first_restricted(template: Template, restricted: Iterable[str],
                     base: Template | None = None, *, append: bool = False) -> str | None:
    """The first restricted attribute ``template`` sets, as ``NAME`` or ``VECTOR/SUB``.

    Without ``base`` any restricted attribute present counts. With ``base`` (the
    template being updated, or the VM template an instantiation starts from) only
    a change counts, as oned's Template::check_restricted: values equal to the
    base's are allowed, and so is dropping one when ``append`` (a merge, whose
    result keeps what the base had unless the same name replaced it).
    """
    mine_by, theirs_by = _by_name(template), None if base is None else _by_name(base)
    for name, subs in _grouped(tuple(restricted)):
        mine_attrs = mine_by.get(name, [])
        theirs_attrs = [] if theirs_by is None or append else theirs_by.get(name, [])
        if not mine_attrs and not theirs_attrs:
            continue  # the common case: nothing of that name where it matters
        keys = _keys(mine_attrs) | _keys(theirs_attrs)
        for sub in subs:
            if sub and sub not in keys:
                continue
            mine = _values(mine_by, name, sub)
            if theirs_by is None:
                if mine:
                    return f"{name}/{sub}" if sub else name
                continue
            if mine != _values(theirs_by, name, sub) and (mine or not append):
                return f"{name}/{sub}" if sub else name
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
