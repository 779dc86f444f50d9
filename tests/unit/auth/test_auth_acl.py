"""ACL rule encoding: text form, hex, XML, validation and the Ruby-style parser."""
from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from nubo.auth.acl import (ALL_ID, CLUSTER_ID, CREATE, GROUP_ID, INDIVIDUAL_ID, MANAGE, USE,
                           AclRule, ObjectType, Operation, check_new_rule, default_rules,
                           hex64, missing_rule_error, parse_hex, parse_hex_components,
                           parse_rule, parse_rule_string, pool_to_xml, to_s64)
from nubo.errors import ApiError, InternalError

XSD_DIR = Path(__file__).parents[3] / ".." / "shared" / "reference" / "opennebula-xsd"
NS = "http://opennebula.org/XMLSchema"


def test_numeric_values() -> None:
    assert (INDIVIDUAL_ID, GROUP_ID, ALL_ID, CLUSTER_ID) == (
        0x100000000, 0x200000000, 0x400000000, 0x800000000)
    assert ObjectType.VM == 0x1000000000 and ObjectType.HOST == 0x2000000000
    assert ObjectType.ACL == 0x80000000000 and ObjectType.SECGROUP == 0x1000000000000
    assert ObjectType.BACKUPJOB == 0x100000000000000
    assert (int(USE), int(MANAGE), int(Operation.ADMIN), int(CREATE)) == (1, 2, 4, 8)
    assert Operation.MANAGE_NO_LCK == 0x12


def test_default_rules_strings() -> None:
    assert [r.to_string() for r in default_rules()] == [
        "@1 VM+IMAGE+TEMPLATE+DOCUMENT+SECGROUP+VMGROUP+BACKUPJOB/* CREATE *",
        "* ZONE/* USE *",
        "* MARKETPLACE+MARKETPLACEAPP/* USE *",
        "@1 HOST/* MANAGE #0",
        "@1 NET/* USE #0",
        "@1 DATASTORE/* USE #0",
    ]
    assert [r.id for r in default_rules()] == list(range(6))
    assert all(r.malformed() is None for r in default_rules())


def test_default_rules_other_zone_and_without_vdc() -> None:
    assert [r.to_string() for r in default_rules(3)][3:] == [
        "@1 HOST/* MANAGE #3", "@1 NET/* USE #3", "@1 DATASTORE/* USE #3"]
    assert len(default_rules(with_default_vdc=False)) == 3


def test_default_rules_hex() -> None:
    r0 = default_rules()[0]
    assert (hex64(r0.user), hex64(r0.resource), hex64(r0.rights), hex64(r0.zone)) == (
        "200000001", "121429400000000", "8", "400000000")


def test_to_xml_lowercase_hex() -> None:
    rule = AclRule(7, GROUP_ID | 106, ObjectType.IMAGE | INDIVIDUAL_ID | 31, USE,
                   INDIVIDUAL_ID | 0)
    assert rule.to_xml() == (
        "<ACL><ID>7</ID><USER>20000006a</USER><RESOURCE>810000001f</RESOURCE>"
        "<RIGHTS>1</RIGHTS><ZONE>100000000</ZONE><STRING>@106 IMAGE/#31 USE #0</STRING></ACL>")


def test_pool_xml_validates_against_xsd() -> None:
    schema = etree.XMLSchema(etree.parse(str(XSD_DIR / "acl_pool.xsd")))
    rules = default_rules() + [parse_rule("#3 IMAGE/#30 USE", 6),
                               parse_rule("@106 HOST+NET/%100 MANAGE *", 7)]
    xml = pool_to_xml(rules).replace("<ACL_POOL>", f'<ACL_POOL xmlns="{NS}">', 1)
    assert schema.validate(etree.fromstring(xml.encode())), schema.error_log
    empty = pool_to_xml([]).replace("<ACL_POOL>", f'<ACL_POOL xmlns="{NS}">', 1)
    assert schema.validate(etree.fromstring(empty.encode()))


def test_pool_order_is_by_user_then_id() -> None:
    ids = [int(e.findtext("ID")) for e in etree.fromstring(pool_to_xml(default_rules()))]
    assert ids == [0, 3, 4, 5, 1, 2]  # @1 (0x200000001) sorts before * (0x400000000)


@pytest.mark.parametrize("text,string", [
    ("#3 IMAGE/#30 USE", "#3 IMAGE/#30 USE #0"),
    ("@105 VM+NET+IMAGE+TEMPLATE/* CREATE", "@105 VM+NET+IMAGE+TEMPLATE/* CREATE #0"),
    ("@106 HOST/%100 MANAGE", "@106 HOST/%100 MANAGE #0"),
    ("* NET/@47 USE+MANAGE+ADMIN #2", "* NET/@47 USE+MANAGE+ADMIN #2"),
    ("#5 template+vm/@12 use+create *", "#5 VM+TEMPLATE/@12 USE+CREATE *"),
    ("@1 USER/#4 ADMIN *", "@1 USER/#4 ADMIN *"),
])
def test_parse_rule_round_trip(text: str, string: str) -> None:
    rule = parse_rule(text)
    assert rule.to_string() == string
    assert parse_rule(rule.to_string()).key == rule.key


def test_parse_rule_string_hex_like_ruby() -> None:
    assert parse_rule_string("#3 IMAGE/#30 USE") == ("100000003", "810000001e", "1")
    assert parse_rule_string("* ZONE/* USE *") == ("400000000", "800400000000", "1", "400000000")
    assert parse_rule_string("  @1   VM/*  CREATE ") == ("200000001", "1400000000", "8")
    # Ruby sums components, so a repeated name adds up.
    assert parse_rule_string("#0 VM+VM/* USE+USE")[1:] == ("2400000000", "2")


@pytest.mark.parametrize("text,message", [
    ("#3 IMAGE/#30", "String needs three components: User, Resource, Rights"),
    ("#3 IMAGE/#30 USE #0 extra", "String needs three components: User, Resource, Rights"),
    ("3 IMAGE/#30 USE", "ID string '3' malformed"),
    ("#3 IMAGE USE", "Resource '[\"IMAGE\"]' malformed"),
    ("#3 IMAGE/#30/x USE", "Resource '[\"IMAGE\", \"#30\", \"x\"]' malformed"),
    ("#3 FOO/#30 USE", "Resource 'FOO' does not exist"),
    ("#3 IMAGE/#30 READ", "Right 'READ' does not exist"),
    ("#3 IMAGE/#x USE @", "ID string '#x' malformed, ID string '@' malformed"),
    ("#a FOO/* BAR", "ID string '#a' malformed, Resource 'FOO' does not exist, "
                     "Right 'BAR' does not exist"),
])
def test_parse_rule_string_errors(text: str, message: str) -> None:
    with pytest.raises(ApiError) as exc:
        parse_rule_string(text)
    assert exc.value.message == message


@pytest.mark.parametrize("text,value", [
    ("1f", 0x1F), ("0x1F", 0x1F), ("0X1f", 0x1F), ("  200000001", 0x200000001),
    ("12zz", 0x12), ("", 0), ("zz", 0), ("0x", 0), ("-1", -1), ("+a", 10),
    ("ffffffffffffffff", (1 << 63) - 1), ("7fffffffffffffff", (1 << 63) - 1),
    ("-8000000000000000", -(1 << 63)), ("-8000000000000001", -(1 << 63)),
])
def test_parse_hex_like_cpp_streams(text: str, value: int) -> None:
    assert parse_hex(text) == value


def test_parse_hex_components_ok() -> None:
    assert parse_hex_components("100000000", "2400000000", "1") == (
        INDIVIDUAL_ID, ObjectType.HOST | ALL_ID, 1, INDIVIDUAL_ID)
    assert parse_hex_components("100000000", "2400000000", "1", zone_id=4)[3] == INDIVIDUAL_ID | 4
    assert parse_hex_components("0x400000000", "0x800400000000", "1", "400000000") == (
        ALL_ID, ObjectType.ZONE | ALL_ID, 1, ALL_ID)


def test_goca_create_rule_empty_zone_means_this_zone() -> None:
    # goca's acl_test sends zone "" and expects "#0 HOST/* USE #0" (oned 7 behaviour).
    comps = parse_hex_components("100000000", "2400000000", "1", "")
    assert AclRule(-1, *comps).to_string() == "#0 HOST/* USE #0"


def _malformed_message(*args: str) -> str:
    with pytest.raises(InternalError) as exc:
        parse_hex_components(*args)
    assert exc.value.code == 0x2000
    return exc.value.message


@pytest.mark.parametrize("args,message", [
    (("0", "1400000000", "1"),
     "Rule ?? VM/* USE #0 is malformed: "
     "[user] is missing one of the INDIVIDUAL, GROUP or ALL bits"),
    (("300000001", "1400000000", "1"),
     "Rule @1 VM/* USE #0 is malformed: [user] INDIVIDUAL (#) and GROUP (@) bits are exclusive"),
    (("400000003", "1400000000", "1"),
     "Rule * VM/* USE #0 is malformed: when using the ALL bit, [user] ID must be 0"),
    (("1ffffffff", "1400000000", "1"),
     "Rule #-1 VM/* USE #0 is malformed: [user] ID cannot be negative"),
    (("400000000", "400000000", "1"),
     "Rule * /* USE #0 is malformed: [resource] type is missing"),
    (("400000000", "1000000000", "1"),
     "Rule * VM/?? USE #0 is malformed: [resource] is missing one of the INDIVIDUAL, "
     "GROUP, CLUSTER or ALL bits"),
    (("400000000", "1500000005", "1"),
     "Rule * VM/#5 USE #0 is malformed: [resource] INDIVIDUAL (#), GROUP (@), CLUSTER (%) "
     "and ALL (*) bits are exclusive; when using the ALL bit, [resource] ID must be 0"),
    (("400000000", "1800000064", "1"),
     "Rule * VM/%100 USE #0 is malformed: [resource] CLUSTER(%) selector can be applied "
     "only to DATASTORE, HOST and NET types"),
    (("400000000", "2200000064", "1"),
     "Rule * HOST/@100 USE #0 is malformed: [resource] GROUP(@) selector cannot be applied "
     "to HOST, GROUP, CLUSTER, ZONE or VDC types"),
    (("400000000", "80000400000000", "1"),
     "Rule * /* USE #0 is malformed: wrong [resource] type"),
    (("400000000", "1400000000", "0"),
     "Rule * VM/*  #0 is malformed: wrong [rights], it cannot be 0"),
    (("400000000", "1400000000", "10"),
     "Rule * VM/*  #0 is malformed: wrong [rights], it cannot be bigger than 0xF"),
    (("400000000", "1400000000", "1", "0"),
     "Rule * VM/* USE ?? is malformed: [zone] is missing one of the INDIVIDUAL or ALL bits"),
    (("400000000", "1400000000", "1", "500000000"),
     "Rule * VM/* USE #0 is malformed: [zone] INDIVIDUAL (#) and ALL (*) bits are exclusive"),
    (("400000000", "1400000000", "1", "400000002"),
     "Rule * VM/* USE * is malformed: when using the ALL bit, [zone] ID must be 0"),
    (("400000000", "1100000005", "1", "400000000"),
     "Rule * VM/#5 USE * is malformed: [resource] INDIVIDUAL(#) selector cannot be applied "
     "to ALL zones, except for USER, GROUP and ZONE types"),
])
def test_addrule_malformed_messages(args: tuple[str, ...], message: str) -> None:
    assert _malformed_message(*args) == message


def test_zone_group_quirk_has_no_separator() -> None:
    msg = _malformed_message("0", "1400000000", "1", "200000000")
    assert msg == ("Rule ?? VM/* USE ?? is malformed: "
                   "[user] is missing one of the INDIVIDUAL, GROUP or ALL bits"
                   "[zone] GROUP (@) bit is not supported")


def test_federated_individual_rules_are_fine_everywhere() -> None:
    assert parse_rule("#3 USER/#4 MANAGE *").malformed() is None
    assert parse_rule("#3 USER+GROUP/#4 MANAGE *").malformed() is None


def test_addrule_rejects_non_strings() -> None:
    with pytest.raises(ApiError):
        parse_hex_components(0x400000000, "1400000000", "1")  # type: ignore[arg-type]


def test_check_new_rule_duplicate_then_malformed() -> None:
    rules = default_rules()
    dup = AclRule(-1, *rules[1].key)
    with pytest.raises(InternalError, match=r"^Rule \* ZONE/\* USE \* already exists$"):
        check_new_rule(dup, rules)
    check_new_rule(parse_rule("#3 IMAGE/#30 USE"), rules)
    with pytest.raises(InternalError, match="is malformed"):
        check_new_rule(AclRule(-1, 0, 0, 0, 0), rules)


def test_missing_rule_error() -> None:
    err = missing_rule_error(42)
    assert err.message == "Rule 42 does not exist" and err.code == 0x2000


def test_signed_storage() -> None:
    rule = AclRule(1, 1 << 63, (1 << 64) - 1, 0xF, ALL_ID)
    assert rule.user == -(1 << 63) and rule.resource == -1
    assert hex64(rule.resource) == "ffffffffffffffff"
    assert to_s64(1 << 64) == 0
    assert type(AclRule(0, ALL_ID, ObjectType.VM | ALL_ID, USE, ALL_ID).rights) is int


_component = st.one_of(st.integers(-(1 << 63), (1 << 63) - 1),
                       st.integers(0, 0xFFFF_FFFF_FFFF).map(lambda v: v << 4))


@settings(max_examples=300, deadline=None)
@given(_component, _component, _component, _component)
def test_hex_round_trip(user: int, resource: int, rights: int, zone: int) -> None:
    rule = AclRule(0, user, resource, rights, zone)
    back = AclRule(0, *(to_s64(int(hex64(v), 16)) for v in rule.key))
    assert back == rule
    xml = etree.fromstring(rule.to_xml())
    assert tuple(to_s64(int(xml.findtext(t), 16)) for t in ("USER", "RESOURCE", "RIGHTS", "ZONE")) \
        == rule.key
    assert xml.findtext("STRING") == rule.to_string()


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(["#", "@", "*"]), st.integers(0, 2**31 - 1),
       st.sets(st.sampled_from(["VM", "NET", "IMAGE", "TEMPLATE", "DOCUMENT", "SECGROUP"]),
               min_size=1),
       st.sampled_from(["#", "@", "*"]), st.integers(0, 2**31 - 1),
       st.sets(st.sampled_from(["USE", "MANAGE", "ADMIN", "CREATE"]), min_size=1),
       st.integers(0, 100))
def test_text_round_trip(usel: str, uid: int, types: set[str], rsel: str, rid: int,
                         rights: set[str], zone: int) -> None:
    user = "*" if usel == "*" else f"{usel}{uid}"
    res = "*" if rsel == "*" else f"{rsel}{rid}"
    text = f"{user} {'+'.join(sorted(types))}/{res} {'+'.join(sorted(rights))} #{zone}"
    rule = parse_rule(text)
    assert parse_rule(rule.to_string()).key == rule.key
    assert set(rule.to_string().split()[1].split("/")[0].split("+")) == types
