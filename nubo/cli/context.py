"""What a running verb has at hand: the connection, name resolution and output."""
from __future__ import annotations

import argparse
import os
import shutil
import sys
from functools import cached_property
from typing import TextIO

from nubo.cli.connection import Connection, settings_from
from nubo.cli.resolve import Resolver


class Context:
    """Output goes to stdout (data only) or stderr (messages, progress), never mixed."""

    def __init__(self, args: argparse.Namespace, *, classic: bool = False,
                 stdout: TextIO | None = None, stderr: TextIO | None = None) -> None:
        self.args = args
        self.classic = classic
        self.stdout = stdout or sys.stdout
        self.stderr = stderr or sys.stderr

    @cached_property
    def conn(self) -> Connection:
        a = self.args
        return Connection(settings_from(getattr(a, "conn_endpoint", None),
                                        getattr(a, "conn_user", None),
                                        getattr(a, "conn_password", None)))

    @cached_property
    def resolve(self) -> Resolver:
        return Resolver(self.conn)

    def out(self, text: str) -> None:
        self.stdout.write(text if text.endswith("\n") or not text else text + "\n")
        self.stdout.flush()

    def note(self, text: str) -> None:
        """A message for the operator (stderr), shown with --verbose."""
        if getattr(self.args, "verbose", False):
            self.stderr.write(text.rstrip("\n") + "\n")

    def created(self, oid: int) -> None:
        """The id of a new object: bare for scripts, ``ID: n`` as OpenNebula's tools print it."""
        self.out(f"ID: {oid}" if self.classic else str(oid))

    @property
    def tty(self) -> bool:
        return self.stdout.isatty()

    @property
    def colour(self) -> bool:
        return self.tty and not os.environ.get("NO_COLOR") and os.environ.get("TERM") != "dumb"

    @property
    def width(self) -> int | None:
        """The terminal's width when there is one (or COLUMNS says), else no limit."""
        if self.tty or os.environ.get("COLUMNS"):
            return shutil.get_terminal_size((100, 24)).columns
        return None
