"""Repeating a view: ``--watch`` on listings and ``nubo top``."""
from __future__ import annotations

import time
from collections.abc import Callable

from nubo.cli.context import Context

_CLEAR = "\x1b[H\x1b[2J"


def watch(ctx: Context, frame: Callable[[], str], delay: float, count: int | None) -> None:
    """Print ``frame()`` every ``delay`` seconds (``count`` times, or until Ctrl-C).

    On a terminal each frame replaces the last; into a pipe frames follow each
    other, separated by a blank line, so a log of them stays readable.
    """
    shown = 0
    try:
        while count is None or shown < count:
            body = frame()
            if ctx.tty:
                stamp = time.strftime("%H:%M:%S")
                ctx.out(f"{_CLEAR}every {delay:g}s, {stamp} (Ctrl-C to stop)\n\n{body}")
            else:
                ctx.out(("\n" if shown else "") + body)
            shown += 1
            if count is None or shown < count:
                time.sleep(delay)  # a refresh interval, not a wait for a condition
    except KeyboardInterrupt:
        pass
