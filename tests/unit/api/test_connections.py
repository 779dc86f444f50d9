"""Connection limits of the HTTP front (api/connections.py) on a real uvicorn: request
deadline, keep-alive, per-source and total caps."""
from __future__ import annotations

import http.client
import logging
import threading
import xmlrpc.client as xc

import pytest

from nubo.api.connections import ConnectionLimits
from nubo.api.http import build_app, start_in_thread
from nubo.api.wire import encode_response
from sockets import closed_by_peer, connect
from waits import wait_for

CALL = (b"<?xml version='1.0'?><methodCall><methodName>m</methodName>"
        b"<params></params></methodCall>")
REQUEST = (b"POST /RPC2 HTTP/1.1\r\nHost: x\r\nContent-Type: text/xml\r\n"
           b"Content-Length: %d\r\n\r\n%s" % (len(CALL), CALL))


def serve(limits: ConnectionLimits, dispatch=None):
    app = build_app(dispatch or (lambda m, p, i: encode_response([True, i.client_host])))
    return start_in_thread(app, limits=limits)


def held(srv) -> int:
    """Connections the server holds now (its guard's count)."""
    return len(srv.config.http.guard.all)


def call(port: int) -> list:
    return xc.ServerProxy(f"http://127.0.0.1:{port}/RPC2").m()


@pytest.fixture
def quick():
    srv, port = serve(ConnectionLimits(request_timeout=0.5, keep_alive_timeout=0.5))
    yield srv, port
    srv.stop()


def test_a_connection_that_sends_nothing_is_closed(quick):
    srv, port = quick
    sock = connect(port)
    try:
        wait_for("the idle connection closed", lambda: closed_by_peer([sock]), 10)
        wait_for("the server to let go of it", lambda: held(srv) == 0)
    finally:
        sock.close()


@pytest.mark.parametrize("head", [b"", REQUEST], ids=["first-request", "after-a-request"])
def test_a_request_trickling_in_is_closed(quick, head):
    # uvicorn itself cancels its keep-alive timer at the first byte, so one byte every
    # few seconds used to hold a connection forever (slowloris).
    srv, port = quick
    sock = connect(port)
    try:
        if head:
            sock.sendall(head)
            assert sock.recv(65536).startswith(b"HTTP/1.1 200")
        trickle = iter(REQUEST[:-1])

        def cut_off() -> bool:
            try:
                sock.send(bytes([next(trickle)]))
            except OSError:
                return True
            return bool(closed_by_peer([sock]))
        wait_for("the trickling connection closed", cut_off, 10)
    finally:
        sock.close()


def test_an_idle_keep_alive_connection_is_closed(quick):
    _, port = quick
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("POST", "/RPC2", CALL, {"Content-Type": "text/xml"})
        assert conn.getresponse().read().startswith(b"<?xml")
        wait_for("the idle keep-alive connection closed", lambda: closed_by_peer([conn.sock]), 10)
    finally:
        conn.close()


def test_a_call_being_served_outlives_the_request_deadline():
    entered, release = threading.Event(), threading.Event()

    def slow(method, params, info):
        entered.set()
        release.wait(30)
        return encode_response([True, "done"])

    srv, port = serve(ConnectionLimits(request_timeout=0.5), slow)
    result: list = []
    caller = threading.Thread(target=lambda: result.append(call(port)))
    try:
        caller.start()
        assert entered.wait(10)
        idle = connect(port)  # opened after the call was in: its deadline passes later
        wait_for("a deadline to pass", lambda: closed_by_peer([idle]), 10)
        idle.close()
        release.set()
        caller.join(10)
        assert result == [[True, "done"]]
    finally:
        release.set()
        srv.stop()


def test_one_source_over_its_cap_churns_only_its_own_idle_connections(caplog):
    caplog.set_level(logging.WARNING, "nubo.api.http")
    srv, port = serve(ConnectionLimits(max_per_source=5))
    flood = [connect(port, "127.0.0.2") for _ in range(5)]
    try:
        wait_for("five held", lambda: held(srv) == 5)
        newer = connect(port, "127.0.0.2")
        flood.append(newer)
        # the oldest idle one made room, at once (not after a timeout)
        wait_for("the oldest closed", lambda: closed_by_peer(flood) == {flood[0]}, 10)
        assert call(port) == [True, "127.0.0.1"]           # other sources are unaffected
        assert call_from(port, "127.0.0.2") == [True, "127.0.0.2"]  # and so is the flooder
        assert held(srv) <= 5 + 1
        # the first of a burst is logged at once, naming the source
        assert "1 closed over the per-source cap (latest from 127.0.0.2" in caplog.text
    finally:
        for s in flood:
            s.close()
        srv.stop()


def call_from(port: int, source: str) -> list:
    """One XML-RPC call over a connection from ``source``."""
    sock = connect(port, source)
    try:
        sock.sendall(REQUEST)
        reply = b""
        while b"</methodResponse>" not in reply:
            chunk = sock.recv(65536)
            assert chunk, f"closed without an answer: {reply!r}"
            reply += chunk
        return xc.loads(reply.split(b"\r\n\r\n", 1)[1])[0][0]
    finally:
        sock.close()


def test_a_source_whose_connections_are_all_being_served_is_refused_more():
    entered, release = threading.Semaphore(0), threading.Event()

    def slow(method, params, info):
        if info.client_host == "127.0.0.2":
            entered.release()
            release.wait(30)
        return encode_response([True, info.client_host])

    srv, port = serve(ConnectionLimits(max_per_source=3), slow)
    busy = [threading.Thread(target=call_from, args=(port, "127.0.0.2")) for _ in range(3)]
    try:
        for t in busy:
            t.start()
        for _ in busy:
            assert entered.acquire(timeout=10)
        extra = connect(port, "127.0.0.2")
        wait_for("the extra connection refused", lambda: closed_by_peer([extra]), 10)
        extra.close()
        assert call(port) == [True, "127.0.0.1"]
    finally:
        release.set()
        for t in busy:
            t.join(10)
        srv.stop()


def test_the_total_cap_closes_the_oldest_idle_connection_of_any_source():
    srv, port = serve(ConnectionLimits(max_total=8))
    flood = [connect(port, f"127.0.0.{2 + i % 4}") for i in range(16)]
    try:
        wait_for("the oldest eight closed", lambda: closed_by_peer(flood) == set(flood[:8]), 10)
        assert call(port) == [True, "127.0.0.1"]
        assert held(srv) <= 8
    finally:
        for s in flood:
            s.close()
        srv.stop()
