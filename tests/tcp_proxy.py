"""A TCP forwarder the tests can cut: a database "unreachable" without stopping its server.

``TcpProxy(("127.0.0.1", 5432)).start()`` listens on a random port of 127.0.0.1 and
forwards each connection to the target. ``cut()`` resets every open connection and
refuses new ones (accepted and reset at once, as a host whose server is down), until
``restore()``. The real server keeps running for everyone else.
"""
from __future__ import annotations

import socket
import struct
import threading


def _reset(sock: socket.socket) -> None:
    """Close at once, with a RST (SO_LINGER 0) where nothing else is pending: the peer
    sees the connection die. The shutdown wakes a pump blocked reading it (a close
    alone would leave that read, and the peer, waiting)."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()


class TcpProxy:
    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._cut = False
        self._closed = False

    def start(self) -> TcpProxy:
        threading.Thread(target=self._accept, name=f"proxy-{self.port}", daemon=True).start()
        return self

    def cut(self) -> None:
        with self._lock:
            self._cut = True
            socks, self._open = self._open, set()
        for sock in socks:
            _reset(sock)

    def restore(self) -> None:
        with self._lock:
            self._cut = False

    def close(self) -> None:
        self._closed = True
        self.cut()
        self._listener.close()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                refused = self._cut
            if refused:
                _reset(client)
                continue
            try:
                upstream = socket.create_connection(self.target)
            except OSError:
                _reset(client)
                continue
            with self._lock:
                if self._cut:  # cut while connecting
                    _reset(client)
                    _reset(upstream)
                    continue
                self._open |= {client, upstream}
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        with self._lock:
            gone = {source, sink} & self._open
            self._open -= gone
        for sock in gone:
            _reset(sock)
