"""The dummy's per-host "down" switch: a host cut off from its driver, VMs still running.

A real host that loses its network (or whose management daemon hangs) keeps
running its VMs while the front-end can no longer reach it: probes fail, new
actions fail, and an action already under way finishes only when the host is
reachable again (its answer arrives late). The dummy simulates that for the
hosts named in a file (``--down FILE``, one name a line; the file missing or
empty means every host is up), so that tests and operators can cut a host off
and bring it back with ``echo NAME >> FILE`` and an edit of the file. A line
``NAME off`` is a host powered off (what a fence command does): unreachable too,
and its VMs are gone (dropped as soon as the driver notices, at its next action);
it comes back empty. The file is read again when it changes, looked at no more
than every ``RECHECK`` seconds so that a busy driver pays nothing for the switch.
"""
from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

#: Seconds between two looks at the file (a switch takes effect within this delay).
RECHECK = 0.05


class DownHosts:
    """The names of the hosts switched down; ``host in down`` is the question."""

    def __init__(self, path: Path | None,
                 powered_off: Callable[[str], None] = lambda host: None) -> None:
        self.path = path
        self.powered_off = powered_off  # called once for each host switched off
        self._names: frozenset[str] = frozenset()
        self._off: frozenset[str] = frozenset()
        self._stamp: tuple[int, int, int] | None = None
        self._checked = float("-inf")

    def __contains__(self, host: object) -> bool:
        if self.path is None or not isinstance(host, str):
            return False
        now = time.monotonic()
        if now - self._checked >= RECHECK:
            self._checked = now
            self._reload()
        return host in self._names

    def _reload(self) -> None:
        assert self.path is not None
        try:
            st = os.stat(self.path)
            stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
        except FileNotFoundError:
            stamp = None
        if stamp == self._stamp:
            return
        self._stamp = stamp
        try:
            text = self.path.read_text() if stamp else ""
        except FileNotFoundError:
            text = ""
        entries = [line.split() for line in text.splitlines() if line.strip()]
        self._names = frozenset(words[0] for words in entries)
        off = frozenset(words[0] for words in entries if words[1:2] == ["off"])
        for host in sorted(off - self._off):
            self.powered_off(host)
        self._off = off
