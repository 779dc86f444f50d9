"""Traffic probes run inside a network namespace (``ip netns exec NS python net_probe.py``):

    listen IP PORT      accept TCP connections forever (the test kills it by pid)
    connect IP PORT     exit 0 if a TCP connection is made within 1 s, else 1
    ping IP             exit 0 if an ICMP echo is answered within 1 s, else 1
"""
from __future__ import annotations

import os
import socket
import struct
import sys
import time


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    total = (total >> 16) + (total & 0xFFFF)
    return ~(total + (total >> 16)) & 0xFFFF


def ping(ip: str) -> int:
    ident = os.getpid() & 0xFFFF
    header = struct.pack("!BBHHH", 8, 0, 0, ident, 1)
    payload = b"nubo-probe"
    packet = struct.pack("!BBHHH", 8, 0, _checksum(header + payload), ident, 1) + payload
    with socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP) as s:
        s.settimeout(1.0)
        s.sendto(packet, (ip, 0))
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:
            try:
                data, addr = s.recvfrom(2048)
            except socket.timeout:
                return 1
            icmp = data[(data[0] & 0x0F) * 4:]
            if addr[0] == ip and icmp[0] == 0 and struct.unpack("!H", icmp[4:6])[0] == ident:
                return 0
    return 1


def connect(ip: str, port: int) -> int:
    try:
        socket.create_connection((ip, port), timeout=1.0).close()
        return 0
    except OSError:
        return 1


def listen(ip: str, port: int) -> int:
    server = socket.create_server((ip, port))
    print("ready", flush=True)
    while True:
        conn, _ = server.accept()
        conn.close()


if __name__ == "__main__":
    what, *args = sys.argv[1:]
    if what == "ping":
        sys.exit(ping(args[0]))
    if what == "connect":
        sys.exit(connect(args[0], int(args[1])))
    sys.exit(listen(args[0], int(args[1])))
