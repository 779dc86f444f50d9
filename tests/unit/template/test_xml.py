"""The XML form: OpenNebula's documented syntax, CDATA output, safety, errors."""
from __future__ import annotations

import pytest

from nubo.template import (
    SingleAttribute as S,
    Template,
    TemplateSyntaxError,
    VectorAttribute as V,
    parse_xml,
)

# The XML example of OpenNebula's template reference.
DOC_EXAMPLE = """\
<TEMPLATE>
  <NAME>test_vm</NAME>
  <CPU>2</CPU>
  <MEMORY>1024</MEMORY>
  <DISK>
    <IMAGE_ID>2</IMAGE_ID>
  </DISK>
  <DISK>
    <IMAGE>Data</IMAGE>
    <IMAGE_UNAME>oneadmin</IMAGE_UNAME>
  </DISK>
</TEMPLATE>
"""


def test_documentation_example() -> None:
    assert list(parse_xml(DOC_EXAMPLE)) == [
        S("NAME", "test_vm"),
        S("CPU", "2"),
        S("MEMORY", "1024"),
        V("DISK", {"IMAGE_ID": "2"}),
        V("DISK", {"IMAGE": "Data", "IMAGE_UNAME": "oneadmin"}),
    ]


def test_any_root_name_and_case_folding() -> None:
    tmpl = parse_xml('<?xml version="1.0"?><USER_TEMPLATE><label>x</label><Disk><size>1</size></Disk></USER_TEMPLATE>')
    assert list(tmpl) == [S("LABEL", "x"), V("DISK", {"SIZE": "1"})]


def test_text_cdata_and_references_are_joined_verbatim() -> None:
    tmpl = parse_xml("<T><A>  a &amp; <![CDATA[<b>]]> &#13;&#x263A;\n</A><E/><F></F></T>")
    assert list(tmpl) == [S("A", "  a & <b> \r\u263a\n"), S("E", ""), S("F", "")]


def test_repeated_vector_key_last_wins_like_opennebula_xml() -> None:
    assert list(parse_xml("<T><D><A>1</A><a>2</a></D></T>")) == [V("D", {"A": "2"})]


def test_comments_processing_instructions_and_element_attributes_are_ignored() -> None:
    xml = '<T a="1"><!-- c --><?pi x?><A b="2">1</A><D><!-- c --><K>v</K></D></T>'
    assert list(parse_xml(xml)) == [S("A", "1"), V("D", {"K": "v"})]


def test_bytes_input_honours_the_declared_encoding() -> None:
    xml = '<?xml version="1.0" encoding="ISO-8859-1"?><T><A>caf\xe9</A></T>'.encode("latin-1")
    assert parse_xml(xml).get("A") == "caf\xe9"


def test_to_xml_uses_cdata_like_opennebula() -> None:
    tmpl = Template([S("NAME", "vm"), V("DISK", {"SOURCE": "/x", "TARGET": "sda"}), S("E", "")])
    assert tmpl.to_xml() == (
        "<TEMPLATE><NAME><![CDATA[vm]]></NAME>"
        "<DISK><SOURCE><![CDATA[/x]]></SOURCE><TARGET><![CDATA[sda]]></TARGET></DISK>"
        "<E><![CDATA[]]></E></TEMPLATE>"
    )
    assert tmpl.to_xml("USER_TEMPLATE").startswith("<USER_TEMPLATE><NAME>")


def test_to_xml_empty_template() -> None:
    assert Template().to_xml() == "<TEMPLATE/>"
    assert Template().to_xml("VM") == "<VM/>"
    assert parse_xml("<TEMPLATE/>") == Template()


def test_to_xml_splits_cdata_end_and_keeps_carriage_returns() -> None:
    tmpl = Template([S("A", "x]]>y\r\nz]]]>")])
    xml = tmpl.to_xml()
    assert xml == (
        "<TEMPLATE><A><![CDATA[x]]]]><![CDATA[>y]]>&#13;<![CDATA[\nz]]]]]><![CDATA[>]]></A></TEMPLATE>"
    )
    assert parse_xml(xml) == tmpl


def test_to_xml_rejects_a_bad_root_name() -> None:
    with pytest.raises(ValueError):
        Template().to_xml("<evil>")


def test_empty_vector_reads_back_as_empty_single_attribute() -> None:
    # OpenNebula writes an empty vector as <DISK></DISK>, which cannot be
    # told from an empty value; nubo reads it as one (OpenNebula drops it).
    assert parse_xml(Template([V("DISK")]).to_xml()) == Template([S("DISK", "")])


# -- errors and hostile input -------------------------------------------------------


@pytest.mark.parametrize(
    ("xml", "line", "column", "reason"),
    [
        ("", 1, 1, "no element found"),
        ("<T><A>1</A>", 1, 12, "no element found"),
        ("<T>\n  <A>1</B>\n</T>", 2, 9, "mismatched tag"),
        ("<T><A>1</A></T><X/>", 1, 16, "junk after document element"),
        ("<T><A>&bogus;</A></T>", 1, 7, "undefined entity"),
        ("<T>\n  <A>1</A> stray\n</T>", 2, 12, "text outside attributes"),
        ("<T><D><K>1</K>x</D></T>", 1, 15, "attribute D mixes text and elements"),
        ("<T><D>x<K>1</K></D></T>", 1, 8, "attribute D mixes text and elements"),
        ("<T><D><K><Z>1</Z></K></D></T>", 1, 10, "vector attribute D cannot contain another vector"),
        ("<T>\n <my-attr>1</my-attr></T>", 2, 2, "invalid attribute name 'my-attr'"),
        ("<T><ns:A xmlns:ns='u'>1</ns:A></T>", 1, 4, "invalid attribute name 'ns:A'"),
        ("<T><2A>1</2A></T>", 1, 5, "not well-formed (invalid token)"),
        ("<T><A>\x01</A></T>", 1, 7, "invalid character U+0001"),
    ],
)
def test_xml_errors_point_at_the_problem(xml: str, line: int, column: int, reason: str) -> None:
    with pytest.raises(TemplateSyntaxError) as err:
        parse_xml(xml)
    assert (err.value.line, err.value.column, err.value.reason) == (line, column, reason)


@pytest.mark.parametrize(
    "xml",
    [
        # billion laughs
        '<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa">'
        '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
        '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]><T><A>&c;</A></T>',
        # external entity
        '<!DOCTYPE T [<!ENTITY x SYSTEM "file:///etc/passwd">]><T><A>&x;</A></T>',
        # external DTD
        '<!DOCTYPE T SYSTEM "http://example.invalid/t.dtd"><T/>',
        '<!DOCTYPE T><T/>',
    ],
)
def test_doctypes_are_refused(xml: str) -> None:
    with pytest.raises(TemplateSyntaxError) as err:
        parse_xml(xml)
    assert err.value.reason == "DOCTYPE and entity declarations are not allowed"
