"""The text syntax: OpenNebula documentation examples, edge cases and errors."""
from __future__ import annotations

import pytest

from nubo.errors import NuboError
from nubo.template import (
    SingleAttribute as S,
    Template,
    TemplateSyntaxError,
    VectorAttribute as V,
    parse,
    parse_str_or_xml,
)

# The "simplified VM definition" example of OpenNebula's template reference.
DOC_EXAMPLE = """\
#### Capacity ####

NAME   = test-vm
MEMORY = 128
CPU    = 1

#### Disks ####

# OS image, mapped to sda.
DISK = [ IMAGE_ID  = 2 ]

# First DATABLOCK image, mapped to sde
DISK = [ IMAGE_ID  = 3 ]

# swap, sdd
DISK = [ TYPE     = swap,
         SIZE     = 1024 ]

#### Network interfaces ####

NIC = [ NETWORK_ID = 1 ]

#### I/O Devices ####

GRAPHICS = [
  TYPE    = "vnc",
  LISTEN  = "0.0.0.0",
  PORT    = "5"]
"""


def test_documentation_example() -> None:
    assert list(parse(DOC_EXAMPLE)) == [
        S("NAME", "test-vm"),
        S("MEMORY", "128"),
        S("CPU", "1"),
        V("DISK", {"IMAGE_ID": "2"}),
        V("DISK", {"IMAGE_ID": "3"}),
        V("DISK", {"TYPE": "swap", "SIZE": "1024"}),
        V("NIC", {"NETWORK_ID": "1"}),
        V("GRAPHICS", {"TYPE": "vnc", "LISTEN": "0.0.0.0", "PORT": "5"}),
    ]


def test_documentation_context_example_with_escaped_quotes() -> None:
    text = (
        'CONTEXT = [\n'
        '  HOSTNAME   = "$NAME",\n'
        '  IP_PRIVATE = "$NIC[IP, NETWORK=\\"Private LAN\\"]",\n'
        '  SSH_KEY    = "$USER[SSH_PUBLIC_KEY]",\n'
        '  FILES      = "/service/init.sh /service/certificates" ]\n'
    )
    context = parse(text).get_vector("context")
    assert context is not None
    assert dict(context.values) == {
        "HOSTNAME": "$NAME",
        "IP_PRIVATE": '$NIC[IP, NETWORK="Private LAN"]',
        "SSH_KEY": "$USER[SSH_PUBLIC_KEY]",
        "FILES": "/service/init.sh /service/certificates",
    }


def test_names_fold_to_upper_case_values_do_not() -> None:
    tmpl = parse('memory = 512\nDisk = [ image = "Ubuntu", Target = sda ]')
    assert list(tmpl) == [S("MEMORY", "512"), V("DISK", {"IMAGE": "Ubuntu", "TARGET": "sda"})]
    assert tmpl.get("Memory") == "512"


def test_unquoted_values_keep_every_other_character() -> None:
    tmpl = parse('A = http://x/y?a&b;c\nC = C:\\dir\\\nD = a"b')
    assert tmpl.get("A") == "http://x/y?a&b;c"
    assert tmpl.get("C") == "C:\\dir\\"
    assert tmpl.get("D") == 'a"b'


def test_unquoted_value_stops_at_brackets() -> None:
    with pytest.raises(TemplateSyntaxError) as err:
        parse("B = $USER[X]")
    assert err.value.reason == "expected an attribute name, found '['"


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ('A = ""', ""),
        ('A = "two words"', "two words"),
        ('A = "say \\"hi\\""', 'say "hi"'),
        # Only \" is an escape; other backslashes stay, doubled ones too.
        ('A = "C:\\\\Windows\\n"', "C:\\\\Windows\\n"),
        ('A = "a\\\\"b"', 'a\\"b'),
        ('A = "#not a comment, [x] = y"', "#not a comment, [x] = y"),
        ('A = "line 1\nline 2\n"', "line 1\nline 2\n"),
        ('A = "tab\there"', "tab\there"),
        ('A = "ends with ]]> cdata"', "ends with ]]> cdata"),
        ('A = "unicode ☁ ünïcödé"', "unicode ☁ ünïcödé"),
        # OpenNebula's lexer: with no unescaped quote left, the last \" closes.
        ('A = "C:\\"', "C:\\"),
        # ... and a longer unquoted run wins over a quoted value.
        ('A = "x"y', '"x"y'),
    ],
)
def test_quoted_values(text: str, value: str) -> None:
    assert list(parse(text)) == [S("A", value)]


def test_empty_value_when_line_ends_after_equals() -> None:
    tmpl = parse("A =\nB = 1\nC =   \r\nD =")
    assert list(tmpl) == [S("A", ""), S("B", "1"), S("C", ""), S("D", "")]


def test_repeated_attributes_keep_order() -> None:
    tmpl = parse("DISK=[A=1]\nNIC=[N=0]\nDISK=[A=2]\nDISK=[A=3]\n")
    assert [d.get("A") for d in tmpl.get_vectors("DISK")] == ["1", "2", "3"]
    assert tmpl.names() == ["DISK", "NIC"]


def test_empty_vector() -> None:
    assert list(parse("DISK = [ ]\nNIC=[]\nX = [\n\n]")) == [V("DISK"), V("NIC"), V("X")]


def test_vector_spanning_lines_with_comments() -> None:
    text = "DISK = [\n  # the image\n  IMAGE = x # trailing\n  ,\n  SIZE = 1 ]"
    assert list(parse(text)) == [V("DISK", {"IMAGE": "x", "SIZE": "1"})]


def test_first_of_repeated_vector_key_wins() -> None:
    assert list(parse("D = [ A = 1, a = 2 ]")) == [V("D", {"A": "1"})]


def test_several_attributes_on_one_line() -> None:
    tmpl = parse('A=1 B="two" C=[ D=3 ] E = x')
    assert list(tmpl) == [S("A", "1"), S("B", "two"), V("C", {"D": "3"}), S("E", "x")]


def test_comments_blank_lines_and_crlf() -> None:
    text = "\r\n# c1\r\n\r\n   # c2\r\nA = 1\r\n# last line without newline"
    assert list(parse(text)) == [S("A", "1")]


def test_name_may_be_separated_from_equals_by_newline() -> None:
    assert list(parse("A\n  = 1")) == [S("A", "1")]


@pytest.mark.parametrize("text", ["", "   \n\t\n", "# only a comment", "#\n#\n"])
def test_empty_templates(text: str) -> None:
    assert parse(text) == Template()


def test_parse_str_or_xml_picks_the_form() -> None:
    assert parse_str_or_xml("A = 1") == parse_str_or_xml("<T><A>1</A></T>")
    assert parse_str_or_xml("  \n<TEMPLATE><A>1</A></TEMPLATE>").get("A") == "1"


# -- errors -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "line", "column", "reason"),
    [
        ('NAME = vm\nCPU = 1\nCONTEXT = [ A = "open', 3, 17, "unterminated quoted value"),
        ("A = 1\nDISK = [\n  SIZE = 1\n", 2, 8, "unterminated vector attribute DISK"),
        ("A = [ B = 1 C = 2 ]", 1, 13, "expected ',' or ']' in vector attribute A, found 'C'"),
        ("A = [ B = 1,, C = 2 ]", 1, 13, "expected an attribute name, found ','"),
        ("A = [ B = 1, ]", 1, 14, "expected an attribute name, found ']'"),
        ("A = [ B = [ C = 1 ] ]", 1, 11, "vector attribute A cannot contain another vector"),
        ("A = [ B =\n ]", 1, 10, "expected a value after '=' (write \"\" for an empty value in A)"),
        ("A B", 1, 3, "expected '=' after A, found 'B'"),
        ("\n\n  ab", 3, 5, "expected '=' after AB, found end of input"),
        ("= 1", 1, 1, "expected an attribute name, found '='"),
        ("A = = 1", 1, 5, "expected a value after '=', found '='"),
        ("A = ,", 1, 5, "expected a value after '=', found ','"),
        ("A = # comment", 1, 5, "expected a value after '=', found '#'"),
        ("A = 1 ]", 1, 7, "expected an attribute name, found ']'"),
        ('A = "x" "y"', 1, 9, "expected an attribute name, found '\"'"),
        ("A-B = 1", 1, 2, "expected '=' after A, found '-'"),
        ("9LIVES = 1", 1, 1, "attribute name 9LIVES must not start with a digit"),
        ("A = [ 1X = 1 ]", 1, 7, "attribute name 1X must not start with a digit"),
        ("A = 1\nB = x\x00y", 2, 6, "invalid character U+0000"),
        ("ÄB = 1", 1, 1, "expected an attribute name, found 'Ä'"),
    ],
)
def test_syntax_errors_point_at_the_problem(text: str, line: int, column: int, reason: str) -> None:
    with pytest.raises(TemplateSyntaxError) as err:
        parse(text)
    assert (err.value.line, err.value.column, err.value.reason) == (line, column, reason)
    assert str(err.value) == f"syntax error at line {line}, column {column}: {reason}"


def test_syntax_error_is_an_api_error_with_code_0x2000() -> None:
    with pytest.raises(NuboError) as err:
        parse('A = "x')
    assert err.value.code == 0x2000
    assert err.value.message == "syntax error at line 1, column 5: unterminated quoted value"


def test_parse_rejects_non_strings() -> None:
    with pytest.raises(TypeError):
        parse(b"A = 1")  # type: ignore[arg-type]


# -- single-quoted values (OpenNebula 1.x, the source documents' CONTEXT example) --------

@pytest.mark.parametrize("text, value", [
    ("""A = '$NIC[IP, NETWORK="Private LAN"]'""", '$NIC[IP, NETWORK="Private LAN"]'),
    ("A = 'two words'", "two words"),
    ("A = 'x'y", "'x'y"),          # a longer unquoted run wins, as for double quotes
    ("A = 'open", "'open"),        # unterminated: an unquoted value
    ("A = a'b'", "a'b'"),
])
def test_single_quoted_values(text, value):
    assert parse(text).get("A") == value


def test_single_quoted_value_in_a_vector():
    tmpl = parse("""CONTEXT = [ hostname = "$NAME",\n  ip = '$NIC[IP, NETWORK="Private LAN"]',\n"""
                 """  target = "sdc" ]""")
    assert tmpl.get_vector("CONTEXT").get("IP") == '$NIC[IP, NETWORK="Private LAN"]'
    assert tmpl.get_vector("CONTEXT").get("TARGET") == "sdc"


def test_a_value_starting_with_a_single_quote_renders_quoted():
    tmpl = Template([S("A", "'x'")])
    assert parse(tmpl.render()).get("A") == "'x'"
