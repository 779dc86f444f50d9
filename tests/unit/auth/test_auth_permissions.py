"""Permission bits: XML, octal modes, chmod and the umask."""
from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from nubo.errors import ApiError
from nubo.model.permissions import (DEFAULT_UMASK, FIELD_NAMES, Permissions, apply_umask,
                                    parse_umask)

XSD_DIR = Path(__file__).parents[3] / ".." / "shared" / "reference" / "opennebula-xsd"
NS = "http://opennebula.org/XMLSchema"


def test_default_is_opennebulas_600() -> None:
    p = Permissions()
    assert p.to_octal() == "600"
    assert p.as_tuple() == (1, 1, 0, 0, 0, 0, 0, 0, 0)


def test_to_xml_exact() -> None:
    assert Permissions.from_octal("640").to_xml() == (
        "<PERMISSIONS><OWNER_U>1</OWNER_U><OWNER_M>1</OWNER_M><OWNER_A>0</OWNER_A>"
        "<GROUP_U>1</GROUP_U><GROUP_M>0</GROUP_M><GROUP_A>0</GROUP_A>"
        "<OTHER_U>0</OTHER_U><OTHER_M>0</OTHER_M><OTHER_A>0</OTHER_A></PERMISSIONS>")


def test_xml_valid_against_shared_xsd() -> None:
    shared = (XSD_DIR / "shared.xsd").resolve()
    wrapper = f"""<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema"
        targetNamespace="{NS}" xmlns="{NS}" elementFormDefault="qualified">
      <xs:include schemaLocation="{shared.as_uri()}"/>
      <xs:element name="PERMISSIONS" type="PERMISSIONS"/>
    </xs:schema>"""
    schema = etree.XMLSchema(etree.fromstring(wrapper.encode()))
    for mode in (0, 0o600, 0o640, 0o777, 0o123):
        xml = Permissions.from_mode(mode).to_xml().replace(
            "<PERMISSIONS>", f'<PERMISSIONS xmlns="{NS}">', 1)
        doc = etree.fromstring(xml.encode())
        assert schema.validate(doc), schema.error_log


def test_field_order_matches_xsd() -> None:
    doc = etree.parse(str(XSD_DIR / "shared.xsd"))
    names = doc.xpath("//xs:complexType[@name='PERMISSIONS']//xs:element/@name",
                      namespaces={"xs": "http://www.w3.org/2001/XMLSchema"})
    assert [n.lower() for n in names] == list(FIELD_NAMES)


@pytest.mark.parametrize("text,bits", [
    ("640", (1, 1, 0, 1, 0, 0, 0, 0, 0)),
    ("777", (1,) * 9),
    ("000", (0,) * 9),
    ("0644", (1, 1, 0, 1, 0, 0, 1, 0, 0)),
    ("751", (1, 1, 1, 1, 0, 1, 0, 0, 1)),
])
def test_from_octal(text: str, bits: tuple[int, ...]) -> None:
    p = Permissions.from_octal(text)
    assert p.as_tuple() == bits
    assert Permissions.from_octal(int(text, 8)) == p
    assert p.to_octal() == f"{int(text, 8):03o}"


def test_octal_round_trip_all_modes() -> None:
    for mode in range(0o1000):
        p = Permissions.from_mode(mode)
        assert p.mode == mode
        assert Permissions.from_octal(p.to_octal()) == p
        assert Permissions.from_tuple(p.as_tuple()) == p


@pytest.mark.parametrize("bad", ["", "8", "6a0", "12345", "-1", 0o1000, -1])
def test_from_octal_rejects(bad: str | int) -> None:
    with pytest.raises(ApiError):
        Permissions.from_octal(bad)


def test_bits_must_be_0_or_1() -> None:
    with pytest.raises(ValueError):
        Permissions(owner_u=2)
    with pytest.raises(ValueError):
        Permissions(group_m=-1)
    assert Permissions(True, True).as_tuple()[:2] == (1, 1)
    assert type(Permissions(True).owner_u) is int


def test_triplets() -> None:
    assert Permissions.from_octal("751").triplets() == ("uma", "u-a", "--a")


def test_chmod_keeps_and_sets() -> None:
    p = Permissions.from_octal("600")
    q = p.chmod(-1, -1, 1, 1, -1, -1, 1, 0, -1)
    assert q.to_octal() == "744"
    assert p.to_octal() == "600"  # immutable
    assert q.chmod(*([-1] * 9)) == q
    assert q.chmod(*([0] * 9)).to_octal() == "000"


@pytest.mark.parametrize("pos,value", [(0, 2), (4, -2), (8, 5), (3, "1"), (5, True), (7, 1.0)])
def test_chmod_rejects_and_names_argument(pos: int, value: object) -> None:
    args: list[object] = [-1] * 9
    args[pos] = value
    with pytest.raises(ApiError) as exc:
        Permissions().chmod(*args)  # type: ignore[arg-type]
    assert exc.value.code == 0x1000
    assert FIELD_NAMES[pos].upper() in exc.value.message
    assert "must be -1, 0 or 1" in exc.value.message


def test_chmod_wrong_arity() -> None:
    with pytest.raises(ApiError):
        Permissions().chmod(1, 1, 1)


def test_chmod_needs() -> None:
    p = Permissions.from_octal("600")
    assert p.chmod_needs(1, 1, 0, 1, 0, 0, 0, 0, 0) == (False, False)  # A bits unchanged
    assert p.chmod_needs(-1, -1, 1, -1, -1, -1, -1, -1, -1) == (True, False)
    assert p.chmod_needs(-1, -1, -1, -1, -1, -1, 1, -1, -1) == (False, True)
    assert p.chmod_needs(-1, -1, -1, -1, -1, -1, -1, -1, 1) == (True, True)
    assert p.chmod_needs(-1, -1, -1, -1, -1, -1, 0, 0, 0) == (False, False)  # other already 0


@pytest.mark.parametrize("umask,uid,gid,enable_other,octal", [
    (DEFAULT_UMASK, 5, 100, True, "600"),
    ("177", 0, 0, True, "600"),
    ("177", 5, 0, True, "600"),
    ("022", 5, 100, True, "644"),
    ("022", 5, 100, False, "640"),
    ("022", 0, 100, True, "755"),
    ("000", 3, 1, True, "666"),
    ("0", 3, 1, False, "660"),
    (0o077, 3, 1, True, "600"),
])
def test_apply_umask(umask: str | int, uid: int, gid: int, enable_other: bool,
                     octal: str) -> None:
    assert apply_umask(umask, uid, gid, enable_other).to_octal() == octal


def test_default_umask_gives_owner_use_manage_only() -> None:
    p = apply_umask()
    assert (p.owner_u, p.owner_m) == (1, 1)
    assert sum(p.as_tuple()) == 2


@pytest.mark.parametrize("bad", ["", "9", "abc", "1000", -1])
def test_parse_umask_rejects(bad: str | int) -> None:
    with pytest.raises(ValueError):
        parse_umask(bad)
