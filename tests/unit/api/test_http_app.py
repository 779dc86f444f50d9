"""The HTTP front on a real uvicorn (random port): routes, faults, limits, metrics."""
from __future__ import annotations

import logging
import threading
import xmlrpc.client as xc

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from nubo.api import http, wire
from nubo.api.http import RequestInfo, build_app, start_in_thread
from nubo.api.wire import I8, Fault, encode_response

LIMIT = 4096
seen: list[tuple[str, RequestInfo, str]] = []


def dispatch(method: str, params: list, info: RequestInfo) -> bytes:
    seen.append((method, info, threading.current_thread().name))
    if method == "echo":
        return encode_response([True, params, 0])
    if method == "fail":
        return encode_response([False, "[fail] nope", 0x400, 7, I8(-1)])
    if method == "fault":
        raise Fault(wire.TYPE_ERROR, "Parameter that is supposed to be integer is not")
    if method == "crash":
        raise RuntimeError("secret detail")
    if method == "not_bytes":
        return "a str"  # type: ignore[return-value]
    if method == "bad_fault":
        raise Fault(2**40, "a code no i4 can hold")
    raise Fault(wire.NO_SUCH_METHOD_ERROR, f"Method '{method}' not defined")


@pytest.fixture(scope="module")
def server():
    app = build_app(dispatch, max_body_bytes=LIMIT, metrics=lambda: "nubo_extra_thing 42")
    srv, port = start_in_thread(app)
    yield f"http://127.0.0.1:{port}"
    srv.stop()


@pytest.fixture
def rpc(server):
    return xc.ServerProxy(server + "/RPC2")


def metric_samples(base: str) -> dict:
    text = requests.get(base + "/metrics", timeout=10).text
    samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples


def test_echo_and_request_info(rpc):
    seen.clear()
    assert rpc.echo("s", 1, [True, {"k": "v"}]) == [True, ["s", 1, [True, {"k": "v"}]], 0]
    assert rpc.echo() == [True, [], 0]
    (m1, info1, thread1), (_, info2, _) = seen[-2:]
    assert m1 == "echo" and info1.client_host == "127.0.0.1" and info1.client_port > 0
    assert info2.request_id > info1.request_id
    assert thread1 != threading.current_thread().name and "api-" not in thread1


def test_failure_reply_passes_through(rpc):
    assert rpc.fail() == [False, "[fail] nope", 0x400, 7, -1]


def test_fault_raised_by_dispatch(rpc):
    with pytest.raises(xc.Fault) as info:
        rpc.fault()
    assert info.value.faultCode == -501
    assert info.value.faultString == "Parameter that is supposed to be integer is not"


def test_unknown_method(rpc):
    with pytest.raises(xc.Fault) as info:
        rpc.no.such.method()
    assert info.value.faultCode == -506
    assert info.value.faultString == "Method 'no.such.method' not defined"


@pytest.mark.parametrize("method", ["crash", "not_bytes", "bad_fault"])
def test_internal_errors_are_faults_logged_with_traceback(rpc, method, caplog):
    with caplog.at_level(logging.ERROR, logger="nubo.api.http"), \
            pytest.raises(xc.Fault) as info:
        getattr(rpc, method)()
    assert info.value.faultCode == -500
    assert info.value.faultString.startswith("Internal server error (request ")
    assert "secret" not in info.value.faultString
    record = next(r for r in caplog.records if r.name == "nubo.api.http")
    assert record.exc_info and method in record.getMessage()
    assert rpc.echo(1) == [True, [1], 0]


def test_malformed_body_is_a_parse_fault(server):
    r = requests.post(server + "/RPC2", data=b"<methodCall><oops/>", timeout=10)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/xml")
    with pytest.raises(xc.Fault) as info:
        xc.loads(r.content)
    assert info.value.faultCode == -503
    assert info.value.faultString.startswith("Call XML not a proper XML-RPC call.  ")


def _padded_call(size: int) -> bytes:
    call = xc.dumps((), "echo").encode()
    return call + b" " * (size - len(call))


def test_body_limit_is_inclusive(server):
    r = requests.post(server + "/RPC2", data=_padded_call(LIMIT), timeout=10)
    assert xc.loads(r.content)[0][0] == [True, [], 0]


@pytest.mark.parametrize("chunked", [False, True])
def test_body_over_the_limit(server, chunked):
    body = _padded_call(LIMIT + 1)
    data = iter([body[:100], body[100:]]) if chunked else body
    r = requests.post(server + "/RPC2", data=data, timeout=10)
    assert r.status_code == 200
    with pytest.raises(xc.Fault) as info:
        xc.loads(r.content)
    assert info.value.faultCode == -509
    assert info.value.faultString == f"request body exceeds {LIMIT} bytes"


def test_http_methods(server):
    r = requests.get(server + "/RPC2", timeout=10)
    assert r.status_code == 405 and "POST" in r.headers["allow"]
    assert requests.put(server + "/RPC2", data=b"x", timeout=10).status_code == 405
    r = requests.options(server + "/RPC2", timeout=10)
    assert r.status_code == 200 and r.headers["allow"] == "POST"
    assert requests.post(server + "/elsewhere", data=b"x", timeout=10).status_code == 404


def test_healthz(server):
    r = requests.get(server + "/healthz", timeout=10)
    assert (r.status_code, r.text) == (200, "ok")


def test_metrics(server, rpc):
    rpc.echo()
    with pytest.raises(xc.Fault):
        rpc.unknown_thing_xyz()
    requests.post(server + "/RPC2", data=b"junk", timeout=10)
    r = requests.get(server + "/metrics", timeout=10)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    assert r.text.rstrip().endswith("nubo_extra_thing 42")
    s = metric_samples(server)
    assert s[("nubo_api_requests_total", (("method", "echo"), ("outcome", "success")))] >= 1
    assert s[("nubo_api_requests_total", (("method", "(unknown)"), ("outcome", "fault")))] >= 1
    malformed = ("nubo_api_requests_total", (("method", "(malformed)"), ("outcome", "malformed")))
    assert s[malformed] >= 1
    assert s[("nubo_api_request_duration_seconds_count", (("method", "echo"),))] >= 1
    assert s[("nubo_api_requests_in_flight", ())] == 0
    assert not any("unknown_thing_xyz" in str(k) for k in s)


def test_failing_extra_metrics_still_serves_ours(caplog):
    def broken() -> str:
        raise RuntimeError("db down")
    srv, port = start_in_thread(build_app(dispatch, metrics=broken))
    try:
        r = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=10)
        assert r.status_code == 200 and "nubo_api_requests_in_flight" in r.text
    finally:
        srv.stop()


def test_method_labels_are_capped(monkeypatch):
    monkeypatch.setattr(http, "MAX_METHOD_LABELS", 2)
    srv, port = start_in_thread(build_app(lambda m, p, i: encode_response([True, m, 0])))
    try:
        proxy = xc.ServerProxy(f"http://127.0.0.1:{port}/RPC2")
        for name in ("a", "b", "c", "d", "a"):
            assert getattr(proxy, name)() == [True, name, 0]
        labels = {dict(k[1]).get("method") for k in metric_samples(f"http://127.0.0.1:{port}")
                  if k[0] == "nubo_api_requests_total"}
        assert labels == {"a", "b", "(other)"}
    finally:
        srv.stop()


def test_worker_threads_are_bounded():
    cond = threading.Condition()
    state = {"active": 0, "peak": 0, "release": False}

    def slow(method, params, info):
        with cond:
            state["active"] += 1
            state["peak"] = max(state["peak"], state["active"])
            cond.notify_all()
            cond.wait_for(lambda: state["release"], timeout=30)
            state["active"] -= 1
        return encode_response([True, 0])

    srv, port = start_in_thread(build_app(slow, max_threads=2))
    results: list = []
    callers = [threading.Thread(target=lambda: results.append(
        xc.ServerProxy(f"http://127.0.0.1:{port}/RPC2").m())) for _ in range(5)]
    try:
        for t in callers:
            t.start()
        with cond:
            assert cond.wait_for(lambda: state["active"] == 2, timeout=30)
            # the other three are queued behind the limiter, not running
            assert not cond.wait_for(lambda: state["active"] > 2, timeout=0.3)
            state["release"] = True
            cond.notify_all()
        for t in callers:
            t.join(30)
        assert results == [[True, 0]] * 5 and state["peak"] == 2
    finally:
        with cond:
            state["release"] = True
            cond.notify_all()
        srv.stop()
