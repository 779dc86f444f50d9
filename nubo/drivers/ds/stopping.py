"""Stopping an image copy under way (DRIVER_CANCEL).

A copy (CP, CLONE) holds a :class:`Stop` while it runs: it checks it between chunks,
and the qemu-img it runs is killed through it, so a cancel takes effect within a
chunk. The copy then fails with "copy cancelled" and ``files.writing`` removes its
``.part`` file, as for any failed copy. :class:`Running` finds an image's copy by the
image's id (the driver runs one image's actions one after the other, so there is at
most one).
"""
from __future__ import annotations

import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from nubo.drivers.ds.files import CopyError
from nubo.drivers.storage.qemu_img import QemuImgError

CANCELLED = "copy cancelled"


class Cancelled(CopyError):
    """The copy was stopped by a DRIVER_CANCEL."""


class Stop:
    """One copy's switch: set by the cancel, checked by the copy."""

    def __init__(self) -> None:
        self._set = threading.Event()
        self._lock = threading.Lock()
        self._proc: subprocess.Popen | None = None

    def set(self) -> None:
        with self._lock:
            self._set.set()
            if self._proc is not None:
                self._proc.kill()

    @property
    def is_set(self) -> bool:
        return self._set.is_set()

    def check(self) -> None:
        """Raise :class:`Cancelled` once the copy was asked to stop."""
        if self._set.is_set():
            raise Cancelled(CANCELLED)

    def run(self, argv: list[str]) -> None:
        """Run a command (qemu-img) that the cancel may kill; its stderr in the error."""
        with self._lock:
            self.check()
            try:
                proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        text=True)
            except FileNotFoundError:
                raise QemuImgError(f"{argv[0]} is not installed") from None
            self._proc = proc
        try:
            out, err = proc.communicate()
        finally:
            with self._lock:
                self._proc = None
        self.check()
        if proc.returncode != 0:
            message = (err or out).strip().replace("\n", " ")
            raise QemuImgError(message or f"{' '.join(argv[:2])} failed ({proc.returncode})")


class Running:
    """The copies under way, by image id."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._copies: dict[int, Stop] = {}

    @contextmanager
    def copy(self, oid: int) -> Iterator[Stop]:
        stop = Stop()
        with self._lock:
            self._copies[oid] = stop
        try:
            yield stop
        finally:
            with self._lock:
                if self._copies.get(oid) is stop:
                    del self._copies[oid]

    def cancel(self, oid: int) -> bool:
        """Stop image ``oid``'s copy; False if none is under way."""
        with self._lock:
            stop = self._copies.get(oid)
        if stop is None:
            return False
        stop.set()
        return True
