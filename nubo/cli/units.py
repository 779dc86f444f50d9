"""Numbers for people: memory sizes, durations, dates, permission bits (pure)."""
from __future__ import annotations

import time

_UNITS = "KMGTPE"


def size(value: float | str, unit: str = "K") -> str:
    """``524288`` (KB) -> ``512M``; ``1536`` (MB, unit="M") -> ``1.5G``; as onevm prints them."""
    try:
        amount = float(value)
    except (TypeError, ValueError):
        return str(value) if value else "-"
    i = _UNITS.index(unit)
    while abs(amount) >= 1024 and i < len(_UNITS) - 1:
        amount /= 1024
        i += 1
    text = f"{amount:.1f}".rstrip("0").rstrip(".")
    return f"{text}{_UNITS[i]}"


def duration(seconds: float) -> str:
    """``3725`` -> ``0d 01h02``: days, hours and minutes, as OpenNebula's TIME column."""
    seconds = max(0, int(seconds))
    days, rest = divmod(seconds, 86400)
    return f"{days}d {rest // 3600:02d}h{rest % 3600 // 60:02d}"


def lifetime(start: str | int, end: str | int = 0, now: float | None = None) -> str:
    """How long something has lived: from ``start`` to ``end`` (or now), epoch seconds."""
    s, e = int(start or 0), int(end or 0)
    if s <= 0:
        return "-"
    return duration((e if e > 0 else (time.time() if now is None else now)) - s)


def date(epoch: str | int) -> str:
    """Epoch seconds as a local date and time; ``-`` for 0 (not happened yet)."""
    value = int(epoch or 0)
    if value <= 0:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(value))


def rights(u: str, m: str, a: str) -> str:
    """Permission bits as ``um-``."""
    return "".join(ch if bit == "1" else "-" for ch, bit in zip("uma", (u, m, a)))
