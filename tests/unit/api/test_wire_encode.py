"""encode_response / encode_fault: xmlrpc-c's exact bytes, escaping, and speed."""
from __future__ import annotations

import datetime as dt
import time
import xmlrpc.client as xc

import pytest

from nubo.api import wire
from nubo.api.wire import I8, encode_fault, encode_response


def loads(body: bytes):
    (value,), method = xc.loads(body, use_builtin_types=True)
    assert method is None
    return value


def test_success_reply_is_byte_identical_to_xmlrpc_c():
    assert encode_response([True, "<VM><ID>0</ID></VM>", 0]) == (
        b'<?xml version="1.0" encoding="UTF-8"?>\r\n'
        b"<methodResponse>\r\n<params>\r\n<param><value><array><data>\r\n"
        b"<value><boolean>1</boolean></value>\r\n"
        b"<value><string>&lt;VM&gt;&lt;ID&gt;0&lt;/ID&gt;&lt;/VM&gt;</string></value>\r\n"
        b"<value><i4>0</i4></value>\r\n"
        b"</data></array></value></param>\r\n</params>\r\n</methodResponse>\r\n")


def test_failure_reply_shape():
    body = encode_response([False, "[one.vm.info] Error", 0x400, 12, I8(-1)])
    assert b"<value><boolean>0</boolean></value>\r\n" in body
    assert b"<value><i4>1024</i4></value>\r\n<value><i4>12</i4></value>\r\n" \
           b"<value><i8>-1</i8></value>\r\n" in body
    assert loads(body) == [False, "[one.vm.info] Error", 1024, 12, -1]
    assert wire.is_failure_reply(body) and wire.fault_code(body) is None


def test_fault_is_byte_identical_to_xmlrpc_c():
    assert encode_fault(-506, "Method 'x' not defined") == (
        b'<?xml version="1.0" encoding="UTF-8"?>\r\n<methodResponse>\r\n<fault>\r\n'
        b"<value><struct>\r\n<member><name>faultCode</name>\r\n<value><i4>-506</i4></value>"
        b"</member>\r\n<member><name>faultString</name>\r\n"
        b"<value><string>Method 'x' not defined</string></value></member>\r\n"
        b"</struct></value>\r\n</fault>\r\n</methodResponse>\r\n")


@pytest.mark.parametrize("code", [wire.TYPE_ERROR, wire.PARSE_ERROR, wire.NO_SUCH_METHOD_ERROR,
                                  wire.LIMIT_EXCEEDED_ERROR, wire.INTERNAL_ERROR])
def test_faults_parse_as_faults(code):
    body = encode_fault(code, "bad <thing> & \r more")
    with pytest.raises(xc.Fault) as info:
        xc.loads(body)
    assert info.value.faultCode == code
    assert info.value.faultString == "bad <thing> & \r more"
    assert wire.fault_code(body) == code


def test_fault_code_must_fit_i4():
    with pytest.raises(OverflowError):
        encode_fault(2**31, "x")


@pytest.mark.parametrize("value, xml", [
    (0, b"<i4>0</i4>"), (2**31 - 1, b"<i4>2147483647</i4>"), (-2**31, b"<i4>-2147483648</i4>"),
    (2**31, b"<i8>2147483648</i8>"), (-2**31 - 1, b"<i8>-2147483649</i8>"),
    (2**63 - 1, b"<i8>9223372036854775807</i8>"), (-2**63, b"<i8>-9223372036854775808</i8>"),
    (I8(0), b"<i8>0</i8>"), (I8(-1), b"<i8>-1</i8>"),
    (True, b"<boolean>1</boolean>"), (False, b"<boolean>0</boolean>"),
    (1.5, b"<double>1.5</double>"), (3.0, b"<double>3</double>"), (0.0, b"<double>0</double>"),
    (-2.25, b"<double>-2.25</double>"), (1e22, b"<double>10000000000000000000000</double>"),
    (1.5e-7, b"<double>0.00000015</double>"), (None, b"<nil/>"),
    (b"\x00\xff", b"<base64>\r\nAP8=</base64>"),
    (dt.datetime(2024, 1, 2, 3, 4, 5), b"<dateTime.iso8601>20240102T03:04:05</dateTime.iso8601>"),
    ("", b"<string></string>"),
])
def test_scalar_encoding_and_round_trip(value, xml):
    body = encode_response([value])
    assert b"<value>" + xml + b"</value>" in body
    got = loads(body)[0]
    if isinstance(value, dt.datetime):
        assert got == xc.DateTime(value)
    else:
        assert got == value and type(got) is type(value if type(value) is not I8 else 0)


@pytest.mark.parametrize("value", [2**63, -2**63 - 1, float("nan"), float("inf"), object(),
                                   {1: "x"}, {"a": {2: 3}}])
def test_unencodable_values_raise(value):
    with pytest.raises((OverflowError, ValueError, TypeError)):
        encode_response([value])


def test_nested_arrays_and_structs():
    value = [1, ["a", [True, None]], {"k": [1, {"z": "é"}]}, (), []]
    assert loads(encode_response(value)) == [1, ["a", [True, None]], {"k": [1, {"z": "é"}]}, [], []]
    assert b"<value><struct>\r\n<member><name>k</name>\r\n<value><array><data>\r\n" \
           in encode_response(value)


def test_any_sequence_of_values():
    assert loads(encode_response((True, "x", 0))) == [True, "x", 0]
    assert loads(encode_response(range(3))) == [0, 1, 2]


@pytest.mark.parametrize("text, xml", [
    ("a & b", b"a &amp; b"), ("<x>", b"&lt;x&gt;"), ("]]>", b"]]&gt;"),
    ("<![CDATA[x]]>", b"&lt;![CDATA[x]]&gt;"), ("a\r\nb", b"a&#x0d;\nb"), ("\t\n", b"\t\n"),
    ("&amp;", b"&amp;amp;"), ("\"'", b"\"'"), ("é€🚀", "é€🚀".encode()),
])
def test_escaping(text, xml):
    body = encode_response([text])
    assert b"<string>" + xml + b"</string>" in body
    assert loads(body) == [text]


@pytest.mark.parametrize("text, expected", [
    ("a\x00b", "a\ufffdb"), ("\x01\x08\x0b\x0c\x0e\x1f", "\ufffd" * 6), ("x\x7fy", "x\x7fy"),
    ("\ufffe|\uffff", "\ufffd|\ufffd"), ("a\ud800b", "a\ufffdb"), ("\udfff", "\ufffd"),
    ("ok\ufffd", "ok\ufffd"), ("\uffef", "\uffef"),
])
def test_characters_xml_cannot_carry_become_replacement_chars(text, expected):
    body = encode_response([text])
    assert loads(body) == [expected]


def test_struct_keys_are_escaped():
    assert loads(encode_response([{"<&>": 1}])) == [{"<&>": 1}]


def test_str_and_int_subclasses():
    import enum

    class Color(enum.IntEnum):
        RED = 3

    class Name(str):
        pass

    assert loads(encode_response([Color.RED, Name("n<")])) == [3, "n<"]


def test_speed_of_a_50_mb_reply(capsys):
    unit = ("<VM><ID>12345</ID><NAME>vm-12345</NAME><STATE>3</STATE><TEMPLATE><![CDATA[a & b]]>"
            "<CONTEXT><NETWORK><![CDATA[YES]]></NETWORK></CONTEXT></TEMPLATE></VM>\n")
    body = unit * (50_000_000 // len(unit))
    timings = {}
    for name, text in (("ascii", body), ("non-ascii", body + "€")):
        start = time.perf_counter()
        reply = encode_response([True, text, 0])
        timings[name] = time.perf_counter() - start
        assert reply.count(b"&lt;VM&gt;") == body.count("<VM>")
        del reply
    with capsys.disabled():
        print(f"\nencode_response of a {len(body) / 1e6:.0f} MB XML string: "
              + ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in timings.items()))
    # Not a benchmark (this box is shared): only catches a quadratic blow-up, ~0.3 s when idle.
    assert timings["ascii"] < 30.0


def test_long_strings_escape_exactly_like_short_ones():
    chunk = wire._CHUNK
    text = ("a" * (chunk - 1) + "\r\n<&>é\x00" + "€" * chunk + "\ud800]]>") * 3
    body = encode_response([text])
    expected = b"<value><string>" + wire.escape_text(text) + b"</string></value>"
    assert expected in body
    assert loads(body) == [text.replace("\x00", "\ufffd").replace("\ud800", "\ufffd")]
