"""The dummy driver's I/O loop: one thread, ``select`` on stdin, a heap of delays.

One process must keep up with thousands of actions per second and thousands of
actions waiting out a configured latency at once, so there is no thread per
action: requests are read in whole pipe-fulls, instant ones are answered in
the same pass, delayed ones wait in a heap keyed by their due time, and all
answers of a pass leave in one ``write``.
"""
from __future__ import annotations

import heapq
import itertools
import os
import select
import time
from collections.abc import Callable, Mapping

from nubo.drivers import protocol as p

Handle = Callable[[p.Request], tuple[bool, str]]
#: Seconds between two looks at an action held back (its host is switched down).
HELD_RETRY = 0.05


class Latency:
    """Seconds an action takes: per action name, else the default ("*")."""

    def __init__(self, spec: Mapping[str, float] | None = None) -> None:
        spec = dict(spec or {})
        self.default = float(spec.pop("*", 0.0))
        self.per_action = {k.upper(): float(v) for k, v in spec.items()}

    @classmethod
    def parse(cls, texts: list[str]) -> Latency:
        """From "0.5", "DEPLOY=2", or comma-separated mixes ("0.1,DEPLOY=2")."""
        spec: dict[str, float] = {}
        for text in texts:
            for item in filter(None, (s.strip() for s in text.split(","))):
                name, sep, value = item.rpartition("=")
                seconds = float(value)
                if seconds < 0:
                    raise ValueError(f"latency must not be negative: {item}")
                spec[name.strip().upper() if sep else "*"] = seconds
        return cls(spec)

    def of(self, action: str) -> float:
        return self.per_action.get(action, self.default)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def serve(handle: Handle, latency: Latency, flush: Callable[[], None] = lambda: None,
          infd: int = 0, outfd: int = 1,
          held: Callable[[p.Request], bool] = lambda req: False) -> int:
    """Answer requests until EOF or FINALIZE; returns the exit status.

    ``flush`` runs before each batch of answers is written (the state journal),
    so an answer is never seen for a change that is not yet recorded. A delayed
    action that is ``held`` when due waits (and is looked at again every
    HELD_RETRY seconds); a new one that is held is answered at once (``handle``
    fails it): it never got under way.
    """
    heap: list[tuple[float, int, p.Request]] = []
    seq = itertools.count()
    partial: list[bytes] = []
    out: list[bytes] = []
    eof = False

    def answer(req: p.Request) -> None:
        try:
            ok, info = handle(req)
        except Exception as e:  # a dummy bug must fail the action, not the driver
            ok, info = False, f"dummy driver error: {type(e).__name__}: {e}"
        out.append(p.encode_reply(req.action, ok, req.oid, info))

    while not eof:
        timeout = max(0.0, heap[0][0] - time.monotonic()) if heap else None
        ready, _, _ = select.select([infd], [], [], timeout)
        if ready:
            data = os.read(infd, 1 << 20)
            if not data:
                eof = True  # the core went away: nothing to answer to
                break
            if b"\n" not in data:
                partial.append(data)
                continue
            if partial:
                data = b"".join(partial) + data
                partial.clear()
            lines = data.split(b"\n")
            if lines[-1]:
                partial.append(lines[-1])
            now = time.monotonic()
            for line in lines[:-1]:
                try:
                    msg = p.parse_request(line)
                except p.ProtocolError as e:
                    key = _request_key(line)
                    out.append(p.encode_reply(key[0], False, key[1], f"malformed request: {e}")
                               if key else p.encode_log("E", None, f"malformed request: {e}"))
                    continue
                if isinstance(msg, p.Init):
                    out.append(p.encode_init_reply(True))
                elif isinstance(msg, p.Finalize):
                    eof = True
                    break
                elif msg.action == p.CANCEL:
                    out.append(p.encode_reply(p.CANCEL, _cancel(heap, msg), msg.oid,
                                              "-"))
                else:
                    delay = latency.of(msg.action)
                    if delay > 0 and not held(msg):
                        heapq.heappush(heap, (now + delay, next(seq), msg))
                    else:
                        answer(msg)
        now = time.monotonic()
        while heap and heap[0][0] <= now and not eof:
            req = heapq.heappop(heap)[2]
            if held(req):
                heapq.heappush(heap, (now + HELD_RETRY, next(seq), req))
            else:
                answer(req)
        if out:
            flush()
            try:
                _write_all(outfd, b"".join(out))
            except BrokenPipeError:
                return 1
            out.clear()
    flush()
    return 0


def _cancel(heap: list[tuple[float, int, p.Request]], req: p.Request) -> bool:
    """Drop the oldest pending action the cancel names (payload: its action) for the
    same id; False when there is none (it was answered already)."""
    action = req.payload.decode("ascii", "replace")
    pending = [e for e in heap if e[2].oid == req.oid and e[2].action == action]
    if not pending:
        return False
    heap.remove(min(pending))
    heapq.heapify(heap)
    return True


def _request_key(line: bytes) -> tuple[str, int] | None:
    """(ACTION, ID) of a malformed request, so that it can still be answered."""
    parts = line.split(b" ")
    if len(parts) >= 2 and parts[1].isdigit() and len(parts[1]) < 19:
        try:
            p.check_action(parts[0].decode("ascii"))
            return parts[0].decode("ascii"), int(parts[1])
        except (ValueError, UnicodeDecodeError):
            return None
    return None
