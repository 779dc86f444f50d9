"""run_server / start_in_thread: random ports, clean shutdown on SIGTERM and SIGINT."""
from __future__ import annotations

import signal
import socket
import subprocess
import sys
import textwrap
import xmlrpc.client as xc

import pytest

from nubo.api.http import build_app, make_server, start_in_thread
from nubo.api.wire import encode_response

SERVE = textwrap.dedent("""
    import sys
    from nubo.api.http import build_app, run_server
    from nubo.api.wire import encode_response
    app = build_app(lambda m, p, i: encode_response([True, m, 0]))
    run_server(app, "127.0.0.1", 0, on_started=lambda port: print(port, flush=True))
    print("returned", flush=True)
""")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_run_server_stops_cleanly_on_signal(sig):
    proc = subprocess.Popen([sys.executable, "-c", SERVE], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        port = int(proc.stdout.readline())
        assert xc.ServerProxy(f"http://127.0.0.1:{port}/RPC2").ping() == [True, "ping", 0]
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert out.strip() == "returned"
    assert "Traceback" not in err
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()


def test_start_in_thread_uses_a_random_port_and_stops():
    app = build_app(lambda m, p, i: encode_response([True, 1]))
    a, port_a = start_in_thread(app)
    b, port_b = start_in_thread(build_app(lambda m, p, i: encode_response([True, 2])))
    try:
        assert port_a != port_b and port_a > 0
        assert xc.ServerProxy(f"http://127.0.0.1:{port_a}/RPC2").x() == [True, 1]
        assert xc.ServerProxy(f"http://127.0.0.1:{port_b}/RPC2").x() == [True, 2]
    finally:
        a.stop()
        b.stop()
    b.stop()  # stopping twice is harmless
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port_a), timeout=2).close()


def test_a_taken_port_is_an_os_error():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(OSError):
            make_server(build_app(lambda m, p, i: b""), "127.0.0.1", taken.getsockname()[1])
