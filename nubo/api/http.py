"""The HTTP front of the XML-RPC API: a Starlette app and its uvicorn runner.

Why it is built this way:

* ``POST /RPC2`` reads the body as a stream and stops at ``max_body_bytes``
  (a declared Content-Length over the limit is refused before reading), so
  no client can make the server buffer an unbounded body.
* Every XML-RPC problem is answered the way every client handles best: HTTP
  200 with a standard fault. A too-large body gets fault -509 ("request body
  exceeds N bytes"), a malformed one -503 ("Call XML not a proper XML-RPC
  call.  <why>", xmlrpc-c's wording). xmlrpc-c itself answers a too-large
  body with a bare HTTP 500 page, which pyone, the Ruby and the Go clients
  only report as "HTTP error 500"; a fault carries the reason to the user.
  uvicorn (httptools) discards whatever body is still in flight after the
  reply, so the client reads the fault instead of a reset connection.
* Parsing and dispatch run in worker threads behind a bounded limiter (32 by
  default): dispatch does blocking database work, and parsing megabytes of
  XML must not stall the event loop that serves everyone else.
* A dispatcher returns the encoded reply; it may raise :class:`wire.Fault`
  for an XML-RPC fault. Anything else it raises is logged with its traceback
  and answered with fault -500 naming the request id, and serving goes on.
* ``GET /metrics`` is Prometheus text from a registry private to the app
  (several apps can live in one process, as in tests). The method label is
  only ever a method the dispatcher knew (unknown ones count as
  ``(unknown)``) and is capped, so clients cannot blow up its cardinality.
* Connections are guarded (api/connections.py): a request must arrive within a
  deadline, idle ones are closed, and one source cannot hold more than its
  share, so idle or trickling sockets cannot exhaust the descriptors.
"""
from __future__ import annotations

import asyncio
import itertools
import logging
import signal
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import anyio
import uvicorn
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from nubo.api import wire
from nubo.api.connections import ConnectionLimits, guarded_protocol

log = logging.getLogger("nubo.api.http")

XML_MEDIA_TYPE = "text/xml"
MAX_METHOD_LABELS = 512          # distinct method labels kept in the metrics
_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


@dataclass(frozen=True, slots=True)
class RequestInfo:
    """What the dispatcher may know about the HTTP request behind a call."""

    client_host: str | None      # peer address (X-Forwarded-For only from a trusted proxy)
    client_port: int | None
    request_id: int              # unique per app, also named in internal-error faults


Dispatch = Callable[[str, list[Any], RequestInfo], bytes]


class _Metrics:
    """Request counters, latency histogram and in-flight gauge of one app."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("nubo_api_requests", "XML-RPC requests by method and outcome",
                                ["method", "outcome"], registry=self.registry)
        self.latency = Histogram("nubo_api_request_duration_seconds",
                                 "Time from request start to reply, by method", ["method"],
                                 buckets=_BUCKETS, registry=self.registry)
        self.in_flight = Gauge("nubo_api_requests_in_flight", "XML-RPC requests being served",
                               registry=self.registry)
        self.reply_bytes = Counter("nubo_api_reply_bytes", "Bytes of XML-RPC replies sent",
                                   registry=self.registry)
        self._methods: set[str] = set()
        self._lock = threading.Lock()

    def label(self, method: str) -> str:
        """The method itself while the label set is small, else ``(other)``."""
        if method in self._methods:
            return method
        with self._lock:
            if len(self._methods) < MAX_METHOD_LABELS and len(method) <= 128:
                self._methods.add(method)
                return method
        return "(other)"

    def observe(self, method: str, outcome: str, seconds: float, size: int) -> None:
        self.requests.labels(method, outcome).inc()
        self.latency.labels(method).observe(seconds)
        self.reply_bytes.inc(size)


def _outcome(reply: bytes) -> tuple[str, int | None]:
    """``success``/``failure`` (oned's [false, ...]) or ``fault``, with the fault code."""
    code = wire.fault_code(reply)
    if code is not None:
        return "fault", code
    return ("failure" if wire.is_failure_reply(reply) else "success"), None


def build_app(dispatch: Dispatch, *, path: str = "/RPC2",
              max_body_bytes: int = 8 * 1024 * 1024,
              metrics: Callable[[], str] | None = None,
              max_threads: int = 32) -> Starlette:
    """The ASGI app serving XML-RPC on ``path`` plus ``/metrics`` and ``/healthz``."""
    stats = _Metrics()
    limiter = anyio.CapacityLimiter(max_threads)
    ids = itertools.count(1)
    too_large = wire.encode_fault(wire.LIMIT_EXCEEDED_ERROR,
                                  f"request body exceeds {max_body_bytes} bytes")

    def serve_call(body: bytes, info: RequestInfo) -> tuple[bytes, str, str]:
        """Parse and dispatch one call (in a worker thread): reply, label, outcome."""
        try:
            method, params = wire.parse_call(body)
        except wire.WireError as e:
            log.info("malformed call from %s (request %d): %s", info.client_host,
                     info.request_id, e)
            return (wire.encode_fault(e.code, f"Call XML not a proper XML-RPC call.  {e}"),
                    "(malformed)", "malformed")
        try:
            try:
                reply = dispatch(method, params, info)
            except wire.Fault as f:
                reply = wire.encode_fault(f.code, f.message)
            if isinstance(reply, (bytearray, memoryview)):
                reply = bytes(reply)
            elif not isinstance(reply, bytes):
                raise TypeError(f"dispatch returned {type(reply).__name__}, not bytes")
        except Exception:
            log.exception("internal error in %s (request %d from %s)",
                          method, info.request_id, info.client_host)
            return (wire.encode_fault(wire.INTERNAL_ERROR,
                                      f"Internal server error (request {info.request_id})"),
                    stats.label(method), "error")
        outcome, code = _outcome(reply)
        label = "(unknown)" if code == wire.NO_SUCH_METHOD_ERROR else stats.label(method)
        return reply, label, outcome

    async def rpc(request: Request) -> Response:
        if request.method == "OPTIONS":
            return Response(status_code=200, headers={"Allow": "POST"})
        start = time.perf_counter()
        client = request.client
        info = RequestInfo(client.host if client else None, client.port if client else None,
                           next(ids))
        stats.in_flight.inc()
        try:
            body = await _read_body(request, max_body_bytes)
            if body is None:
                log.info("request %d from %s: body over %d bytes", info.request_id,
                         info.client_host, max_body_bytes)
                reply, label, outcome = too_large, "(none)", "too_large"
            else:
                reply, label, outcome = await anyio.to_thread.run_sync(
                    serve_call, body, info, limiter=limiter)
        except ClientDisconnect:
            reply, label, outcome = b"", "(none)", "disconnected"
        finally:
            stats.in_flight.dec()
        stats.observe(label, outcome, time.perf_counter() - start, len(reply))
        return Response(reply, media_type=XML_MEDIA_TYPE)

    async def metrics_text(request: Request) -> Response:
        text = generate_latest(stats.registry).decode()
        if metrics is not None:
            try:
                extra = await anyio.to_thread.run_sync(metrics, limiter=limiter)
                text += extra if extra.endswith("\n") or not extra else extra + "\n"
            except Exception:
                log.exception("the extra metrics callback failed")
        return Response(text, media_type=CONTENT_TYPE_LATEST)

    async def healthz(request: Request) -> Response:
        return PlainTextResponse("ok")

    app = Starlette(routes=[
        Route(path, rpc, methods=["POST", "OPTIONS"]),
        Route("/metrics", metrics_text, methods=["GET"]),
        Route("/healthz", healthz, methods=["GET"]),
    ])
    app.state.metrics_registry = stats.registry
    return app


async def _read_body(request: Request, limit: int) -> bytes | None:
    """The request body, or None as soon as it is known to exceed ``limit``."""
    declared = request.headers.get("content-length", "")
    if declared.isascii() and declared.isdigit() and int(declared) > limit:
        return None
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            return None
    return bytes(body)


# ----------------------------------------------------------------- serving

class ApiServer(uvicorn.Server):
    """A uvicorn server on a socket bound up front, so port 0 has a known port."""

    def __init__(self, config: uvicorn.Config, sock: socket.socket,
                 on_started: Callable[[int], None] | None = None,
                 on_stopping: Callable[[], None] | None = None) -> None:
        super().__init__(config)
        self.sock = sock
        self.port: int = sock.getsockname()[1]
        self._on_started = on_started
        self._on_stopping = on_stopping
        self._thread: threading.Thread | None = None

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started:
            log.info("XML-RPC API listening on %s port %d", self.config.host, self.port)
            if self._on_started is not None:
                self._on_started(self.port)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        # API clients of the core's own (the scheduler child) stop first, while the API
        # still answers them, rather than failing their last calls against a closed port.
        if self._on_stopping is not None:
            await asyncio.to_thread(self._on_stopping)
        await super().shutdown(sockets=sockets)

    def serve_forever(self) -> None:
        """Run until told to stop (should_exit, or SIGINT/SIGTERM in the main thread)."""
        self.run(sockets=[self.sock])

    def stop(self, timeout: float = 15.0) -> None:
        """Ask for a graceful shutdown and, when serving in a thread, wait for it."""
        self.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():        # connections did not close in time
                self.force_exit = True
                self._thread.join(timeout)
            if self._thread.is_alive():
                raise RuntimeError("the API server thread did not stop")
        self.sock.close()


def _bind(host: str, port: int) -> socket.socket:
    family, kind, proto, _, addr = socket.getaddrinfo(
        host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(addr)
    except OSError:
        sock.close()
        raise
    return sock


def make_server(app: Any, host: str, port: int, *, log_config: Any = None,
                on_started: Callable[[int], None] | None = None,
                on_stopping: Callable[[], None] | None = None,
                limits: ConnectionLimits | None = None,
                **uvicorn_options: Any) -> ApiServer:
    """Bind ``host:port`` now (OSError if taken) and configure uvicorn to serve ``app``
    with the connection ``limits`` (the defaults if None)."""
    limits = limits or ConnectionLimits()
    options: dict[str, Any] = dict(loop="auto", http=guarded_protocol(limits), ws="none",
                                   lifespan="auto", server_header=False, access_log=False,
                                   timeout_graceful_shutdown=30,
                                   timeout_keep_alive=limits.keep_alive_timeout,
                                   # X-Forwarded-For only from a proxy the operator trusts
                                   # (uvicorn's default trusts any local client).
                                   proxy_headers=False)
    options.update(uvicorn_options)
    sock = _bind(host, port)
    config = uvicorn.Config(app, host=host, port=sock.getsockname()[1],
                            log_config=log_config, **options)
    return ApiServer(config, sock, on_started, on_stopping)


def run_server(app: Any, host: str, port: int, *, log_config: Any = None,
               on_started: Callable[[int], None] | None = None,
               on_stopping: Callable[[], None] | None = None,
               **uvicorn_options: Any) -> None:
    """Serve ``app`` until SIGINT or SIGTERM, then shut down gracefully and return.

    ``on_started(port)`` is called once the server accepts connections, with
    the real port (useful with port 0); ``on_stopping()`` when it is told to stop,
    before it stops answering. Extra keyword arguments go to
    ``uvicorn.Config`` (e.g. ``proxy_headers``, ``access_log=True``).
    """
    server = make_server(app, host, port, log_config=log_config, on_started=on_started,
                         on_stopping=on_stopping, **uvicorn_options)
    in_main = threading.current_thread() is threading.main_thread()
    # uvicorn re-raises the signal it caught once it has shut down; a quiet
    # SIGTERM handler underneath makes that a normal return for the caller.
    previous = signal.signal(signal.SIGTERM, lambda *_: None) if in_main else None
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        if in_main and previous is not None:
            signal.signal(signal.SIGTERM, previous)
        server.sock.close()
    log.info("XML-RPC API stopped")


def start_in_thread(app: Any, host: str = "127.0.0.1", port: int = 0,
                    timeout: float = 30.0, **uvicorn_options: Any) -> tuple[ApiServer, int]:
    """Serve ``app`` from a daemon thread (for tests); returns once it accepts.

    Stop it with ``server.stop()``.
    """
    started = threading.Event()
    server = make_server(app, host, port, on_started=lambda _port: started.set(),
                         **uvicorn_options)
    thread = threading.Thread(target=server.serve_forever, name=f"api-{server.port}",
                              daemon=True)
    server._thread = thread
    thread.start()
    deadline = time.monotonic() + timeout
    while not started.wait(0.05):
        if not thread.is_alive() or time.monotonic() > deadline:
            if thread.is_alive():
                server.stop(timeout=1.0)
            else:
                server.sock.close()
            raise RuntimeError("the API server did not start")
    return server, server.port
