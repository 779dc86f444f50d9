"""The serve loop of drivers whose actions take real time (storage, transfers, hypervisors).

Each action runs on a worker thread so a copy of gigabytes or a guest that takes a
minute to shut down never holds up another object's action; actions of one object
(an image, a VM) can be kept in the order they came. Answers are written whole, one
line at a time, as each finishes. The dummy driver has its own single-threaded loop
(nubo/drivers/dummy/loop.py), built for thousands of instant actions a second.
"""
from __future__ import annotations

import os
import threading
from collections.abc import Callable, Hashable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import BinaryIO

from nubo.drivers import protocol as p

#: Runs one action: (success, INFO). ``log`` sends a LOG line about it.
Handler = Callable[[p.Request, Callable[[str, str], None]], tuple[bool, str]]


class LineWriter:
    """Serialised whole-line writes to the core (two answers never share a line)."""

    def __init__(self, out: BinaryIO) -> None:
        self._out = out
        self._lock = threading.Lock()

    def __call__(self, line: bytes) -> None:
        with self._lock:
            self._out.write(line)
            self._out.flush()


def protocol_pipes() -> tuple[BinaryIO, BinaryIO]:
    """The core's pipes, taken off fds 0 and 1, which now lead to /dev/null and stderr:
    a command the driver runs (ssh, qemu-img, ip...) inherits them, and one that read
    stdin would swallow the core's next requests, one that wrote stdout would break
    the protocol."""
    proto_in, proto_out = os.dup(0), os.dup(1)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    os.dup2(2, 1)
    return os.fdopen(proto_in, "rb"), os.fdopen(proto_out, "wb")


def serve(handle: Handler, stdin: BinaryIO, stdout: BinaryIO, *, name: str,
          workers: int = 8, order_key: Callable[[p.Request], Hashable | None] = lambda r: None,
          cancel: Callable[[p.Request], tuple[bool, str]] | None = None,
          init_info: str = "", exit_at_once: bool = False) -> int:
    """Answer requests until FINALIZE or end of input; returns the exit status.

    Requests with the same non-None ``order_key`` run one after the other in the order
    they came; others run as soon as a worker is free. ``cancel`` answers a
    DRIVER_CANCEL (default: FAILURE, nothing stopped). A handler that raises fails its
    action with the exception's name, never the driver. ``exit_at_once`` leaves actions
    under way behind at the end (the datastore driver: a half-written copy stays under
    its temporary name); otherwise they finish and are answered first.
    """
    write = LineWriter(stdout)

    def answer(req: p.Request) -> None:
        def log(level: str, message: str) -> None:
            write(p.encode_log(level, req.oid, message))
        try:
            ok, info = handle(req, log)
        except Exception as e:  # a bug must fail the action, not the driver
            ok, info = False, f"{name} driver error: {type(e).__name__}: {e}"
        write(p.encode_reply(req.action, ok, req.oid, info))

    last: dict[Hashable, Future] = {}

    def after(req: p.Request, before: Future | None) -> None:
        if before is not None:
            before.result()
        answer(req)

    pool = ThreadPoolExecutor(max(1, workers), thread_name_prefix=name)
    for line in stdin:
        try:
            msg = p.parse_request(line)
        except p.ProtocolError as e:
            write(p.encode_log("E", None, f"malformed request: {e}"))
            continue
        if isinstance(msg, p.Init):
            write(p.encode_init_reply(True, init_info))
        elif isinstance(msg, p.Finalize):
            break
        elif msg.action == p.CANCEL:
            ok, info = cancel(msg) if cancel else (False, "actions under way are not stopped")
            write(p.encode_reply(p.CANCEL, ok, msg.oid, info))
        else:
            key = order_key(msg)
            if key is None:
                pool.submit(answer, msg)
                continue
            before = last.get(key)
            last[key] = pool.submit(after, msg, before if before is not None
                                    and not before.done() else None)
            if len(last) > 4096:  # forget the finished ones now and then
                last = {k: f for k, f in last.items() if not f.done()}
    if exit_at_once:
        with write._lock:
            stdout.flush()
            os._exit(0)
    pool.shutdown(wait=True)
    return 0
