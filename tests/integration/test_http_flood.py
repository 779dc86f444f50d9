"""A real ``nubo serve`` with the common 1,024-descriptor limit under a flood of idle and
trickling (slowloris) sockets: other clients are still answered, the flood is closed."""
from __future__ import annotations

import http.client
import re
import resource
import threading
from pathlib import Path
from urllib.parse import urlparse

import pyone

from server import NuboServer
from sockets import closed_by_peer, connect
from waits import wait_for

FLOOD = 2000         # half idle, half trickling, from two addresses
PER_SOURCE = 100
FD_LIMIT = 1024      # a common default hard limit


def open_file_limit(pid: int) -> tuple[int, int]:
    text = Path(f"/proc/{pid}/limits").read_text()
    soft, hard = re.search(r"Max open files\s+(\d+)\s+(\d+)", text).groups()
    return int(soft), int(hard)


def test_an_idle_and_slowloris_flood_does_not_stop_the_api(tmp_path):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    flood = min(FLOOD, hard - 200) if hard != resource.RLIM_INFINITY else FLOOD
    if soft < flood + 200:
        resource.setrlimit(resource.RLIMIT_NOFILE, (flood + 200, hard))
    config = (f"api_request_timeout = 1\napi_keep_alive_timeout = 1\n"
              f"api_connections_per_source = {PER_SOURCE}\n")
    server = NuboServer(tmp_path / "data", extra_config=config,
                        fd_limit=(FD_LIMIT // 2, FD_LIMIT)).start()
    socks = []
    stop = threading.Event()
    try:
        # nubo raises its soft limit to the hard one, as operators expect
        assert open_file_limit(server.proc.pid) == (FD_LIMIT, FD_LIMIT)
        port = urlparse(server.endpoint).port
        idle = [connect(port, "127.0.0.2") for _ in range(flood // 2)]
        trickling = [connect(port, "127.0.0.3") for _ in range(flood - flood // 2)]
        socks = idle + trickling
        header = b"POST /RPC2 HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 10_000

        def trickle() -> None:  # one byte per trickling socket every 0.3 s
            for i in range(len(header)):
                for sock in trickling:
                    try:
                        sock.send(header[i:i + 1])
                    except OSError:
                        pass
                if stop.wait(0.3):
                    return
        threading.Thread(target=trickle, daemon=True).start()

        # Each source keeps at most its cap: far below the descriptor limit...
        wait_for("each source down to its cap",
                 lambda: len(socks) - len(closed_by_peer(socks)) <= 2 * PER_SOURCE, 10)
        # ...so a client elsewhere is answered while the flood goes on,
        one = pyone.OneServer(server.endpoint, session=server.session)
        assert one.user.info(0).NAME == "oneadmin"
        # and what is left of the flood is closed by the request deadline.
        wait_for("every flood socket closed", lambda: len(closed_by_peer(socks)) == len(socks),
                 15)
        assert one.user.info(0).NAME == "oneadmin"
    finally:
        stop.set()
        for sock in socks:
            sock.close()
        code = server.stop()
    assert code == 0
    log = (tmp_path / "data" / "nubo.log").read_text()
    assert "HTTP connections closed" in log and "Traceback" not in log


def _malformed_call_from(server: NuboServer, forwarded_for: str) -> None:
    url = urlparse(server.endpoint)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    conn.request("POST", url.path, b"<not xml-rpc", {"Content-Type": "text/xml",
                                                      "X-Forwarded-For": forwarded_for})
    conn.getresponse().read()
    conn.close()


def test_a_client_cannot_pose_as_another_address(tmp_path):
    # uvicorn's default trusts X-Forwarded-For from any local client: a guesser could
    # have dodged the per-source back-off and limits by naming a new address each time.
    server = NuboServer(tmp_path / "data").start()
    try:
        _malformed_call_from(server, "198.51.100.7")
        wait_for("the malformed call logged", lambda: any(
            "malformed call from" in line for line in server.log_lines))
        logged = [line for line in server.log_lines if "malformed call from" in line]
        assert "from 127.0.0.1" in logged[0] and "198.51.100.7" not in logged[0]
    finally:
        assert server.stop() == 0
    trusting = NuboServer(tmp_path / "data2",
                          extra_config='api_trusted_proxies = "127.0.0.1"\n').start()
    try:  # behind a proxy the operator names, the header is the client
        _malformed_call_from(trusting, "198.51.100.7")
        wait_for("the proxied client logged", lambda: any(
            "malformed call from 198.51.100.7" in line for line in trusting.log_lines))
    finally:
        assert trusting.stop() == 0
