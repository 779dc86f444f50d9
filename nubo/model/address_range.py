"""Address ranges (ARs) of a virtual network: validation, lease addresses, allocation.

An AR is a contiguous block of ``SIZE`` leases. Lease *i* has MAC = first MAC + i
and, by type, IPv4 = IP + i, static IPv6 = IP6 + i, and SLAAC IPv6 addresses built
from a /64 prefix and the modified EUI-64 of its MAC. Everything here works on lease
*indexes*, because storage keeps leases as (vnet id, AR id, index) rows: this module
maps indexes to addresses and back, picks free indexes, and never touches storage.
XML rendering lives in ``address_range_xml``.
"""
from __future__ import annotations

import random
from collections.abc import Collection, Iterable, Iterator, Mapping, Set
from dataclasses import dataclass, field, replace

from nubo.errors import InternalError
from nubo.model.address_range_leases import (
    LINK_LOCAL, Lease, UsedLeases, eui64, format_ipv4, format_ipv6, format_mac,
    parse_hex_bytes, parse_ipv4, parse_ipv6, parse_mac)

__all__ = ["AddressRange", "AddressRangeError", "Lease", "UsedLeases", "TYPES"]

TYPES = ("ETHER", "IP4", "IP6", "IP6_STATIC", "IP4_6", "IP4_6_STATIC")
IPV4_TYPES = frozenset({"IP4", "IP4_6", "IP4_6_STATIC"})
SLAAC_TYPES = frozenset({"IP6", "IP4_6"})
STATIC6_TYPES = frozenset({"IP6_STATIC", "IP4_6_STATIC"})

MAC_SPACE = 1 << 32  # a MAC prefix (first 2 bytes) is followed by a 32-bit counter
IPV4_SPACE = 1 << 32
_LOW64 = (1 << 64) - 1

# Attributes OpenNebula computes or keeps for itself: never taken from a client.
DERIVED = frozenset({"ALLOCATED", "USED_LEASES", "LEASES", "PARENT_NETWORK", "MAC_END",
                     "IP_END", "IP6_END", "IP6_ULA", "IP6_ULA_END", "IP6_GLOBAL",
                     "IP6_GLOBAL_END"})
INTERNAL = frozenset({"AR_ID", "NEXT_INDEX", "PARENT_NETWORK_AR_ID"})
_MODELLED = frozenset({"TYPE", "SIZE", "MAC", "IP", "IP6", "PREFIX_LENGTH",
                       "GLOBAL_PREFIX", "ULA_PREFIX"}) | INTERNAL


class AddressRangeError(InternalError):
    """A bad AR; OpenNebula answers one.vn.allocate/add_ar/update_ar failures with INTERNAL."""


# ----------------------------------------------------------------- address range

@dataclass
class AddressRange:
    """One ``AR = [...]`` of a virtual network, parsed and validated.

    ``mac``/``ip``/``ip6`` are the first addresses as ints; ``extra`` keeps every other
    attribute (VN_MAD, VLAN_ID, GATEWAY, ...) so ``attributes()`` round-trips.
    """

    ar_id: int
    type: str
    size: int
    mac: int
    ip: int | None = None
    ip6: int | None = None
    prefix_length: int | None = None
    global_prefix: int | None = None
    ula_prefix: int | None = None
    next_index: int = 0
    parent_network_ar_id: int | None = None
    extra: dict[str, str] = field(default_factory=dict)

    # ------------------------------------------------------------ construction

    @classmethod
    def from_attributes(cls, ar_id: int, attrs: Mapping[str, str], mac_prefix: str = "02:00",
                        *, rng: random.Random | None = None) -> AddressRange:
        """Validate a client's AR; internal and derived attributes it sends are dropped."""
        clean = {k: v for k, v in _normalise(attrs).items() if k not in INTERNAL}
        return _build(ar_id, clean, mac_prefix, rng or random.Random())

    @classmethod
    def restore(cls, attrs: Mapping[str, str]) -> AddressRange:
        """Rebuild an AR from ``attributes()`` as stored (MAC always present there)."""
        norm = _normalise(attrs)
        if "MAC" not in norm:
            raise AddressRangeError(f"Stored address range {norm.get('AR_ID')} has no MAC.")
        ar = _build(_int_attr(norm, "AR_ID", 0), norm, "02:00", random.Random(0))
        ar.next_index = _int_attr(norm, "NEXT_INDEX", 0) % ar.size
        if norm.get("PARENT_NETWORK_AR_ID"):
            ar.parent_network_ar_id = _int_attr(norm, "PARENT_NETWORK_AR_ID", 0)
        return ar

    def attributes(self) -> dict[str, str]:
        """The attributes to store (derived ones like MAC_END are recomputed, not kept)."""
        out = dict(self.extra)
        out.update(AR_ID=str(self.ar_id), TYPE=self.type, SIZE=str(self.size),
                   MAC=format_mac(self.mac), NEXT_INDEX=str(self.next_index))
        if self.ip is not None:
            out["IP"] = format_ipv4(self.ip)
        if self.ip6 is not None:
            out["IP6"] = format_ipv6(self.ip6)
            out["PREFIX_LENGTH"] = str(self.prefix_length)
        if self.global_prefix is not None:
            out["GLOBAL_PREFIX"] = format_ipv6(self.global_prefix)
        if self.ula_prefix is not None:
            out["ULA_PREFIX"] = format_ipv6(self.ula_prefix)
        if self.parent_network_ar_id is not None:
            out["PARENT_NETWORK_AR_ID"] = str(self.parent_network_ar_id)
        return out

    # ---------------------------------------------------------------- addresses

    @property
    def has_slaac(self) -> bool:
        """IP6 / IP4_6: SLAAC addresses from the MAC (IPv4 and static IPv6 show in ip/ip6)."""
        return self.type in SLAAC_TYPES

    def address(self, index: int) -> Lease:
        """The addresses of lease ``index`` (0 <= index < size)."""
        if not 0 <= index < self.size:
            raise IndexError(f"lease index {index} outside AR {self.ar_id} (SIZE {self.size})")
        mac = self.mac + index
        ip = format_ipv4(self.ip + index) if self.ip is not None else None
        ip6 = format_ipv6(self.ip6 + index) if self.ip6 is not None else None
        if not self.has_slaac:
            return Lease(index, format_mac(mac), ip, ip6)
        iid = eui64(mac)
        return Lease(index, format_mac(mac), ip, ip6,
                     ip6_global=_slaac(self.global_prefix, iid),
                     ip6_ula=_slaac(self.ula_prefix, iid),
                     ip6_link=format_ipv6(LINK_LOCAL | iid))

    def index_of_ip(self, ip: str) -> int | None:
        """Index of an IPv4 address in this AR, or None (also for non-IPv4 ARs)."""
        value = parse_ipv4(ip) if self.ip is not None else None
        return self._index(value, self.ip)

    def index_of_ip6(self, ip6: str) -> int | None:
        """Index of a static IPv6 address (IP6_STATIC / IP4_6_STATIC ARs), or None."""
        value = parse_ipv6(ip6) if self.ip6 is not None else None
        return self._index(value, self.ip6)

    def index_of_mac(self, mac: str) -> int | None:
        return self._index(parse_mac(mac), self.mac)

    def _index(self, value: int | None, first: int | None) -> int | None:
        if value is None or first is None or not 0 <= value - first < self.size:
            return None
        return value - first

    # --------------------------------------------------------------- allocation

    def next_free(self, used: UsedLeases | Set[int], hint: int | None = None) -> int | None:
        """The first free index at or after ``hint`` (default NEXT_INDEX), wrapping round.

        Like oned, allocation walks forward from NEXT_INDEX, so a freed address is not
        handed out again at once. O(log n) with ``UsedLeases``; with a plain set it probes
        one index at a time (fine while NEXT_INDEX is kept, O(size) on a full range).
        The caller sets ``next_index`` to the index it takes.
        """
        start = (self.next_index if hint is None else hint) % self.size
        if isinstance(used, UsedLeases):
            found = used.first_free(start, self.size)
            return found if found is not None or start == 0 else used.first_free(0, start)
        return next((i for i in _wrap(start, self.size) if i not in used), None)

    # ------------------------------------------------------------------ overlap

    def overlap(self, other: AddressRange) -> str | None:
        """Why two ARs share an address (MAC, IPv4 or static IPv6), or None."""
        checks = [("MAC", self.mac, other.mac, format_mac)]
        if self.ip is not None and other.ip is not None:
            checks.append(("IP", self.ip, other.ip, format_ipv4))
        if self.ip6 is not None and other.ip6 is not None:
            checks.append(("IP6", self.ip6, other.ip6, format_ipv6))
        for what, a, b, fmt in checks:
            if a <= b + other.size - 1 and b <= a + self.size - 1:
                return (f"{what} range {fmt(a)}-{fmt(a + self.size - 1)} of AR {self.ar_id} "
                        f"overlaps {fmt(b)}-{fmt(b + other.size - 1)} of AR {other.ar_id}")
        return None

    def overlaps(self, other: AddressRange) -> bool:
        return self.overlap(other) is not None

    # ------------------------------------------------------------------- update

    def update(self, attrs: Mapping[str, str], *, max_used_index: int | None = None,
               restricted: Collection[str] = ()) -> AddressRange:
        """A new AR for one.vn.update_ar: the given attributes replace the old ones.

        TYPE, MAC, IP and IP6 cannot change (a new value is ignored, as in oned); AR_ID,
        NEXT_INDEX and PARENT_NETWORK_AR_ID are kept; SIZE kept when absent, fixed for a
        reservation and never below ``max_used_index + 1``; ``restricted`` names attributes
        the caller may not touch (VNET_RESTRICTED_ATTR for non-admins): old values stay.
        """
        fixed = {k.upper() for k in restricted}
        new = {k: v for k, v in _normalise(attrs).items() if k not in INTERNAL | fixed}
        old = self.attributes()
        new.update({k: old[k] for k in fixed if k in old})
        new.update({k: old[k] for k in ("TYPE", "MAC", "IP", "IP6", "IPAM_MAD") if k in old})
        new.setdefault("SIZE", old["SIZE"])
        if self.ip6 is not None:
            new.setdefault("PREFIX_LENGTH", old["PREFIX_LENGTH"])
        size = _size_attr(new["SIZE"], self.ar_id)
        if self.parent_network_ar_id is not None and size != self.size:
            raise AddressRangeError("The SIZE of a reservation cannot be changed.", self.ar_id)
        if max_used_index is not None and max_used_index >= size:
            raise AddressRangeError(
                "New SIZE cannot be applied. There are used leases that would fall outside "
                f"the range (lease index {max_used_index} is in use, SIZE {size}).", self.ar_id)
        ar = _build(self.ar_id, new, "02:00", random.Random(0))
        return replace(ar, next_index=self.next_index if self.next_index < size else 0,
                       parent_network_ar_id=self.parent_network_ar_id)

    # ---------------------------------------------------------------------- XML

    def to_xml(self, leases: Iterable[tuple[int, Mapping[str, int | str]]] = (), *,
               used_leases: int | None = None, strict: bool = True) -> str:
        """``<AR>`` as one.vn.info returns it (vnet.xsd); see ``address_range_xml``."""
        from nubo.model.address_range_xml import ar_xml
        return ar_xml(self, leases, used_leases=used_leases, strict=strict)

    def to_pool_xml(self, leases: Iterable[tuple[int, Mapping[str, int | str]]] = (), *,
                    strict: bool = True) -> str:
        """``<AR>`` as one.vnpool.info lists it (vnet_pool.xsd)."""
        from nubo.model.address_range_xml import ar_pool_xml
        return ar_pool_xml(self, leases, strict=strict)


# ------------------------------------------------------------------ validation

def _wrap(start: int, size: int) -> Iterator[int]:
    yield from range(start, size)
    yield from range(start)


def _slaac(prefix: int | None, iid: int) -> str | None:
    return format_ipv6(prefix | iid) if prefix is not None else None


def _normalise(attrs: Mapping[str, str]) -> dict[str, str]:
    """Upper-case names, string values, empty values dropped (oned treats them as unset)."""
    out = {}
    for key, value in attrs.items():
        text = str(value).strip()
        if text and key.upper() not in DERIVED:
            out[key.upper()] = text
    return out


def _int_attr(attrs: Mapping[str, str], key: str, default: int) -> int:
    text = attrs.get(key, "")
    return int(text) if text.isascii() and text.isdigit() else default


def _size_attr(text: str, ar_id: int = -1) -> int:
    if not (text.isascii() and text.isdigit()) or int(text) < 1:
        raise AddressRangeError(
            f"Wrong SIZE for address range: {text!r} is not a positive integer.", ar_id)
    return int(text)


def _build(ar_id: int, attrs: dict[str, str], mac_prefix: str, rng: random.Random) -> AddressRange:
    """Check a normalised attribute set and derive what oned derives (MAC, SIZE)."""
    kind = attrs.get("TYPE", "").upper()
    if kind not in TYPES:
        raise AddressRangeError(
            f"Unknown or missing address range TYPE: {attrs.get('TYPE', '')!r}; "
            f"use one of {', '.join(TYPES)}.", ar_id)
    ip = _first_ipv4(ar_id, kind, attrs) if kind in IPV4_TYPES else None
    global_prefix = ula_prefix = ip6 = prefix_length = None
    if kind in SLAAC_TYPES:
        global_prefix = _prefix(ar_id, attrs, "GLOBAL_PREFIX", "global address prefix")
        ula_prefix = _prefix(ar_id, attrs, "ULA_PREFIX", "unique local address prefix")
    if kind in STATIC6_TYPES:
        ip6, prefix_length = _first_ipv6(ar_id, kind, attrs)
    mac = _mac_attr(ar_id, attrs.get("MAC"))
    if "SIZE" in attrs or ip6 is None:
        size = _size_attr(attrs.get("SIZE", ""), ar_id)
    else:  # oned sizes a static IPv6 range to the end of its prefix; we also stop where
        # the MAC suffix or the IPv4 space would run out, so the derived SIZE is valid
        rooms = [_room6(ip6, prefix_length), MAC_SPACE - (mac or 0) % MAC_SPACE]
        size = min(rooms + ([IPV4_SPACE - ip] if ip is not None else []))
    if ip is not None and ip + size > IPV4_SPACE:
        raise AddressRangeError(f"SIZE {size} too large: from IP {format_ipv4(ip)} the range "
                                "would go past 255.255.255.255.", ar_id)
    if ip6 is not None and size > _room6(ip6, prefix_length):
        raise AddressRangeError(
            f"SIZE {size} too large for an IP6 range: from {format_ipv6(ip6)} only "
            f"{_room6(ip6, prefix_length)} addresses remain in its /{prefix_length} prefix.",
            ar_id)
    if mac is None:
        mac = _generated_mac(ar_id, mac_prefix, ip, size, rng)
    if (mac & 0xFFFFFFFF) + size > MAC_SPACE:
        raise AddressRangeError(
            f"SIZE {size} too large: from MAC {format_mac(mac)} the range would leave the "
            f"{format_mac(mac)[:5]} prefix (the last 4 bytes count leases).", ar_id)
    for key in ("PORT_START", "PORT_SIZE"):
        if key in attrs and not (attrs[key].isascii() and attrs[key].isdigit()):
            raise AddressRangeError(
                f"Wrong {key}: {attrs[key]!r} is not a non-negative integer.", ar_id)
    extra = {k: v for k, v in attrs.items() if k not in _MODELLED}
    return AddressRange(ar_id, kind, size, mac, ip, ip6, prefix_length, global_prefix,
                        ula_prefix, extra=extra)


def _first_ipv4(ar_id: int, kind: str, attrs: Mapping[str, str]) -> int:
    ip = parse_ipv4(attrs.get("IP", ""))
    if ip is None:
        raise AddressRangeError(
            f"Wrong or empty IP attribute: {attrs.get('IP', '')!r} is not an IPv4 address "
            f"(an {kind} range needs its first IP).", ar_id)
    return ip


def _first_ipv6(ar_id: int, kind: str, attrs: Mapping[str, str]) -> tuple[int, int]:
    ip6 = parse_ipv6(attrs.get("IP6", ""))
    if ip6 is None:
        raise AddressRangeError(
            f"Wrong or empty IP6 attribute: {attrs.get('IP6', '')!r} is not an IPv6 address "
            f"(an {kind} range needs its first IP6).", ar_id)
    text = attrs.get("PREFIX_LENGTH", "")
    if not (text.isascii() and text.isdigit()) or int(text) > 128:
        raise AddressRangeError(
            f"Wrong or empty PREFIX_LENGTH: {text!r} is not an integer 0-128.", ar_id)
    return ip6, int(text)


def _mac_attr(ar_id: int, text: str | None) -> int | None:
    if text is None:
        return None
    mac = parse_mac(text)
    if mac is None:
        raise AddressRangeError(
            f"Wrong format for MAC attribute: {text!r} is not aa:bb:cc:dd:ee:ff.", ar_id)
    if mac >> 40 & 1:
        raise AddressRangeError(
            f"Wrong format for MAC attribute: {text!r} is a multicast address.", ar_id)
    return mac


def mac_prefix_problem(mac_prefix: str) -> str | None:
    """Why ``mac_prefix`` (oned.conf's MAC_PREFIX) cannot start the MACs of a range, or
    None: two hex bytes, the first without the multicast bit."""
    prefix = parse_hex_bytes(mac_prefix, 2)
    if prefix is None or prefix >> 8 & 1:
        return f"Wrong MAC_PREFIX {mac_prefix!r}: two hex bytes, not multicast."
    return None


def _generated_mac(ar_id: int, mac_prefix: str, ip: int | None, size: int,
                   rng: random.Random) -> int:
    """MAC_PREFIX + the IPv4 address, or + a random suffix with room for SIZE leases."""
    problem = mac_prefix_problem(mac_prefix)
    if problem:
        raise AddressRangeError(problem, ar_id)
    prefix = parse_hex_bytes(mac_prefix, 2) or 0
    suffix = ip if ip is not None else rng.randrange(MAC_SPACE - min(size, MAC_SPACE) + 1)
    return (prefix << 32) | suffix


def _prefix(ar_id: int, attrs: Mapping[str, str], key: str, what: str) -> int | None:
    """A SLAAC /64 prefix; like oned only its upper 64 bits count."""
    if key not in attrs:
        return None
    value = parse_ipv6(attrs[key])
    if value is None:
        raise AddressRangeError(
            f"Wrong format for IP6 {what}: {attrs[key]!r} is not an IPv6 address "
            "(write the /64 prefix as e.g. 2001:db8:1:2::).", ar_id)
    return value & ~_LOW64 or None  # '::' means unset, as in oned


def _room6(ip6: int, prefix_length: int) -> int:
    """Addresses from ip6 to the end of its /prefix_length network."""
    host_bits = 128 - prefix_length
    return (1 << host_bits) - (ip6 & ((1 << host_bits) - 1))
