"""Raw client sockets for the connection-limit tests: many of them, from chosen sources."""
from __future__ import annotations

import select
import socket


def connect(port: int, source: str = "127.0.0.1", host: str = "127.0.0.1") -> socket.socket:
    """A TCP connection to ``host:port`` from ``source`` (any 127.x.y.z is this machine),
    so that tests can play several client addresses."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.settimeout(10)
        sock.bind((source, 0))
        sock.connect((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def closed_by_peer(socks: list[socket.socket]) -> set[socket.socket]:
    """Those of ``socks`` the server has closed (EOF or reset), without blocking.

    poll, not select: a test may hold more than FD_SETSIZE (1024) sockets.
    """
    poller = select.poll()
    by_fd = {s.fileno(): s for s in socks}
    for fd in by_fd:
        poller.register(fd, select.POLLIN | select.POLLHUP | select.POLLERR)
    closed: set[socket.socket] = set()
    for fd, _ in poller.poll(0):
        sock = by_fd[fd]
        try:
            if sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b"":
                closed.add(sock)
        except BlockingIOError:
            pass
        except OSError:  # reset
            closed.add(sock)
    return closed
