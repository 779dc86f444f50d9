"""Security groups (OpenNebula's one.secgroup.*): the firewall rules of a VM's NICs.

A group's TEMPLATE holds RULE vectors: PROTOCOL (TCP, UDP, ICMP, ICMPV6, IPSEC, ALL),
RULE_TYPE (INBOUND, OUTBOUND), and optionally RANGE of ports ("22,80:90", TCP/UDP only),
ICMP_TYPE / ICMPV6_TYPE, and the remote end as IP + SIZE or NETWORK_ID (every address
range of that network). The checks and their messages are oned's (SecurityGroup::is_valid);
duplicate rules are dropped as oned's remove_duplicates does. The VMs using a group are
listed in four lists as oned's: UPDATED_VMS (rules applied), OUTDATED_VMS (to be updated),
UPDATING_VMS (driver running) and ERROR_VMS (the driver failed), kept as rows of their own
(nubo.store.secgroup_vms) and spliced into the bodies served. Pure: no I/O.
"""
from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field

from nubo.model.permissions import Permissions
from nubo.template import Template, VectorAttribute

PROTOCOLS = ("TCP", "UDP", "ICMP", "ICMPV6", "IPSEC", "ALL")
RULE_TYPES = ("INBOUND", "OUTBOUND")
DEFAULT_ID = 0
#: Group 0 as oned's SecurityGroupPool creates it on a fresh cloud.
DEFAULT_TEMPLATE = (
    'NAME = "default"\n'
    'DESCRIPTION = "The default security group is added to every network. Use it to add '
    'default filter rules for your networks. You may remove this security group from any '
    'network by updating its properties."\n'
    'RULE = [ PROTOCOL = "ALL", RULE_TYPE = "OUTBOUND" ]\n'
    'RULE = [ PROTOCOL = "ALL", RULE_TYPE = "INBOUND" ]\n')
#: oned sets the default group's bits to uma u-- u-- (set_permissions(1,1,1, 1,0,0, 1,0,0)):
#: every user may USE it.
DEFAULT_PERMISSIONS = "744"

_RANGE = re.compile(r"(([0-9]+|[0-9]+:[0-9]+),)*([0-9]+|[0-9]+:[0-9]+)")


class SecGroupError(ValueError):
    """A rule or group oned would refuse; the API picks the error code."""


@dataclass
class SecurityGroup:
    id: int
    uid: int
    gid: int
    uname: str
    gname: str
    name: str
    permissions: Permissions
    updated_vms: list[int] = field(default_factory=list)
    outdated_vms: list[int] = field(default_factory=list)
    updating_vms: list[int] = field(default_factory=list)
    error_vms: list[int] = field(default_factory=list)
    template: Template = field(default_factory=Template)

    TAG = "SECURITY_GROUP"

    @property
    def lock(self) -> None:
        """security_group.xsd has no LOCK: a group is never locked."""
        return None

    @property
    def vms(self) -> list[int]:
        """Every VM using the group, whatever the state of its rules."""
        return sorted({*self.updated_vms, *self.outdated_vms, *self.updating_vms,
                       *self.error_vms})

    def rules(self) -> list[VectorAttribute]:
        return self.template.get_vectors("RULE")


# -- rules -----------------------------------------------------------------------------------

def _port_ranges(text: str) -> list[tuple[int, int]]:
    if not _RANGE.fullmatch(text):
        raise SecGroupError("Invalid RANGE specification.")
    spans = []
    for part in text.split(","):
        low, _, high = part.partition(":")
        span = (int(low), int(high or low))
        if max(span) > 65535:
            raise SecGroupError("RANGE out of bounds 0-65536.")
        spans.append(span)
    return spans


def port_ranges(rule: VectorAttribute) -> list[tuple[int, int]]:
    """A valid rule's RANGE as (first, last) port pairs; empty: every port."""
    text = (rule.get("RANGE") or "").strip()
    return _port_ranges(text) if text else []


def _number(text: str) -> bool:
    """An unsigned integer in ASCII digits, as oned's vector_value reads one."""
    return text.isascii() and text.isdigit()


def _icmp_type(rule: VectorAttribute, key: str, proto: str, protocol: str) -> None:
    value = (rule.get(key) or "").strip()
    if not value:
        return
    if proto != protocol:
        raise SecGroupError(f"{key} is supported only for {protocol} protocol.")
    if not _number(value):
        raise SecGroupError(f"Wrong {key}, it must be integer")


def check_rule(rule: VectorAttribute) -> None:
    """SecurityGroup::is_valid, with its messages."""
    proto = (rule.get("PROTOCOL") or "").strip().upper()
    if proto not in PROTOCOLS:
        raise SecGroupError("Wrong PROTOCOL in rule. Valid options: TCP, UDP, ICMP, ICMPV6, "
                            "IPSEC, ALL.")
    text = (rule.get("RANGE") or "").strip()
    if text and proto not in ("TCP", "UDP"):
        raise SecGroupError("RANGE is supported only for TCP and UDP protocols.")
    if text:
        _port_ranges(text)
    _icmp_type(rule, "ICMP_TYPE", proto, "ICMP")
    _icmp_type(rule, "ICMPV6_TYPE", proto, "ICMPV6")
    if (rule.get("RULE_TYPE") or "").strip().upper() not in RULE_TYPES:
        raise SecGroupError("Wrong RULE_TYPE in rule. Valid options: INBOUND, OUTBOUND.")
    ip = (rule.get("IP") or "").strip()
    if ip:
        if not _number((rule.get("SIZE") or "").strip()):
            raise SecGroupError("Wrong or empty SIZE.")
        try:
            ipaddress.ip_address(ip)
        except ValueError:
            raise SecGroupError("Wrong format for IP value.") from None
    elif rule.get("NETWORK_ID") is not None:
        try:
            int((rule.get("NETWORK_ID") or "").strip())
        except ValueError:
            raise SecGroupError("Wrong NETWORK_ID.") from None


def checked_rules(template: Template) -> Template:
    """The template with every RULE checked and duplicates dropped (first one kept)."""
    seen: set[tuple[tuple[str, str], ...]] = set()
    out = Template()
    for attr in template:
        if attr.name == "RULE":
            if not isinstance(attr, VectorAttribute):
                raise SecGroupError("RULE must be a vector attribute: RULE = [ PROTOCOL = "
                                    "..., RULE_TYPE = ... ]")
            check_rule(attr)
            key = tuple(sorted(attr.items()))
            if key in seen:
                continue
            seen.add(key)
        out.add(attr.copy())
    return out


def build(template: Template) -> tuple[str, Template]:
    """A new group's NAME and TEMPLATE (checked rules, without NAME)."""
    body = template.copy()
    name = (body.get("NAME") or "").strip()
    body.remove("NAME")
    if not name:
        raise SecGroupError("No NAME in template for Security Group.")
    return name, checked_rules(body)


def ids_of(text: str | None) -> list[int]:
    """A SECURITY_GROUPS list ("0,100") as distinct ids in order; bad items refused."""
    out: list[int] = []
    for part in (text or "").split(","):
        part = part.strip()
        if not part:
            continue
        if not _number(part):
            raise SecGroupError(f"Wrong SECURITY_GROUPS {text!r}: a list of security group "
                                "ids (\"0,100\")")
        if int(part) not in out:
            out.append(int(part))
    return out
