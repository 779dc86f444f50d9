"""RANGED and FIXED networks of the source documents turned into address ranges."""
from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nubo.model.address_range import AddressRange, AddressRangeError
from nubo.model.address_range_legacy import complete_mac, legacy_ranges


def test_the_documents_ranged_network():
    ars, net = legacy_ranges({"TYPE": "RANGED", "NETWORK_SIZE": "250",
                              "NETWORK_ADDRESS": "10.0.0.0"}, [])
    assert ars == [{"TYPE": "IP4", "IP": "10.0.0.1", "SIZE": "250"}]
    assert net == {"NETWORK_ADDRESS": "10.0.0.0", "NETWORK_MASK": "255.255.255.0"}


def test_the_documents_fixed_network():
    ars, net = legacy_ranges({"TYPE": "FIXED"}, [{"IP": "130.10.0.1", "MAC": "50:20:20:20:20"},
                                                 {"IP": "130.10.0.2"}, {"MAC": "02:aa:00:00:00:01"}])
    assert ars == [{"TYPE": "IP4", "SIZE": "1", "IP": "130.10.0.1", "MAC": "02:50:20:20:20:20"},
                   {"TYPE": "IP4", "SIZE": "1", "IP": "130.10.0.2"},
                   {"TYPE": "ETHER", "SIZE": "1", "MAC": "02:aa:00:00:00:01"}]
    assert net == {}


def test_short_macs_take_the_prefix():
    assert complete_mac("50:20:20:20:20", "02:00") == "02:50:20:20:20:20"
    assert complete_mac("20:20:20:20", "02:00") == "02:00:20:20:20:20"
    assert complete_mac("02:00:01:02:03:04", "02:00") == "02:00:01:02:03:04"


@pytest.mark.parametrize(("attrs", "message"), [
    ({"TYPE": "RANGED"}, "Wrong NETWORK_ADDRESS ''"),
    ({"TYPE": "RANGED", "NETWORK_ADDRESS": "10.0.0.0/33"}, "Wrong prefix /33"),
    ({"TYPE": "RANGED", "NETWORK_ADDRESS": "10.0.0.0/24", "IP_START": "10.0.1.1"},
     "IP_START '10.0.1.1' of a RANGED network is not an address of 10.0.0.0"),
    ({"TYPE": "MESH"}, "Unknown network TYPE 'MESH'"),
])
def test_bad_networks_say_what_is_wrong(attrs, message):
    with pytest.raises(AddressRangeError, match=message):
        legacy_ranges(attrs, [])


@given(address=st.integers(0, 2**32 - 1), bits=st.integers(1, 30),
       size=st.one_of(st.none(), st.integers(1, 2**20)))
def test_a_ranged_network_stays_inside_its_hosts(address, bits, size):
    attrs = {"TYPE": "RANGED", "NETWORK_ADDRESS": f"{ipaddress.IPv4Address(address)}/{bits}"}
    if size is not None:
        attrs["NETWORK_SIZE"] = str(size)
    (ar,), net = legacy_ranges(attrs, [])
    network = ipaddress.IPv4Network(f"{net['NETWORK_ADDRESS']}/{net['NETWORK_MASK']}")
    first = ipaddress.IPv4Address(ar["IP"])
    last = first + int(ar["SIZE"]) - 1
    assert network.network_address < first <= last < network.broadcast_address
    assert int(ar["SIZE"]) == min(network.num_addresses - 2, size or 2**32)
    AddressRange.from_attributes(0, ar)  # a valid AR
