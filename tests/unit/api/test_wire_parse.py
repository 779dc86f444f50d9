"""parse_call: every XML-RPC type, xmlrpc.client's output, and every refusal."""
from __future__ import annotations

import datetime as dt
import xmlrpc.client as xc

import pytest

from nubo.api import wire
from nubo.api.wire import WireError, parse_call


def call(params_xml: str, method: str = "one.vm.info") -> bytes:
    return (f"<?xml version='1.0'?><methodCall><methodName>{method}</methodName>"
            f"<params>{params_xml}</params></methodCall>").encode()


def one(value_xml: str):
    return parse_call(call(f"<param><value>{value_xml}</value></param>"))[1][0]


def test_round_trip_through_xmlrpc_client_dumps():
    params = ("session:token", -1, 0, 2**31 - 1, True, False, 1.25, "a&b<c>]]>\n\t",
              "ünï€ode 🚀", [1, ["x", {"k": None}]], {"a": 1, "b": [True]},
              b"\x00\x01\xff", "")
    body = xc.dumps(params, "one.vm.info", allow_none=True).encode()  # (it leaves \r raw)
    method, got = parse_call(body)
    assert method == "one.vm.info"
    assert got == list(params)


def test_datetime_from_xmlrpc_client():
    body = xc.dumps((xc.DateTime("20240102T03:04:05"),), "m").encode()
    assert parse_call(body)[1] == [dt.datetime(2024, 1, 2, 3, 4, 5)]


@pytest.mark.parametrize("xml, expected", [
    ("<i4>42</i4>", 42), ("<int>-7</int>", -7), ("<i4> 5 </i4>", 5),
    ("<i4>2147483647</i4>", 2**31 - 1), ("<i4>-2147483648</i4>", -2**31),
    ("<i8>9223372036854775807</i8>", 2**63 - 1), ("<i8>-9223372036854775808</i8>", -2**63),
    ("<i8>5</i8>", 5), ("<boolean>1</boolean>", True), ("<boolean>0</boolean>", False),
    ("<string>x</string>", "x"), ("<string/>", ""), ("plain text", "plain text"),
    ("", ""), ("  spaced  ", "  spaced  "), ("<string>  kept  </string>", "  kept  "),
    ("<double>1.5</double>", 1.5), ("<double>-0.25</double>", -0.25), ("<double>3</double>", 3.0),
    ("<double>1e3</double>", 1000.0), ("<base64>AAH/</base64>", b"\x00\x01\xff"),
    ("<base64>\r\nAA\nH/\n</base64>", b"\x00\x01\xff"), ("<base64></base64>", b""),
    ("<dateTime.iso8601>19980717T14:08:55</dateTime.iso8601>", dt.datetime(1998, 7, 17, 14, 8, 55)),
    ("<dateTime.iso8601>1998-07-17T14:08:55Z</dateTime.iso8601>",
     dt.datetime(1998, 7, 17, 14, 8, 55, tzinfo=dt.UTC)),
    ("<nil/>", None), ("<array><data/></array>", []),
    ("<array><data><value>a</value><value><i4>1</i4></value></data></array>", ["a", 1]),
    ("<struct/>", {}),
    ("<struct><member><name>n</name><value><i4>1</i4></value></member>"
     "<member><value>v</value><name>m</name></member></struct>", {"n": 1, "m": "v"}),
    ("\n  <i4>3</i4>\n", 3),
    ("<string><![CDATA[<x>&]]></string>", "<x>&"),
    ("<string>&lt;&amp;&gt;&#x0d;&#13;&#233;</string>", "<&>\r\ré"),
])
def test_value_types(xml, expected):
    got = one(xml)
    assert got == expected and type(got) is type(expected)


def test_no_params_and_empty_params():
    assert parse_call(b"<methodCall><methodName>a.b</methodName></methodCall>") == ("a.b", [])
    assert parse_call(call("")) == ("one.vm.info", [])


def test_other_encodings_are_decoded():
    text = "<?xml version='1.0' encoding='%s'?><methodCall><methodName>m</methodName>" \
           "<params><param><value>é</value></param></params></methodCall>"
    assert parse_call((text % "utf-16").encode("utf-16")) == ("m", ["é"])
    assert parse_call((text % "iso-8859-1").encode("latin-1")) == ("m", ["é"])


def test_comments_and_processing_instructions_are_ignored():
    body = b"<?xml version='1.0'?><!-- hi --><methodCall><?pi x?><methodName>m</methodName>" \
           b"<!-- c --><params/></methodCall>"
    assert parse_call(body) == ("m", [])


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<methodCall><methodName>&lol9;</methodName></methodCall>"""
XXE = b"""<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>
<methodCall><methodName>m</methodName><params><param><value>&e;</value></param></params></methodCall>"""
PARAM_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE x [<!ENTITY % p SYSTEM "http://127.0.0.1:1/x.dtd"> %p;]>
<methodCall><methodName>m</methodName></methodCall>"""


BARE_DOCTYPE = b"<!DOCTYPE methodCall><methodCall><methodName>m</methodName></methodCall>"


@pytest.mark.parametrize("body", [BILLION_LAUGHS, XXE, PARAM_ENTITY, BARE_DOCTYPE])
def test_dtds_are_refused(body):
    with pytest.raises(WireError, match="DTD"):
        parse_call(body)


@pytest.mark.parametrize("body, fragment", [
    (b"", "no element found"),
    (b"   ", "no element found"),
    (b"<methodCall>", "no element found"),
    (b"\xff\xfe\x00garbage", "not well-formed"),
    (b"<methodCall><methodName>m</methodName></methodCall><x/>", "junk after document element"),
    (b"<methodResponse/>", "unexpected element <methodResponse> at the top"),
    (b"<methodCall/>", "without <methodName>"),
    (b"<methodCall><methodName></methodName></methodCall>", "empty <methodName>"),
    (b"<methodCall><methodName>a</methodName><methodName>b</methodName></methodCall>", "duplicate"),
    (b"<methodCall><methodName>a</methodName><params/><params/></methodCall>", "duplicate"),
    (b"<methodCall>text<methodName>a</methodName></methodCall>", "unexpected text"),
    (b"<methodCall><methodName>a<b/></methodName></methodCall>", "unexpected element <b>"),
    (b"<methodCall><methodName>a</methodName>&undefined;</methodCall>", "undefined entity"),
    (call("<param></param>"), "<param> without <value>"),
    (call("<param><value>1</value><value>2</value></param>"), "more than one child"),
    (call("<value>1</value>"), "unexpected element <value> inside <params>"),
    (call("<param><value><i4>1</i4><i4>2</i4></value></param>"), "more than one child"),
    (call("<param><value>x<i4>1</i4></value></param>"), "mixed"),
    (call("<param><value><float>1</float></value></param>"), "unexpected element <float>"),
    (call("<param><value><i4>1.5</i4></value></param>"), "bad <i4>"),
    (call("<param><value><i4></i4></value></param>"), "bad <i4>"),
    (call("<param><value><i4>2147483648</i4></value></param>"), "out of range"),
    (call("<param><value><int>-2147483649</int></value></param>"), "out of range"),
    (call("<param><value><i8>9223372036854775808</i8></value></param>"), "out of range"),
    (call("<param><value><i4>" + "9" * 5000 + "</i4></value></param>"), "bad <i4>"),
    (call("<param><value><boolean>true</boolean></value></param>"), "bad <boolean>"),
    (call("<param><value><boolean>2</boolean></value></param>"), "bad <boolean>"),
    (call("<param><value><double>nan</double></value></param>"), "bad <double>"),
    (call("<param><value><double>inf</double></value></param>"), "bad <double>"),
    (call("<param><value><double>1e999</double></value></param>"), "out of range"),
    (call("<param><value><base64>!!!</base64></value></param>"), "bad <base64>"),
    (call("<param><value><base64>é</base64></value></param>"), "bad <base64>"),
    (call("<param><value><dateTime.iso8601>yesterday</dateTime.iso8601></value></param>"),
     "bad <dateTime.iso8601>"),
    (call("<param><value><dateTime.iso8601>20241399T00:00:00</dateTime.iso8601></value></param>"),
     "bad <dateTime.iso8601>"),
    (call("<param><value><nil>x</nil></value></param>"), "bad <nil>"),
    (call("<param><value><array/></value></param>"), "<array> without <data>"),
    (call("<param><value><array><data>x</data></array></value></param>"), "unexpected text"),
    (call("<param><value><array><data/><data/></array></value></param>"), "more than one child"),
    (call("<param><value><struct><member><name>a</name></member></struct></value></param>"),
     "needs a <name> and a <value>"),
    (call("<param><value><struct><member><value>1</value></member></struct></value></param>"),
     "needs a <name> and a <value>"),
    (call("<param><value><struct><member><name>a</name><name>b</name>"
          "<value>1</value></member></struct></value></param>"), "duplicate <name>"),
    (call("<param><value><struct><value>1</value></struct></value></param>"), "unexpected element"),
])
def test_malformed_calls(body, fragment):
    with pytest.raises(WireError) as info:
        parse_call(body)
    assert fragment in str(info.value)
    assert info.value.code == wire.PARSE_ERROR


def test_errors_carry_a_position():
    with pytest.raises(WireError, match=r"line 3, column \d+"):
        parse_call(b"<methodCall>\n<methodName>m</methodName>\n<params><bogus/></params></methodCall>")


def test_nesting_is_limited():
    depth = wire.MAX_NESTING
    ok = "<value><array><data>" * depth + "</data></array></value>" * depth
    value = parse_call(call(f"<param>{ok}</param>"))[1][0]
    for _ in range(depth - 1):
        assert len(value) == 1
        value = value[0]
    assert value == []
    deep = "<value><array><data>" * (depth + 1) + "</data></array></value>" * (depth + 1)
    with pytest.raises(WireError, match="nested more than"):
        parse_call(call(f"<param>{deep}</param>"))


def test_very_deep_garbage_nesting_is_refused_early():
    body = b"<methodCall>" + b"<a>" * 200_000 + b"</a>" * 200_000 + b"</methodCall>"
    with pytest.raises(WireError, match="unexpected element <a>"):
        parse_call(body)


@pytest.mark.parametrize("body", [None, "text", 12, ["x"]])
def test_non_bytes_are_refused(body):
    with pytest.raises(WireError):
        parse_call(body)  # type: ignore[arg-type]


def test_memoryview_and_bytearray_are_accepted():
    body = b"<methodCall><methodName>m</methodName></methodCall>"
    assert parse_call(bytearray(body)) == ("m", [])
    assert parse_call(memoryview(body)) == ("m", [])
