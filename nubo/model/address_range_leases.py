"""Lease addresses: MAC/IPv4/IPv6 text codecs, the Lease record, the used-lease index.

Shared by ``address_range`` (which maps lease indexes to addresses) and its XML
rendering; kept apart so each file does one job.
"""
from __future__ import annotations

import socket
from array import array
from bisect import bisect_left
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

LINK_LOCAL = 0xFE80 << 112


# ---------------------------------------------------------------- address codecs

def parse_ipv4(text: str) -> int | None:
    """Dotted quad to int; like oned, decimal parts only (leading zeros are decimal)."""
    parts = text.strip().split(".")
    if len(parts) != 4 or not all(p.isascii() and p.isdigit() for p in parts):
        return None
    value = 0
    for part in parts:
        if int(part) > 255:
            return None
        value = (value << 8) | int(part)
    return value


def format_ipv4(value: int) -> str:
    return socket.inet_ntoa(value.to_bytes(4, "big"))


def parse_hex_bytes(text: str, count: int) -> int | None:
    """``count`` colon-separated hex bytes (1-2 digits each) to an int, or None."""
    parts = text.strip().split(":")
    if len(parts) != count or not all(
            1 <= len(p) <= 2 and all(c in "0123456789abcdefABCDEF" for c in p) for p in parts):
        return None
    return int("".join(p.zfill(2) for p in parts), 16)


def parse_mac(text: str) -> int | None:
    """``aa:bb:cc:dd:ee:ff`` (any case) to a 48-bit int."""
    return parse_hex_bytes(text, 6)


def format_mac(value: int) -> str:
    h = f"{value:012x}"
    return f"{h[0:2]}:{h[2:4]}:{h[4:6]}:{h[6:8]}:{h[8:10]}:{h[10:12]}"


def parse_ipv6(text: str) -> int | None:
    """IPv6 text to a 128-bit int with inet_pton, as oned parses it (no zone ids)."""
    try:
        return int.from_bytes(socket.inet_pton(socket.AF_INET6, text.strip()), "big")
    except (OSError, ValueError):
        return None


def format_ipv6(value: int) -> str:
    """inet_ntop text, as oned prints it (RFC 5952 compression, lower case)."""
    return socket.inet_ntop(socket.AF_INET6, value.to_bytes(16, "big"))


def eui64(mac: int) -> int:
    """Modified EUI-64 interface id (RFC 4291): flip the U/L bit, put ff:fe in the middle."""
    return (((mac >> 24) ^ 0x020000) << 40) | (0xFFFE << 24) | (mac & 0xFFFFFF)


# ------------------------------------------------------------------------ leases

@dataclass(frozen=True)
class Lease:
    """The addresses of one lease, named as in a NIC and in ``<LEASE>``."""

    index: int
    mac: str
    ip: str | None = None
    ip6: str | None = None
    ip6_global: str | None = None
    ip6_ula: str | None = None
    ip6_link: str | None = None

    def attributes(self) -> dict[str, str]:
        """NIC attributes for this lease, in OpenNebula's (alphabetical) order."""
        pairs = (("IP", self.ip), ("IP6", self.ip6), ("IP6_GLOBAL", self.ip6_global),
                 ("IP6_LINK", self.ip6_link), ("IP6_ULA", self.ip6_ula), ("MAC", self.mac))
        return {k: v for k, v in pairs if v is not None}


class UsedLeases:
    """Sorted indexes of the leases in use in one AR.

    Memory grows with the leases in use, not with SIZE (an IPv6 AR may hold 2**32), and
    the next free index is found by bisection in O(log n) however fragmented the range.
    Storage can fill it straight from ``ORDER BY index`` (pass ``presorted=True``).
    """

    __slots__ = ("_idx",)

    def __init__(self, indexes: Iterable[int] = (), *, presorted: bool = False) -> None:
        self._idx = array("q", indexes if presorted else sorted(set(indexes)))

    def __len__(self) -> int:
        return len(self._idx)

    def __iter__(self) -> Iterator[int]:
        return iter(self._idx)

    def __contains__(self, index: object) -> bool:
        if not isinstance(index, int):
            return False
        i = bisect_left(self._idx, index)
        return i < len(self._idx) and self._idx[i] == index

    def add(self, index: int) -> bool:
        """Mark used; False if it already was."""
        i = bisect_left(self._idx, index)
        if i < len(self._idx) and self._idx[i] == index:
            return False
        self._idx.insert(i, index)
        return True

    def discard(self, index: int) -> bool:
        """Mark free; False if it already was."""
        i = bisect_left(self._idx, index)
        if i < len(self._idx) and self._idx[i] == index:
            del self._idx[i]
            return True
        return False

    def max(self) -> int | None:
        return self._idx[-1] if self._idx else None

    def first_free(self, start: int, limit: int) -> int | None:
        """Smallest free index in [start, limit), or None."""
        idx = self._idx
        i = bisect_left(idx, start)
        if i == len(idx) or idx[i] != start:
            return start if start < limit else None
        # idx[j] - j never decreases; the run of used indexes from `start` is the stretch
        # where it equals start - i, and the first free index is just past that run.
        base, lo, hi = start - i, i, len(idx)
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if idx[mid] - mid == base:
                lo = mid
            else:
                hi = mid
        candidate = base + hi
        return candidate if candidate < limit else None
