"""A guest pinged without pause, every echo reply's arrival kept, so a test can tell
how long a live migration left the guest unreachable (its downtime) and how many
echo requests went unanswered meanwhile.

Its own ICMP loop on a raw socket (root) rather than ping(8): this machine may have
no iputils ping (busybox's has no sub-second interval), and reply times must be taken
when the reply arrives, not when a pipe's buffer is flushed. ``PingWatch`` is the I/O
(a sender and a receiver thread); ``outage`` the arithmetic, pure.
"""
from __future__ import annotations

import os
import socket
import struct
import threading
import time
from dataclasses import dataclass

ECHO_REQUEST, ECHO_REPLY = 8, 0


@dataclass(frozen=True)
class Outage:
    """What a window of time looked like from the pinging side."""

    sent: int        # echo requests sent in the window
    answered: int    # of which answered
    lost: int        # of which unanswered though a later one was (replies come in order)
    longest_gap: float  # seconds: the longest stretch without a reply (window edges count)

    def __str__(self) -> str:
        return (f"downtime {self.longest_gap:.2f} s (longest gap between replies), "
                f"{self.lost} of {self.sent} echo requests lost")


def outage(sent: dict[int, float], replies: dict[int, float], start: float,
           end: float) -> Outage:
    """The window [start, end] of a run where request ``n`` went at ``sent[n]`` and its
    reply (if any) came at ``replies[n]`` (times of one clock)."""
    ours = sorted(n for n, at in sent.items() if start <= at <= end)
    answered = [n for n in ours if n in replies]
    last = answered[-1] if answered else None
    lost = sum(1 for n in ours if n not in replies and last is not None and n < last)
    arrivals = sorted(at for at in replies.values() if start <= at <= end)
    edges = [start, *arrivals, end]
    gap = max(b - a for a, b in zip(edges, edges[1:]))
    return Outage(len(ours), len(answered), lost, gap)


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return ~total & 0xFFFF


def echo_request(ident: int, seq: int, payload: bytes = b"nubo-ping-watch".ljust(48, b".")
                 ) -> bytes:
    header = struct.pack("!BBHHH", ECHO_REQUEST, 0, 0, ident, seq)
    return struct.pack("!BBHHH", ECHO_REQUEST, 0, _checksum(header + payload), ident,
                       seq) + payload


class PingWatch:
    """Echo requests to ``address`` every ``interval`` seconds while open (a context
    manager); ``sent`` and ``replies`` map a request's number to time.monotonic()."""

    def __init__(self, address: str, interval: float = 0.05) -> None:
        self.address, self.interval = address, interval
        self.ident = (os.getpid() ^ id(self)) & 0xFFFF  # tells our replies from others'
        self.sent: dict[int, float] = {}
        self.replies: dict[int, float] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
        self._sock.settimeout(0.2)
        self._threads = [threading.Thread(target=f, daemon=True, name=f"ping-watch-{f.__name__}")
                         for f in (self._send, self._receive)]

    def __enter__(self) -> PingWatch:
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(5)
        self._sock.close()

    def _send(self) -> None:
        n, due = 0, time.monotonic()
        while not self._stop.is_set():
            with self._lock:
                self.sent[n] = time.monotonic()
            try:
                self._sock.sendto(echo_request(self.ident, n & 0xFFFF), (self.address, 0))
            except OSError:
                pass  # no route for a moment: a lost request, counted as one
            n += 1
            due += self.interval
            self._stop.wait(max(0.0, due - time.monotonic()))

    def _receive(self) -> None:
        while not self._stop.is_set():
            try:
                packet, (source, _) = self._sock.recvfrom(2048)
            except (socket.timeout, OSError):
                continue
            at = time.monotonic()
            icmp = packet[(packet[0] & 0x0F) * 4:]
            if source != self.address or len(icmp) < 8:
                continue
            kind, _, _, ident, seq = struct.unpack("!BBHHH", icmp[:8])
            if kind != ECHO_REPLY or ident != self.ident:
                continue
            with self._lock:
                last = max(self.sent, default=0)
                n = last - ((last - seq) & 0xFFFF)  # the latest request of that seq
                self.replies.setdefault(n, at)

    def last_reply(self) -> float | None:
        with self._lock:
            return max(self.replies.values(), default=None)

    def reply_after(self, moment: float, timeout: float) -> float | None:
        """The time of the first reply that came after ``moment``, waiting up to
        ``timeout`` seconds for one; None if none came."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                later = [at for at in self.replies.values() if at > moment]
            if later:
                return min(later)
            if time.monotonic() > deadline:
                return None
            time.sleep(self.interval)

    def outage(self, start: float, end: float) -> Outage:
        with self._lock:
            return outage(dict(self.sent), dict(self.replies), start, end)
