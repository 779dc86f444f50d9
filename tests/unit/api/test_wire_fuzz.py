"""Property tests: garbage only ever raises WireError; values survive a round trip."""
from __future__ import annotations

import xmlrpc.client as xc

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nubo.api import wire
from nubo.api.wire import WireError, encode_response, parse_call

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Characters XML 1.0 can carry (what a client can send and get back unchanged).
xml_chars = st.characters(blacklist_categories=("Cs",),
                          blacklist_characters="".join(map(chr, range(32))) + "\ufffe\uffff") \
    | st.sampled_from("\t\n")
xml_text = st.text(xml_chars, max_size=40)


def value_trees(ints: st.SearchStrategy[int]) -> st.SearchStrategy:
    scalars = (ints | st.booleans() | xml_text | st.none() | st.binary(max_size=30)
               | st.floats(allow_nan=False, allow_infinity=False))
    return st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                        | st.dictionaries(xml_text, inner, max_size=4), max_leaves=20)


values = value_trees(st.integers(-2**63, 2**63 - 1))
call_values = value_trees(st.integers(-2**31, 2**31 - 1))   # all xmlrpc.client can send

TAGS = ["methodCall", "methodName", "params", "param", "value", "i4", "int", "i8", "boolean",
        "string", "double", "base64", "dateTime.iso8601", "nil", "array", "data", "struct",
        "member", "name", "bogus"]
fragments = st.lists(st.one_of(
    st.sampled_from(TAGS).map(lambda t: f"<{t}>"), st.sampled_from(TAGS).map(lambda t: f"</{t}>"),
    st.sampled_from(TAGS).map(lambda t: f"<{t}/>"), xml_text,
    st.sampled_from(["<!DOCTYPE x>", "<!ENTITY e 'x'>", "&e;", "&amp;", "&#0;", "<![CDATA[",
                     "]]>", "<?xml version='1.0'?>", "<!--", "-->", "\x00", "\udcff"]),
), max_size=30).map("".join)


def _only_wire_error(body: bytes) -> None:
    try:
        method, params = parse_call(body)
    except WireError as e:
        assert e.code == wire.PARSE_ERROR and str(e)
    else:
        assert isinstance(method, str) and isinstance(params, list)


@FUZZ
@given(st.binary(max_size=400))
def test_random_bytes_only_raise_wire_error(body):
    _only_wire_error(body)


@FUZZ
@given(fragments)
def test_random_xmlrpc_like_documents_only_raise_wire_error(text):
    _only_wire_error(text.encode("utf-8", "surrogatepass"))


@FUZZ
@given(st.lists(call_values, max_size=5), st.data())
def test_mutated_valid_calls_only_raise_wire_error(params, data):
    body = bytearray(xc.dumps(tuple(params), "one.vm.info", allow_none=True).encode())
    for _ in range(data.draw(st.integers(1, 4))):
        kind = data.draw(st.sampled_from(["flip", "cut", "dup"]))
        at = data.draw(st.integers(0, max(len(body) - 1, 0)))
        if kind == "flip" and body:
            body[at] = data.draw(st.integers(0, 255))
        elif kind == "cut":
            del body[at:]
        else:
            body[at:at] = body[at:at + data.draw(st.integers(1, 20))]
    _only_wire_error(bytes(body))


@FUZZ
@given(st.lists(call_values, max_size=5))
def test_calls_from_xmlrpc_client_parse_back(params):
    body = xc.dumps(tuple(params), "m.x", allow_none=True).encode()
    assert parse_call(body) == ("m.x", params)


@FUZZ
@given(st.lists(values, max_size=5))
def test_replies_round_trip_through_xmlrpc_client(value):
    assert xc.loads(encode_response(value), use_builtin_types=True)[0][0] == value


@FUZZ
@given(st.text(max_size=60))
def test_any_string_encodes_to_well_formed_xml(text):
    (got,), _ = xc.loads(encode_response([text]))
    assert len(got) == 1 and len(got[0]) == len(text)
