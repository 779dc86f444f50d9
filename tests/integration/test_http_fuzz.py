"""Throw random and hostile bodies at a real server; it must answer each and keep serving.

A real uvicorn on 127.0.0.1 (random port) with a toy dispatcher: every bad
request gets a fault or an HTTP error, never a hang or a dead server, and a
valid call works after each. Then many clients at once all get their own
answers.
"""
from __future__ import annotations

import socket
import threading
import xmlrpc.client as xc
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families

from nubo.api.http import build_app, start_in_thread
from nubo.api.wire import I8, NO_SUCH_METHOD_ERROR, Fault, encode_response

LIMIT = 64 * 1024
HTTP_FUZZ = settings(max_examples=60, deadline=None,
                     suppress_health_check=[HealthCheck.function_scoped_fixture,
                                            HealthCheck.too_slow])


def toy(method: str, params: list, info) -> bytes:
    if method == "echo":
        return encode_response([True, params, 0])
    if method == "add":
        return encode_response([True, sum(params), 0])
    if method == "big":
        return encode_response([True, "<X a='1'>&</X>\n" * params[0], 0])
    if method == "fail":
        return encode_response([False, "[fail] nope", 0x400, -1, I8(-1)])
    if method == "crash":
        raise RuntimeError("boom")
    raise Fault(NO_SUCH_METHOD_ERROR, f"Method '{method}' not defined")


@pytest.fixture(scope="module")
def server():
    srv, port = start_in_thread(build_app(toy, max_body_bytes=LIMIT))
    yield srv, port
    srv.stop()
    assert not srv._thread.is_alive()


@pytest.fixture(scope="module")
def url(server):
    return f"http://127.0.0.1:{server[1]}/RPC2"


def alive(url: str) -> None:
    assert xc.ServerProxy(url).add(2, 3) == [True, 5, 0]


def answer(r: requests.Response):
    """The XML-RPC answer in ``r``: a value, or the Fault it carries."""
    assert r.status_code == 200, r.text[:200]
    assert r.headers["content-type"].startswith("text/xml")
    try:
        return xc.loads(r.content)[0][0]
    except xc.Fault as f:
        return f


def post(url: str, body, **headers) -> requests.Response:
    return requests.post(url, data=body, headers=headers, timeout=30)


def raw_exchange(port: int, data: bytes, abandon: bool = False) -> bytes:
    """Send raw bytes on a fresh connection; all the server sends until it closes.

    With ``abandon`` the client hangs up right after sending (a client that dies).
    """
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(data)
        if abandon:
            return b""
        chunks = []
        while chunk := s.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


@HTTP_FUZZ
@given(st.binary(max_size=2000))
def test_random_bytes(url, body):
    got = answer(post(url, body))
    assert isinstance(got, xc.Fault) and got.faultCode == -503
    alive(url)


TAGS = ["methodCall", "methodName", "params", "param", "value", "i4", "string", "array",
        "data", "struct", "member", "name", "boolean", "double", "base64", "nil", "x"]


@HTTP_FUZZ
@given(st.lists(st.one_of(st.sampled_from(TAGS).map("<{}>".format),
                          st.sampled_from(TAGS).map("</{}>".format),
                          st.text(max_size=10),
                          st.sampled_from(["&amp;", "&bad;", "<!DOCTYPE a>"])),
                max_size=40).map("".join))
def test_xmlrpc_like_garbage(url, text):
    got = answer(post(url, text.encode("utf-8", "surrogatepass")))
    assert isinstance(got, (xc.Fault, list))
    alive(url)


def test_every_truncation_of_a_valid_call(url):
    body = xc.dumps(([1, "two", {"three": 3.0}], True, b"\x00"), "echo").encode()
    with requests.Session() as session:             # one keep-alive connection throughout
        for cut in range(0, len(body), 3):
            r = session.post(url, data=body[:cut], timeout=30)
            got = answer(r)
            assert isinstance(got, xc.Fault) and got.faultCode == -503, cut
        assert answer(session.post(url, data=body, timeout=30))[0] is True
    alive(url)


@pytest.mark.parametrize("size", [LIMIT + 1, 10 * LIMIT, 200 * LIMIT])
def test_huge_bodies_with_content_length(url, size):
    got = answer(post(url, b"<" * size))
    assert (got.faultCode, got.faultString) == (-509, f"request body exceeds {LIMIT} bytes")
    alive(url)


def test_huge_chunked_body(url):
    got = answer(post(url, (b"x" * 65536 for _ in range(64))))
    assert got.faultCode == -509
    alive(url)


def test_declared_huge_body_is_refused_before_it_is_sent(server, url):
    reply = raw_exchange(server[1], b"POST /RPC2 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                                    b"Content-Length: 1000000000000\r\n\r\n<methodCall>")
    assert reply.startswith(b"HTTP/1.1 200") and b"<i4>-509</i4>" in reply
    alive(url)


BILLION_LAUGHS = b"""<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">
<!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
<!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
<!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
<!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
<!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
<!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">]>
<methodCall><methodName>echo</methodName><params><param><value>&lol9;</value></param></params></methodCall>"""
XXE = b"""<?xml version="1.0"?><!DOCTYPE m [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<methodCall><methodName>echo</methodName><params><param><value>&x;</value></param></params></methodCall>"""


@pytest.mark.parametrize("body", [BILLION_LAUGHS, XXE], ids=["billion-laughs", "xxe"])
def test_entity_attacks(url, body):
    got = answer(post(url, body))
    assert got.faultCode == -503 and "DTD" in got.faultString
    alive(url)


@pytest.mark.parametrize("depth", [65, 1_500])
def test_deep_value_nesting(url, depth):
    body = (b"<methodCall><methodName>echo</methodName><params><param>"
            + b"<value><array><data>" * depth + b"</data></array></value>" * depth
            + b"</param></params></methodCall>")
    got = answer(post(url, body))
    assert got.faultCode == -503 and "nested more than" in got.faultString
    alive(url)


def test_deep_garbage_nesting(url):
    got = answer(post(url, b"<methodCall>" + b"<a>" * 7_000 + b"</a>" * 7_000 + b"</methodCall>"))
    assert got.faultCode == -503
    alive(url)


@pytest.mark.parametrize("content_type", [None, "application/json", "text/plain",
                                          "application/octet-stream", "multipart/form-data",
                                          "text/xml; charset=latin-1", "\u00e9/weird"])
def test_content_types_are_ignored_like_xmlrpc_c(url, content_type):
    headers = {} if content_type is None else {"Content-Type": content_type.encode("latin-1")}
    body = xc.dumps(("é",), "echo").encode()
    assert answer(requests.post(url, data=body, headers=headers, timeout=30)) == [True, ["é"], 0]


def test_json_body_is_a_parse_fault(url):
    got = answer(post(url, b'{"method": "echo", "params": []}',
                      **{"Content-Type": "application/json"}))
    assert got.faultCode == -503
    alive(url)


def test_other_xml_encodings(url):
    body = "<?xml version='1.0' encoding='utf-16'?><methodCall><methodName>echo</methodName>" \
           "<params><param><value>ü</value></param></params></methodCall>"
    assert answer(post(url, body.encode("utf-16"))) == [True, ["ü"], 0]


@pytest.mark.parametrize("request_bytes, status", [
    (b"GARBAGE\r\n\r\n", b"400"),
    (b"POST /RPC2 HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n", b"400"),
    (b"POST /RPC2 HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", b"200"),
    (b"POST /RPC2 HTTP/1.0\r\nContent-Length: 4\r\n\r\njunk", b"200"),
    (b"POST /RPC2 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", b"400"),
    (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 64, b"400"),   # a TLS hello
    (b"POST /RPC2 HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n<methodCall>", None),
    (b"POST /RPC2 HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n", None),
])
def test_broken_http(server, url, request_bytes, status):
    reply = raw_exchange(server[1], request_bytes, abandon=status is None)
    if status is not None:
        assert reply[9:12] == status, reply[:200]
    alive(url)


def test_dispatch_errors_do_not_stop_the_server(url):
    proxy = xc.ServerProxy(url)
    for _ in range(20):
        with pytest.raises(xc.Fault) as info:
            proxy.crash()
        assert info.value.faultCode == -500
    assert proxy.fail() == [False, "[fail] nope", 0x400, -1, -1]
    alive(url)


def test_many_concurrent_clients(server, url):
    def client(n: int) -> int:
        proxy = xc.ServerProxy(url)
        ok = 0
        for i in range(50):
            payload = f"client {n} call {i} <&>"
            assert proxy.echo(payload, n, i) == [True, [payload, n, i], 0]
            ok += 1
        return ok

    def big(n: int) -> int:
        reply = xc.ServerProxy(url).big(20_000 + n)
        assert reply[1] == "<X a='1'>&</X>\n" * (20_000 + n)
        return 1

    with ThreadPoolExecutor(max_workers=24) as pool:
        echoes = [pool.submit(client, n) for n in range(20)]
        bigs = [pool.submit(big, n) for n in range(4)]
        assert sum(f.result(timeout=120) for f in echoes) == 20 * 50
        assert sum(f.result(timeout=120) for f in bigs) == 4
    samples = {}
    text = requests.get(f"http://127.0.0.1:{server[1]}/metrics", timeout=10).text
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    ok = ("nubo_api_requests_total", (("method", "echo"), ("outcome", "success")))
    assert samples[ok] >= 1000
    assert samples[("nubo_api_requests_in_flight", ())] == 0
    assert threading.active_count() < 100
