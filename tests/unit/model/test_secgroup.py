"""Security group rules checked as oned's SecurityGroup::is_valid, and the VM lists."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nubo.model import secgroup as sg
from nubo.template import VectorAttribute, parse


def rule(**values: str) -> VectorAttribute:
    return VectorAttribute("RULE", values)


spans = st.tuples(st.integers(0, 65535), st.integers(0, 65535))


@given(st.lists(spans, min_size=1, max_size=6))
def test_any_port_list_within_bounds_is_valid_and_reads_back(pairs):
    text = ",".join(f"{a}:{b}" if a != b else str(a) for a, b in pairs)
    r = rule(PROTOCOL="tcp", RULE_TYPE="inbound", RANGE=text)
    sg.check_rule(r)
    assert sg.port_ranges(r) == list(pairs)


@given(st.text(alphabet="0123456789:,-x\n\u0663 ", max_size=12))
def test_a_range_is_refused_or_every_port_is_in_bounds(text):
    r = rule(PROTOCOL="UDP", RULE_TYPE="OUTBOUND", RANGE=text)
    try:
        sg.check_rule(r)
    except sg.SecGroupError as e:
        assert "RANGE" in str(e)
        return
    assert all(0 <= a <= 65535 and 0 <= b <= 65535 for a, b in sg.port_ranges(r))


def test_ipv6_remote_and_network_targets():
    sg.check_rule(rule(PROTOCOL="ICMPV6", RULE_TYPE="INBOUND", IP="2001:db8::1", SIZE="4",
                       ICMPV6_TYPE="128"))
    sg.check_rule(rule(PROTOCOL="ALL", RULE_TYPE="OUTBOUND", NETWORK_ID="3"))


def test_build_keeps_the_first_of_duplicate_rules_and_needs_a_name():
    name, body = sg.build(parse('NAME = "web"\nRULE = [ PROTOCOL = "TCP", RULE_TYPE = "INBOUND" ]\n'
                                'RULE = [ PROTOCOL = "TCP", RULE_TYPE = "INBOUND" ]'))
    assert name == "web" and len(body.get_vectors("RULE")) == 1
    with pytest.raises(sg.SecGroupError, match="No NAME"):
        sg.build(parse('RULE = [ PROTOCOL = "TCP", RULE_TYPE = "INBOUND" ]'))
    with pytest.raises(sg.SecGroupError, match="vector"):
        sg.build(parse('NAME = "x"\nRULE = "TCP"'))


def test_security_groups_lists():
    assert sg.ids_of(" 0, 100,0") == [0, 100]
    with pytest.raises(sg.SecGroupError, match="SECURITY_GROUPS"):
        sg.ids_of("0,web")
