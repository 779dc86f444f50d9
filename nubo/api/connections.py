"""Connection limits of the HTTP front: slow, idle and excess connections are closed.

Why: every open connection holds a file descriptor. uvicorn holds a connection
that never sends a complete request forever (its keep-alive timer only runs
after a response, and any byte cancels it), so a few thousand idle or
trickling sockets ("slowloris") used to exhaust the core's descriptors and
every legitimate call failed. Here:

* A request, headers and body, must arrive in full within ``request_timeout``
  seconds of the connection's opening or of its first byte. A connection
  whose request is being served (the body is in, the reply is not out yet:
  a long ``nubo.sched.wait``, a slow call) is never timed out.
* Between requests uvicorn's keep-alive timer closes a connection idle for
  ``keep_alive_timeout`` seconds.
* One source address holds at most ``max_per_source`` connections, and the
  server at most ``max_total`` (below the descriptor limit). Over either cap,
  the oldest connection of that source (or of all) not being served is closed
  at once to make room, as nginx reuses idle keep-alive connections; only when
  every one is being served is the newcomer refused. So a flood from one
  address only ever churns its own sockets, and a real client, even from the
  same address, still gets in.

All of it runs on the event loop's thread: no locks.
"""
from __future__ import annotations

import asyncio
import logging
import resource
from collections import Counter
from dataclasses import dataclass
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

log = logging.getLogger("nubo.api.http")

FD_RESERVE = 256        # descriptors left for the database, drivers, logs and hooks
MIN_CONNECTIONS = 64    # the global cap never goes below this
LOG_EVERY = 60.0        # seconds between two summaries of closed connections


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    """docs/configuration.md: the ``api_*timeout`` and ``api_*connections*`` keys."""

    request_timeout: float = 30.0     # a request (headers and body) must arrive within this
    keep_alive_timeout: float = 5.0   # an idle connection between requests is closed after this
    max_per_source: int = 256         # connections from one address
    max_total: int = 0                # connections in all; 0: the descriptor limit minus a reserve

    def total(self) -> int:
        if self.max_total > 0:
            return self.max_total
        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft == resource.RLIM_INFINITY:
            return 1 << 20
        return max(MIN_CONNECTIONS, soft - FD_RESERVE)


def raise_fd_limit() -> int:
    """Raise the soft RLIMIT_NOFILE to the hard limit (what operators expect of a
    server); returns the soft limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError) as e:  # e.g. above fs.nr_open
            log.warning("could not raise the open-file limit from %d to %d: %s", soft, target, e)
    return soft


class ConnectionGuard:
    """The open connections of one server, by source and in age order."""

    def __init__(self, limits: ConnectionLimits) -> None:
        self.limits = limits
        self.max_total = limits.total()
        self.by_source: dict[str, dict[GuardedHttp, None]] = {}
        self.all: dict[GuardedHttp, None] = {}   # dicts as ordered sets: oldest first
        self.closed: Counter[str] = Counter()
        self.last_source = ""
        self._summary: asyncio.TimerHandle | None = None

    def admit(self, conn: GuardedHttp) -> bool:
        """Make room for ``conn`` (closing the oldest idle one over a cap) and count it;
        False if every connection in the way is being served."""
        mine = self.by_source.get(conn.source, {})
        if len(mine) >= self.limits.max_per_source and not self._evict(mine, "over the "
                                                                        "per-source cap"):
            self.note("refused (per-source cap)", conn.source)
            return False
        if len(self.all) >= self.max_total and not self._evict(self.all, "over the total cap"):
            self.note("refused (total cap)", conn.source)
            return False
        self.by_source.setdefault(conn.source, {})[conn] = None
        self.all[conn] = None
        return True

    def release(self, conn: GuardedHttp) -> None:
        self.all.pop(conn, None)
        mine = self.by_source.get(conn.source)
        if mine is not None:
            mine.pop(conn, None)
            if not mine:
                del self.by_source[conn.source]

    def _evict(self, group: dict[GuardedHttp, None], why: str) -> bool:
        for victim in group:
            if not victim.serving:
                self.release(victim)
                victim.close(f"closed {why}")
                return True
        return False

    def note(self, what: str, source: str) -> None:
        """Count a closed connection: the first of a burst is logged at once, the rest
        in a summary a minute later (one line a minute however long a flood lasts)."""
        self.closed[what] += 1
        self.last_source = source or "?"
        if self._summary is None:
            self._flush()

    def _flush(self) -> None:
        if not self.closed:
            self._summary = None
            return
        summary = ", ".join(f"{n} {what}" for what, n in sorted(self.closed.items()))
        log.warning("HTTP connections closed: %s (latest from %s; %d open)", summary,
                    self.last_source, len(self.all))
        self.closed.clear()
        self._summary = asyncio.get_running_loop().call_later(LOG_EVERY, self._flush)


class GuardedHttp(HttpToolsProtocol):
    """uvicorn's httptools protocol with a request deadline and the guard's caps.

    Subclassed per server (:func:`guarded_protocol`) so that ``guard`` is that
    server's own.
    """

    guard: ConnectionGuard

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.source = ""
        self.admitted = False
        self.deadline: asyncio.TimerHandle | None = None

    @property
    def serving(self) -> bool:
        """A request is in (body complete) and its reply is not finished."""
        cycle = self.cycle
        return cycle is not None and not cycle.response_complete and not cycle.more_body

    def close(self, why: str) -> None:
        self.guard.note(why, self.source)
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        peer = transport.get_extra_info("peername")
        self.source = str(peer[0]) if isinstance(peer, (tuple, list)) and peer else ""
        if not self.guard.admit(self):
            transport.close()
            return
        self.admitted = True
        super().connection_made(transport)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        if self.admitted:
            self.admitted = False
            self.guard.release(self)
            super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if not self.admitted:
            return
        if self.deadline is None:
            self._arm()
        super().data_received(data)

    # httptools parser callbacks
    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self.deadline is None:  # a pipelined request after a complete one
            self._arm()

    def on_message_complete(self) -> None:
        self._disarm()
        super().on_message_complete()

    # the request deadline
    def _arm(self) -> None:
        self.deadline = self.loop.call_later(self.guard.limits.request_timeout, self._expire)

    def _disarm(self) -> None:
        if self.deadline is not None:
            self.deadline.cancel()
            self.deadline = None

    def _expire(self) -> None:
        self.deadline = None
        if self.serving:  # a pipelined request waits behind one being served
            self._arm()
        else:
            self.close(f"without a complete request within {self.guard.limits.request_timeout:g} s")


def guarded_protocol(limits: ConnectionLimits) -> type[GuardedHttp]:
    """A protocol class for one server (uvicorn's ``http`` option), with its own guard."""
    return type("GuardedHttp", (GuardedHttp,), {"guard": ConnectionGuard(limits)})
