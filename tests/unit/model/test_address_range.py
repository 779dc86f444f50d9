"""Address ranges: OpenNebula's documented derivations, validation, allocation and XML."""
from __future__ import annotations

import random
import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from lxml import etree

from nubo.errors import InternalError
from nubo.model.address_range import (
    IPV4_TYPES, SLAAC_TYPES, STATIC6_TYPES, TYPES, AddressRange, AddressRangeError, UsedLeases)
from nubo.model.address_range_leases import (
    format_ipv4, format_ipv6, format_mac, parse_ipv4, parse_ipv6, parse_mac)
from nubo.model.address_range_xml import decode_allocated, encode_allocated

XSD_DIR = Path(__file__).resolve().parents[3].parent / "shared" / "reference" / "opennebula-xsd"


def make(attrs: dict[str, str], ar_id: int = 0, **kw) -> AddressRange:
    return AddressRange.from_attributes(ar_id, attrs, **kw)


# ------------------------------------------------------------ documented examples

def test_mac_is_prefix_plus_ipv4_as_documented():
    # OpenNebula's vnet template docs: "from IP 10.0.0.1 and MAC_PREFIX 02:00,
    # we get 02:00:0a:00:00:01".
    ar = make({"TYPE": "IP4", "IP": "10.0.0.1", "SIZE": "3"})
    assert ar.address(0).mac == "02:00:0a:00:00:01"
    assert ar.address(2).mac == "02:00:0a:00:00:03"
    assert ar.address(2).ip == "10.0.0.3"


def test_provider_example_mac_matches_ip():
    # The OpenNebula Terraform/Pulumi provider example pairs IP 172.16.100.110 with
    # MAC 02:00:ac:10:64:6e, i.e. the default prefix followed by the IPv4 bytes.
    ar = make({"TYPE": "IP4", "IP": "172.16.100.110", "SIZE": "15"})
    assert format_mac(ar.mac) == "02:00:ac:10:64:6e"
    assert ar.index_of_mac("02:00:AC:10:64:6E") == 0


def test_mac_prefix_from_configuration():
    ar = make({"TYPE": "IP4", "IP": "10.0.0.1", "SIZE": "1"}, mac_prefix="02:ab")
    assert ar.address(0).mac == "02:ab:0a:00:00:01"


def test_slaac_addresses_use_modified_eui64():
    # RFC 4291 modified EUI-64, as Linux builds it: 52:54:00:21:46:95 -> fe80::5054:ff:fe21:4695.
    ar = make({"TYPE": "IP6", "MAC": "52:54:00:21:46:95", "SIZE": "2",
               "GLOBAL_PREFIX": "2001:db8:0:1::", "ULA_PREFIX": "fd01:2:3:4::"})
    lease = ar.address(0)
    assert lease.ip6_link == "fe80::5054:ff:fe21:4695"
    assert lease.ip6_global == "2001:db8:0:1:5054:ff:fe21:4695"
    assert lease.ip6_ula == "fd01:2:3:4:5054:ff:fe21:4695"
    assert ar.address(1).ip6_link == "fe80::5054:ff:fe21:4696"


def test_default_prefix_mac_flips_universal_local_bit():
    # oned since 5.x xors 02:00 (4.x added it, giving fe80::400:acff:fe1b:31).
    ar = make({"TYPE": "IP4_6", "IP": "172.27.0.49", "SIZE": "1"})
    assert ar.address(0).attributes() == {
        "IP": "172.27.0.49", "IP6_LINK": "fe80::acff:fe1b:31", "MAC": "02:00:ac:1b:00:31"}


def test_ip6_static_range_sized_to_its_prefix():
    ar = make({"TYPE": "IP6_STATIC", "IP6": "2001:db8::10", "PREFIX_LENGTH": "120"})
    assert ar.size == 0x100 - 0x10
    assert ar.address(ar.size - 1).ip6 == "2001:db8::ff"
    assert ar.index_of_ip6("2001:db8::20") == 0x10
    assert ar.index_of_ip6("2001:db8::100") is None
    assert ar.address(0).ip6_link is None  # static ranges get no SLAAC addresses


def test_dual_static_needs_both_families():
    ar = make({"TYPE": "IP4_6_STATIC", "IP": "10.1.0.1", "IP6": "2001:db8::1",
               "PREFIX_LENGTH": "64", "SIZE": "10"})
    assert ar.address(9).attributes() == {
        "IP": "10.1.0.10", "IP6": "2001:db8::a", "MAC": "02:00:0a:01:00:0a"}


def test_ether_mac_is_random_but_fits():
    ar = make({"TYPE": "ETHER", "SIZE": "1000"}, rng=random.Random(7))
    assert ar.mac >> 32 == 0x0200
    assert (ar.mac & 0xFFFFFFFF) + ar.size <= 1 << 32
    assert ar.attributes()["MAC"] == format_mac(ar.mac)  # persisted, so stable
    assert ar.address(0).ip is None


def test_client_cannot_set_internal_or_derived_attributes():
    ar = make({"type": "ip4", "ip": "10.0.0.1", "size": "4", "AR_ID": "9", "ALLOCATED": "0 1",
               "USED_LEASES": "3", "MAC_END": "x", "PARENT_NETWORK_AR_ID": "2",
               "NEXT_INDEX": "3", "GLOBAL_PREFIX": "2001:db8::", "IP6": "::1",
               "GATEWAY": "10.0.0.254", "EMPTY": ""}, ar_id=4)
    assert ar.attributes() == {"AR_ID": "4", "TYPE": "IP4", "SIZE": "4", "IP": "10.0.0.1",
                               "MAC": "02:00:0a:00:00:01", "NEXT_INDEX": "0",
                               "GATEWAY": "10.0.0.254"}


# --------------------------------------------------------------------- validation

BAD = [
    ({"SIZE": "1"}, "Unknown or missing address range TYPE"),
    ({"TYPE": "IP5", "SIZE": "1"}, "Unknown or missing address range TYPE"),
    ({"TYPE": "IP4", "SIZE": "1"}, "Wrong or empty IP attribute"),
    ({"TYPE": "IP4", "IP": "10.0.0.256", "SIZE": "1"}, "Wrong or empty IP attribute"),
    ({"TYPE": "IP4_6", "IP": "10.0.0", "SIZE": "1"}, "Wrong or empty IP attribute"),
    ({"TYPE": "IP4", "IP": "10.0.0.1"}, "Wrong SIZE"),
    ({"TYPE": "IP4", "IP": "10.0.0.1", "SIZE": "0"}, "Wrong SIZE"),
    ({"TYPE": "IP4", "IP": "10.0.0.1", "SIZE": "-4"}, "Wrong SIZE"),
    ({"TYPE": "ETHER", "SIZE": "ten"}, "Wrong SIZE"),
    ({"TYPE": "ETHER", "SIZE": "1", "MAC": "02:00:00:00:00"}, "Wrong format for MAC"),
    ({"TYPE": "ETHER", "SIZE": "1", "MAC": "02:00:00:00:00:zz"}, "Wrong format for MAC"),
    ({"TYPE": "ETHER", "SIZE": "1", "MAC": "01:00:5e:00:00:01"}, "multicast"),
    ({"TYPE": "IP6", "SIZE": "1", "GLOBAL_PREFIX": "2001:db8::/64"}, "IP6 global address prefix"),
    ({"TYPE": "IP6", "SIZE": "1", "ULA_PREFIX": "fd00::g"}, "IP6 unique local address prefix"),
    ({"TYPE": "IP6_STATIC", "PREFIX_LENGTH": "64", "SIZE": "1"}, "Wrong or empty IP6 attribute"),
    ({"TYPE": "IP6_STATIC", "IP6": "2001:db8::1", "SIZE": "1"}, "Wrong or empty PREFIX_LENGTH"),
    ({"TYPE": "IP6_STATIC", "IP6": "2001:db8::1", "PREFIX_LENGTH": "129"}, "PREFIX_LENGTH"),
    ({"TYPE": "IP4", "IP": "255.255.255.250", "SIZE": "7"}, "255.255.255.255"),
    ({"TYPE": "ETHER", "MAC": "02:00:ff:ff:ff:f0", "SIZE": "17"}, "too large"),
    ({"TYPE": "IP6_STATIC", "IP6": "2001:db8::10", "PREFIX_LENGTH": "120", "SIZE": "241"},
     "too large for an IP6 range"),
    ({"TYPE": "IP6_STATIC", "IP6": "::1", "PREFIX_LENGTH": "128", "SIZE": "2"}, "too large"),
    ({"TYPE": "IP4", "IP": "10.0.0.1", "SIZE": "1", "PORT_START": "x"}, "PORT_START"),
]


@pytest.mark.parametrize(("attrs", "message"), BAD)
def test_bad_address_ranges_are_internal_errors(attrs, message):
    with pytest.raises(AddressRangeError) as err:
        make(attrs, ar_id=3)
    assert isinstance(err.value, InternalError) and err.value.code == 0x2000
    assert message in err.value.message and err.value.object_id == 3


def test_bad_mac_prefix():
    with pytest.raises(AddressRangeError, match="MAC_PREFIX"):
        make({"TYPE": "ETHER", "SIZE": "1"}, mac_prefix="03:00")


def test_last_addresses_of_each_space_are_fine():
    assert make({"TYPE": "IP4", "IP": "255.255.255.250", "SIZE": "6"}).size == 6
    assert make({"TYPE": "ETHER", "MAC": "02:00:ff:ff:ff:f0", "SIZE": "16"}).size == 16


def test_codecs_reject_junk():
    assert parse_ipv4("1.2.3.4.5") is None and parse_ipv4("1.2.3.+4") is None
    assert parse_ipv4("010.0.0.1") == parse_ipv4("10.0.0.1")  # oned reads decimal
    assert parse_mac("0:1:2:3:4:5") == 0x000102030405
    assert parse_ipv6("fe80::1%eth0") is None and parse_ipv6("::ffff") == 0xFFFF


# ----------------------------------------------------------------- random ranges

@st.composite
def ranges(draw, ar_id: int = 0, near: bool = False) -> AddressRange:
    """Valid ARs; ``near`` keeps addresses in small windows so ranges collide."""
    kind = draw(st.sampled_from(TYPES))
    size = draw(st.integers(1, 40))
    attrs = {"TYPE": kind, "SIZE": str(size)}
    if kind in IPV4_TYPES:
        low = 0x0A000000 if near else 0
        attrs["IP"] = format_ipv4(draw(st.integers(low, (low + 120) if near else 2**32 - size)))
    if near or draw(st.booleans()):
        top = 0x0200 if near else draw(st.integers(0, 0xFFFF)) & ~0x100
        attrs["MAC"] = format_mac(top << 32 | draw(st.integers(0, 120 if near else 2**32 - size)))
    if kind in SLAAC_TYPES:
        for key in ("GLOBAL_PREFIX", "ULA_PREFIX"):
            if draw(st.booleans()):
                attrs[key] = format_ipv6(draw(st.integers(1, 2**64 - 1)) << 64)
    if kind in STATIC6_TYPES:
        pl = draw(st.integers(64, 128 - (size - 1).bit_length()))
        net = 0x20010DB8 << 96 if near else draw(st.integers(0, 2**pl - 1)) << (128 - pl)
        room = 2 ** (128 - pl) - size
        host = draw(st.integers(0, min(120, room) if near else room))
        attrs.update(IP6=format_ipv6(net | host), PREFIX_LENGTH=str(pl))
    return make(attrs, ar_id, rng=random.Random(draw(st.integers(0, 99))))


@given(ranges())
def test_leases_are_distinct_and_inside_the_range(ar):
    leases = [ar.address(i) for i in range(ar.size)]
    for attr in ("mac", "ip", "ip6", "ip6_link", "ip6_global", "ip6_ula"):
        values = [getattr(lease, attr) for lease in leases]
        if values[0] is not None:
            assert len(set(values)) == ar.size
    assert all(parse_mac(x.mac) - ar.mac == x.index for x in leases)
    if ar.ip is not None:
        assert all(0 <= parse_ipv4(x.ip) - ar.ip < ar.size for x in leases)
    if ar.ip6 is not None:
        assert all(0 <= parse_ipv6(x.ip6) - ar.ip6 < ar.size for x in leases)
    with pytest.raises(IndexError):
        ar.address(ar.size)


@given(ranges(), st.data())
def test_index_lookups_invert_address(ar, data):
    index = data.draw(st.integers(0, ar.size - 1))
    lease = ar.address(index)
    assert ar.index_of_mac(lease.mac) == index
    assert ar.index_of_mac(format_mac(ar.mac + ar.size)) is None
    if lease.ip is not None:
        assert ar.index_of_ip(lease.ip) == index
        if ar.ip + ar.size < 2**32:
            assert ar.index_of_ip(format_ipv4(ar.ip + ar.size)) is None
    else:
        assert ar.index_of_ip("10.0.0.1") is None
    if lease.ip6 is not None:
        assert ar.index_of_ip6(lease.ip6) == index
    else:
        assert ar.index_of_ip6("2001:db8::1") is None


@given(ranges())
def test_restore_round_trips(ar):
    again = AddressRange.restore(ar.attributes())
    assert again == ar and again.attributes() == ar.attributes()


@given(st.integers(1, 300), st.data())
def test_next_free_matches_a_cyclic_scan(size, data):
    ar = make({"TYPE": "ETHER", "SIZE": str(size)})
    used = data.draw(st.sets(st.integers(0, size - 1)))
    hint = data.draw(st.integers(-5, 2 * size))
    expected = next((i % size for i in range(hint % size, hint % size + size)
                     if i % size not in used), None)
    assert ar.next_free(used, hint) == expected
    assert ar.next_free(UsedLeases(used), hint) == expected
    ar.next_index = hint % size
    assert ar.next_free(UsedLeases(sorted(used), presorted=True)) == expected


@given(st.lists(st.tuples(st.booleans(), st.integers(0, 60)), max_size=80))
def test_used_leases_behaves_like_a_set(ops):
    model, used = set(), UsedLeases()
    for add, index in ops:
        assert (used.add(index) if add else used.discard(index)) == (
            (index not in model) if add else (index in model))
        (model.add if add else model.discard)(index)
    assert list(used) == sorted(model) and len(used) == len(model)
    assert used.max() == (max(model) if model else None)
    assert all((i in used) == (i in model) for i in range(-1, 62))


@given(ranges(0, near=True), ranges(1, near=True))
def test_overlap_agrees_with_naive_intersection(a, b):
    def addresses(ar):
        out = {("MAC", ar.mac + i) for i in range(ar.size)}
        out |= {("IP", ar.ip + i) for i in range(ar.size)} if ar.ip is not None else set()
        if ar.ip6 is not None:
            out |= {("IP6", ar.ip6 + i) for i in range(ar.size)}
        return out
    naive = bool(addresses(a) & addresses(b))
    assert a.overlaps(b) == naive == b.overlaps(a)
    assert (a.overlap(b) is None) != naive


def test_overlap_message_names_both_ranges():
    a = make({"TYPE": "IP4", "IP": "10.0.0.1", "SIZE": "10"})
    b = make({"TYPE": "IP4", "IP": "10.0.0.10", "MAC": "02:00:00:00:00:01", "SIZE": "5"}, 1)
    assert a.overlap(b) == ("IP range 10.0.0.1-10.0.0.10 of AR 0 overlaps "
                            "10.0.0.10-10.0.0.14 of AR 1")


def test_next_free_on_a_fragmented_slash16_is_fast():
    ar = make({"TYPE": "IP4", "IP": "10.1.0.0", "SIZE": "65536"})
    free = set(random.Random(1).sample(range(65536), 700))
    used = UsedLeases((i for i in range(65536) if i not in free), presorted=True)
    began = time.perf_counter()
    for _ in range(700):
        index = ar.next_free(used)
        assert index in free and used.add(index)
        ar.next_index = index
    assert ar.next_free(used) is None
    # O(size) per allocation would be ~46M probes; bisection is a few thousand steps.
    assert time.perf_counter() - began < 2.0


# ------------------------------------------------------------------------ update

BASE = {"TYPE": "IP4_6", "IP": "10.0.0.1", "SIZE": "10", "GLOBAL_PREFIX": "2001:db8::",
        "VN_MAD": "bridge", "GATEWAY": "10.0.0.254"}


def test_update_replaces_attributes_but_keeps_identity():
    ar = make(BASE, 2)
    ar.next_index = 4
    new = ar.update({"TYPE": "ETHER", "IP": "192.168.0.1", "MAC": "02:00:00:00:00:01",
                     "SIZE": "20", "DNS": "8.8.8.8", "AR_ID": "7"})
    assert new.attributes() == {"AR_ID": "2", "TYPE": "IP4_6", "SIZE": "20", "IP": "10.0.0.1",
                                "MAC": "02:00:0a:00:00:01", "NEXT_INDEX": "4", "DNS": "8.8.8.8"}
    assert ar.size == 10 and ar.extra["GATEWAY"] == "10.0.0.254"  # the old AR is untouched


def test_update_size_cannot_strand_leases():
    ar = make(BASE)
    assert ar.update({"SIZE": "5"}, max_used_index=4).size == 5
    with pytest.raises(AddressRangeError, match="New SIZE cannot be applied"):
        ar.update({"SIZE": "5"}, max_used_index=5)
    with pytest.raises(AddressRangeError, match="Wrong SIZE"):
        ar.update({"SIZE": "0"})
    with pytest.raises(AddressRangeError, match="255.255.255.255"):
        make({"TYPE": "IP4", "IP": "255.255.255.0", "SIZE": "4"}).update({"SIZE": "300"})


def test_update_keeps_size_and_resets_next_index_past_the_end():
    ar = make(BASE)
    ar.next_index = 8
    assert ar.update({}).size == 10 and ar.update({}).next_index == 8
    assert ar.update({"SIZE": "5"}).next_index == 0


def test_reservation_size_is_fixed():
    ar = AddressRange.restore({**make(BASE).attributes(), "PARENT_NETWORK_AR_ID": "1"})
    assert ar.update({"GATEWAY": "x"}).parent_network_ar_id == 1
    with pytest.raises(AddressRangeError, match="reservation"):
        ar.update({"SIZE": "11"})


def test_update_checks_prefixes_and_keeps_restricted():
    ar = make(BASE)
    with pytest.raises(AddressRangeError, match="global address prefix"):
        ar.update({"GLOBAL_PREFIX": "nope"})
    new = ar.update({"VN_MAD": "802.1Q", "ULA_PREFIX": "fd00::"}, restricted=["vn_mad"])
    assert new.extra == {"VN_MAD": "bridge"} and new.global_prefix is None
    assert format_ipv6(new.ula_prefix) == "fd00::"
    static = make({"TYPE": "IP6_STATIC", "IP6": "2001:db8::", "PREFIX_LENGTH": "64",
                   "SIZE": "4"})
    assert static.update({"SIZE": "8"}).prefix_length == 64


# --------------------------------------------------------------------------- XML

def _vnet(ar_pool: str) -> bytes:
    ids = "".join(f"<{t}/>" for t in ("VROUTERS", "UPDATED_VMS", "OUTDATED_VMS",
                                        "UPDATING_VMS", "ERROR_VMS"))
    perms = "".join(f"<{w}_{p}>0</{w}_{p}>" for w in ("OWNER", "GROUP", "OTHER") for p in "UMA")
    return (f'<VNET xmlns="http://opennebula.org/XMLSchema"><ID>0</ID><UID>0</UID><GID>0</GID>'
            f"<UNAME>oneadmin</UNAME><GNAME>oneadmin</GNAME><NAME>net</NAME>"
            f"<PERMISSIONS>{perms}</PERMISSIONS><CLUSTERS><ID>0</ID></CLUSTERS>"
            f"<BRIDGE>br0</BRIDGE><STATE>1</STATE><PREV_STATE>0</PREV_STATE>"
            f"<PARENT_NETWORK_ID/><TEMPLATE_ID>-1</TEMPLATE_ID><VN_MAD>bridge</VN_MAD>"
            f"<PHYDEV/><VLAN_ID_AUTOMATIC>0</VLAN_ID_AUTOMATIC>"
            f"<OUTER_VLAN_ID_AUTOMATIC>0</OUTER_VLAN_ID_AUTOMATIC><USED_LEASES>3</USED_LEASES>"
            f"{ids}<TEMPLATE/><AR_POOL>{ar_pool}</AR_POOL></VNET>").encode()


def _schema(name: str) -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(XSD_DIR / name)))


def _all_kinds() -> list[AddressRange]:
    return [
        make({"TYPE": "IP4", "IP": "10.0.0.1", "SIZE": "254", "VN_MAD": "a&b<c",
              "VLAN_ID": "7", "PORT_START": "2000", "PORT_SIZE": "10", "GATEWAY": "10.0.0.254"}),
        make({"TYPE": "IP4_6", "IP": "10.1.0.1", "SIZE": "8", "GLOBAL_PREFIX": "2001:db8::",
              "ULA_PREFIX": "fd00::"}, 1),
        make({"TYPE": "IP6_STATIC", "IP6": "2001:db8:1::", "PREFIX_LENGTH": "64",
              "SIZE": "16"}, 2),
        make({"TYPE": "ETHER", "SIZE": "4"}, 3, rng=random.Random(3)),
    ]


LEASES = [(2, {"VROUTER": 1}), (0, {"VM": 12}), (1, {"VNET": 4}), (3, {"VM": -1})]


def test_ar_pool_validates_against_vnet_xsd():
    schema = _schema("vnet.xsd")
    ar_pool = "".join(ar.to_xml(LEASES) for ar in _all_kinds()) + make(
        {"TYPE": "IP6", "SIZE": "2"}, 4).to_xml()
    doc = etree.fromstring(_vnet(ar_pool))
    assert schema.validate(doc), schema.error_log
    ns = {"o": "http://opennebula.org/XMLSchema"}
    first = doc.find("o:AR_POOL/o:AR", ns)
    assert first.findtext("o:VN_MAD", namespaces=ns) == "a&b<c"
    assert first.findtext("o:IP_END", namespaces=ns) == "10.0.0.254"
    assert first.findtext("o:USED_LEASES", namespaces=ns) == "4"
    leases = first.findall("o:LEASES/o:LEASE", ns)
    assert [x.findtext("o:IP", namespaces=ns) for x in leases] == [
        "10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"]
    assert [etree.QName(x[-1]).localname + x[-1].text for x in leases] == [
        "VM12", "VNET4", "VROUTER1", "VM-1"]


def test_pool_listing_validates_against_vnet_pool_xsd():
    schema = _schema("vnet_pool.xsd")
    ar_pool = "".join(ar.to_pool_xml(LEASES) for ar in _all_kinds())
    body = _vnet(ar_pool).replace(b' xmlns="http://opennebula.org/XMLSchema"', b"")
    doc = etree.fromstring(b'<VNET_POOL xmlns="http://opennebula.org/XMLSchema">' + body
                           + b"</VNET_POOL>")
    assert schema.validate(doc), schema.error_log


def test_strict_rendering_leaves_out_what_the_schema_lacks():
    ar = make({"TYPE": "IP6_STATIC", "IP6": "2001:db8::", "PREFIX_LENGTH": "64", "SIZE": "2",
               "GATEWAY6": "2001:db8::1"})
    assert "PREFIX_LENGTH" not in ar.to_xml() and "GATEWAY6" not in ar.to_pool_xml()
    loose = ar.to_xml(strict=False)
    assert "<GATEWAY6>2001:db8::1</GATEWAY6><PREFIX_LENGTH>64</PREFIX_LENGTH>" in loose
    assert "<IP6>2001:db8::</IP6>" in ar.to_pool_xml(strict=False)


def test_used_leases_can_exceed_the_leases_shown():
    xml = _all_kinds()[0].to_xml([(0, {"VM": 1})], used_leases=9)
    assert "<USED_LEASES>9</USED_LEASES>" in xml
    assert "<LEASES/>" in _all_kinds()[0].to_xml()
    with pytest.raises(ValueError):
        _all_kinds()[0].to_xml([(0, {"HOST": 1})])


def test_allocated_uses_onedes_object_bits():
    # PoolObjectSQL::VM = 0x1000000000, NET = 0x4000000000, VROUTER = 0x4000000000000.
    text = encode_allocated([(3, {"VM": -1}), (0, {"VM": 5}), (1, {"VNET": 2}),
                             (2, {"VROUTER": 0})])
    assert text == " 0 68719476741 1 274877906946 2 1125899906842624 3 73014444031"
    assert decode_allocated(text) == [(0, {"VM": 5}), (1, {"VNET": 2}), (2, {"VROUTER": 0}),
                                      (3, {"VM": -1})]
    assert "<ALLOCATED> 0 68719476741</ALLOCATED><AR_ID>0</AR_ID>" in _all_kinds()[0].to_pool_xml(
        [(0, {"VM": 5})])
