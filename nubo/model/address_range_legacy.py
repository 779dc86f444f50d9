"""The RANGED and FIXED networks of OpenNebula before 4.8, turned into address ranges.

The source documents define networks as ``TYPE = RANGED`` (NETWORK_ADDRESS with a
NETWORK_SIZE, a NETWORK_MASK or an ``/prefix``) or ``TYPE = FIXED`` (one ``LEASES =
[IP=..., MAC=...]`` per address). OpenNebula 4.8 replaced both by address ranges and its
upgrade converted them; nubo does the same at allocate, so those templates work as written:

- RANGED: one IP4 AR from the first host address (NETWORK_ADDRESS + 1, or IP_START) of
  NETWORK_SIZE addresses (at most the hosts the mask leaves, or up to IP_END); the
  network keeps NETWORK_ADDRESS and NETWORK_MASK, which NICs and context read.
- FIXED: one AR of SIZE 1 per lease (IP4 with an IP, ETHER with only a MAC).

A short MAC such as the documents' ``50:20:20:20:20`` (five bytes) is completed on the
left with the bytes of MAC_PREFIX, as the pre-4.8 leases put the prefix before the rest.
Pure: works on attribute dicts, no storage.
"""
from __future__ import annotations

from collections.abc import Mapping

from nubo.model.address_range import AddressRangeError
from nubo.model.address_range_leases import format_ipv4, parse_hex_bytes, parse_ipv4

LEGACY_TYPES = frozenset({"RANGED", "FIXED"})
_CLASSES = {"A": 8, "B": 16, "C": 24}  # NETWORK_SIZE as a network class, as OpenNebula 1-3


def legacy_ranges(network: Mapping[str, str], leases: list[Mapping[str, str]],
                  mac_prefix: str = "02:00") -> tuple[list[dict[str, str]], dict[str, str]]:
    """The AR attribute sets of a RANGED/FIXED network, and the network attributes to set.

    ``network`` holds its single attributes (TYPE, NETWORK_ADDRESS...), ``leases`` its
    LEASES vectors (FIXED). Raises AddressRangeError saying what is wrong and where.
    """
    kind = network.get("TYPE", "").strip().upper()
    if kind == "FIXED":
        return [_fixed_lease(i, lease, mac_prefix) for i, lease in enumerate(leases)], {}
    if kind == "RANGED":
        return _ranged(network)
    raise AddressRangeError(f"Unknown network TYPE {kind!r}: use RANGED or FIXED, or ARs.")


def _fixed_lease(i: int, lease: Mapping[str, str], mac_prefix: str) -> dict[str, str]:
    attrs = {k.upper(): str(v).strip() for k, v in lease.items()}
    ip, mac = attrs.get("IP", ""), attrs.get("MAC", "")
    if not ip and not mac:
        raise AddressRangeError(f"LEASES number {i + 1} of a FIXED network has no IP or MAC.")
    ar = {"TYPE": "IP4" if ip else "ETHER", "SIZE": "1"}
    if ip:
        if parse_ipv4(ip) is None:
            raise AddressRangeError(
                f"LEASES number {i + 1} of a FIXED network: IP {ip!r} is not an IPv4 address.")
        ar["IP"] = ip
    if mac:
        ar["MAC"] = complete_mac(mac, mac_prefix)
    return ar


def complete_mac(mac: str, mac_prefix: str) -> str:
    """A MAC of fewer than six bytes completed on the left from MAC_PREFIX."""
    parts = mac.split(":")
    prefix = parse_hex_bytes(mac_prefix, 2)
    missing = 6 - len(parts)
    if 0 < missing <= 2 and prefix is not None:
        head = [f"{prefix >> 8:02x}", f"{prefix & 0xFF:02x}"][:missing]
        return ":".join(head + parts)
    return mac  # a full MAC, or one AddressRange rejects with its own message


def _ranged(network: Mapping[str, str]) -> tuple[list[dict[str, str]], dict[str, str]]:
    text = network.get("NETWORK_ADDRESS", "").strip()
    address, _, slash = text.partition("/")
    base = parse_ipv4(address)
    if base is None:
        raise AddressRangeError(
            f"Wrong NETWORK_ADDRESS {text!r} of a RANGED network: an IPv4 address is needed.")
    bits = _prefix_bits(slash, network)
    mask = (0xFFFFFFFF << (32 - bits)) & 0xFFFFFFFF
    base &= mask
    hosts = max((1 << (32 - bits)) - 2, 1)
    first = base + 1 if bits < 31 else base
    start = network.get("IP_START", "").strip()
    if start:
        first = _inside(start, "IP_START", base, mask)
    size = min(hosts, base + hosts + (1 if bits < 31 else 0) - first)
    size_text = network.get("NETWORK_SIZE", "").strip()
    if size_text.isdigit():
        size = min(size, int(size_text))
    end = network.get("IP_END", "").strip()
    if end:
        size = _inside(end, "IP_END", base, mask) - first + 1
        if size < 1:
            raise AddressRangeError(f"IP_END {end} of a RANGED network is before IP_START.")
    ar = {"TYPE": "IP4", "IP": format_ipv4(first), "SIZE": str(size)}
    return [ar], {"NETWORK_ADDRESS": format_ipv4(base), "NETWORK_MASK": format_ipv4(mask)}


def _prefix_bits(slash: str, network: Mapping[str, str]) -> int:
    """The prefix length from ``/bits``, NETWORK_MASK or NETWORK_SIZE (hosts or class)."""
    if slash:
        if slash.isdigit() and 1 <= int(slash) <= 32:
            return int(slash)
        raise AddressRangeError(f"Wrong prefix /{slash} in NETWORK_ADDRESS of a RANGED network.")
    mask_text = network.get("NETWORK_MASK", "").strip()
    if mask_text:
        mask = parse_ipv4(mask_text)
        inverted = None if mask is None else (~mask) & 0xFFFFFFFF
        if inverted is None or inverted & (inverted + 1) or mask == 0:
            raise AddressRangeError(
                f"Wrong NETWORK_MASK {mask_text!r} of a RANGED network (e.g. 255.255.255.0).")
        return 32 - inverted.bit_length()
    size = network.get("NETWORK_SIZE", "").strip().upper()
    if size in _CLASSES:
        return _CLASSES[size]
    if size.isdigit() and 0 < int(size) < (1 << 31):
        return 32 - (int(size) + 1).bit_length()  # room for the size, network and broadcast
    raise AddressRangeError(
        f"A RANGED network needs NETWORK_SIZE (a number of hosts, or A, B, C), NETWORK_MASK "
        f"or NETWORK_ADDRESS with a /prefix; NETWORK_SIZE is {size!r}.")


def _inside(text: str, what: str, base: int, mask: int) -> int:
    value = parse_ipv4(text)
    if value is None or value & mask != base:
        raise AddressRangeError(
            f"{what} {text!r} of a RANGED network is not an address of {format_ipv4(base)}.")
    return value
