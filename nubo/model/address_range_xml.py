"""The ``<AR>`` element of a virtual network, in the two shapes OpenNebula's schemas want.

one.vn.info (and one.vnpool.infoextended) follow vnet.xsd: the AR's attributes, the
derived range ends, USED_LEASES and the LEASES list. one.vnpool.info follows
vnet_pool.xsd: only the stored attributes plus ALLOCATED, oned's packed
"index owner" list. Both schemas use xs:sequence, so elements are written in the
schema's order (oned writes them alphabetically, which the schema does not accept).
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING
from xml.sax.saxutils import escape

from nubo.model.address_range_leases import format_ipv4, format_ipv6, format_mac

if TYPE_CHECKING:
    from nubo.model.address_range import AddressRange

Owner = Mapping[str, int | str]
Leases = Iterable[tuple[int, Owner]]

# PoolObjectSQL::ObjectType bits that oned ORs with the owner's id (low 32 bits).
OWNER_BITS = {"VM": 0x0000001000000000, "VNET": 0x0000004000000000,
              "VROUTER": 0x0004000000000000}

# Stored attributes in vnet.xsd/vnet_pool.xsd order; the schemas place these three
# inputs later, among the derived elements (IP6 and PORT_* are not in vnet_pool.xsd).
HEAD = ("AR_ID", "CVLANS", "GLOBAL_PREFIX", "IP", "MAC", "NEXT_INDEX",
        "PARENT_NETWORK_AR_ID", "SHARED", "SIZE", "TYPE", "VLAN_ID", "ULA_PREFIX", "VN_MAD")
LATE_INPUTS = ("IP6", "PORT_START", "PORT_SIZE")
_NAME = re.compile(r"[A-Z_][A-Z0-9_]*\Z")


def ar_xml(ar: AddressRange, leases: Leases = (), *, used_leases: int | None = None,
           strict: bool = True) -> str:
    """``<AR>`` per vnet.xsd. ``leases`` are (index, owner) with owner {"VM": id},
    {"VNET": id} or {"VROUTER": id} (VM -1 marks a held lease); pass a filtered list
    plus the true ``used_leases`` when the caller may not see every owner, as oned does.
    ``strict=False`` adds the attributes the schema lacks (PREFIX_LENGTH, GATEWAY, ...)."""
    attrs = ar.attributes()
    parts = ["<AR>", *_elements(attrs, HEAD)]
    if not strict:
        parts += _elements(attrs, _extras(attrs, HEAD + LATE_INPUTS))
    last = ar.size - 1
    derived = {"MAC_END": format_mac(ar.mac + last)}
    if ar.ip is not None:
        derived["IP_END"] = format_ipv4(ar.ip + last)
    if ar.has_slaac:
        first, end = ar.address(0), ar.address(last)
        if first.ip6_ula is not None:
            derived.update(IP6_ULA=first.ip6_ula, IP6_ULA_END=str(end.ip6_ula))
        if first.ip6_global is not None:
            derived.update(IP6_GLOBAL=first.ip6_global, IP6_GLOBAL_END=str(end.ip6_global))
    if ar.ip6 is not None:
        derived.update(IP6=attrs["IP6"], IP6_END=format_ipv6(ar.ip6 + last))
    derived.update({k: attrs[k] for k in ("PORT_START", "PORT_SIZE") if k in attrs})
    parts += _elements(derived, derived)
    rows = [_lease_xml(ar, index, owner) for index, owner in sorted(leases, key=_first)]
    parts.append(f"<USED_LEASES>{len(rows) if used_leases is None else used_leases}"
                 "</USED_LEASES>")
    parts.append(f"<LEASES>{''.join(rows)}</LEASES>" if rows else "<LEASES/>")
    parts.append("</AR>")
    return "".join(parts)


def ar_pool_xml(ar: AddressRange, leases: Leases = (), *, strict: bool = True) -> str:
    """``<AR>`` per vnet_pool.xsd: ALLOCATED (when leases are in use) and the attributes."""
    attrs = ar.attributes()
    allocated = encode_allocated(leases)
    parts = ["<AR>"]
    if allocated:
        parts.append(f"<ALLOCATED>{allocated}</ALLOCATED>")
    parts += _elements(attrs, HEAD)
    if not strict:
        parts += _elements(attrs, _extras(attrs, HEAD))
    parts.append("</AR>")
    return "".join(parts)


_AR_HEAD = re.compile(r"<AR>(?:<ALLOCATED>[^<]*</ALLOCATED>)?<AR_ID>(\d+)</AR_ID>")
_USED_LEASES = re.compile(r"<USED_LEASES>\d*</USED_LEASES>")


def listed_with_leases(short_body: str, leases: Mapping[int, Leases]) -> str:
    """A stored one.vnpool.info body with its leases (AR id -> (index, owner), kept in
    their own table): the network's USED_LEASES and each AR's ALLOCATED filled in.

    Text is spliced, not parsed, so a listing costs what its leases do. AR_POOL is the
    body's last element and everything in it is written by ``ar_pool_xml``; the first
    USED_LEASES is the network's (the TEMPLATE, after it, holds only CDATA values).
    """
    at = short_body.rfind("<AR_POOL>")
    head, pool = (short_body, "") if at < 0 else (short_body[:at], short_body[at:])
    used = 0

    def fill(m: re.Match[str]) -> str:
        nonlocal used
        mine = list(leases.get(int(m.group(1)), ()))
        used += len(mine)
        allocated = f"<ALLOCATED>{encode_allocated(mine)}</ALLOCATED>" if mine else ""
        return f"<AR>{allocated}<AR_ID>{m.group(1)}</AR_ID>"

    pool = _AR_HEAD.sub(fill, pool)
    return _USED_LEASES.sub(f"<USED_LEASES>{used}</USED_LEASES>", head, count=1) + pool


def encode_allocated(leases: Leases) -> str:
    """oned's ALLOCATED text: `` index pack`` per lease, pack = type bit | (id & 0xffffffff)."""
    return "".join(f" {index} {_pack(owner)}" for index, owner in sorted(leases, key=_first))


def decode_allocated(text: str) -> list[tuple[int, dict[str, int]]]:
    """Leases from an ALLOCATED text (e.g. when importing an OpenNebula database)."""
    numbers = [int(n) for n in text.split()]
    if len(numbers) % 2:
        raise ValueError(f"ALLOCATED has an odd number of fields: {text!r}")
    out = []
    for index, pack in zip(numbers[::2], numbers[1::2]):
        tag = next((t for t, bit in OWNER_BITS.items() if pack & bit), None)
        if tag is None:
            raise ValueError(f"ALLOCATED owner {pack} is not a VM, VNET or VROUTER")
        oid = pack & 0xFFFFFFFF
        out.append((index, {tag: oid - (1 << 32) if oid >= 1 << 31 else oid}))
    return out


def _first(item: tuple[int, Owner]) -> int:
    return item[0]


def _owner(owner: Owner) -> tuple[str, int]:
    if len(owner) != 1 or next(iter(owner)) not in OWNER_BITS:
        raise ValueError(f"a lease owner is one of {{'VM'|'VNET'|'VROUTER': id}}, not {owner!r}")
    tag, oid = next(iter(owner.items()))
    return tag, int(oid)


def _pack(owner: Owner) -> int:
    tag, oid = _owner(owner)
    return OWNER_BITS[tag] | (oid & 0xFFFFFFFF)


def _lease_xml(ar: AddressRange, index: int, owner: Owner) -> str:
    tag, oid = _owner(owner)
    body = "".join(f"<{k}>{v}</{k}>" for k, v in ar.address(index).attributes().items())
    return f"<LEASE>{body}<{tag}>{oid}</{tag}></LEASE>"


def _elements(values: Mapping[str, str], keys: Iterable[str]) -> list[str]:
    return [f"<{k}>{escape(values[k])}</{k}>" for k in keys if k in values]


def _extras(attrs: Mapping[str, str], known: tuple[str, ...]) -> list[str]:
    """Attributes outside the schema, alphabetically; names that are not XML are skipped."""
    return sorted(k for k in attrs if k not in known and _NAME.match(k))
