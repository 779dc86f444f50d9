"""A VM's last poll (LAST_POLL and MONITORING) put into its stored body when it is read.

Monitoring writes a VM's last poll beside the VM (nubo.store.last_poll), never into its
body, so that a round over 20,000 VMs neither rewrites 20,000 bodies nor invalidates
the cached pool listings. Readers splice the poll in: the result is the body the VM
would have had, byte for byte, had the poll been written into it.

Both bodies (the full one of vm.xsd and the short one of vm_pool.xsd) hold one
top-level LAST_POLL (the first one: every element before it is escaped text) and one
top-level MONITORING after it: in the full body before TEMPLATE, in the short one
after it, where only GRAPHICS keys could bear that name, and template values are
always CDATA (skipped). The same splice works on the wire form (XML-escaped UTF-8 bytes), where
cached listings keep the bodies.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T", str, bytes)


@dataclass(frozen=True)
class _Marks(Generic[T]):
    poll_open: T
    poll_close: T
    monitoring: T
    empty_end: T    # "/>" of <MONITORING/>
    open_end: T     # ">"
    close: T
    cdata: T        # "<![CDATA[": template values, whose text may hold anything
    cdata_end: T


def _marks(encode) -> _Marks:  # noqa: ANN001 - str -> str or bytes
    return _Marks(encode("<LAST_POLL>"), encode("</LAST_POLL>"), encode("<MONITORING"),
                  encode("/>"), encode(">"), encode("</MONITORING>"), encode("<![CDATA["),
                  encode("]]>"))


def _wire(text: str) -> bytes:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").encode()


TEXT: _Marks[str] = _marks(lambda s: s)
WIRE: _Marks[bytes] = _marks(_wire)


def spans(body: T, marks: _Marks[T]) -> tuple[int, int, int, int] | None:
    """Where LAST_POLL's value and the MONITORING element lie: (value start, value end,
    element start, element end), or None when the body has no such places.

    Past LAST_POLL, CDATA sections (template values) are skipped, and so is a template
    attribute named MONITORING (its value is CDATA; the element holds elements)."""
    start = body.find(marks.poll_open)
    if start < 0:
        return None
    start += len(marks.poll_open)
    end = body.find(marks.poll_close, start)
    if end < 0:
        return None
    pos = end
    while True:
        element = body.find(marks.monitoring, pos)
        if element < 0:
            return None
        cdata = body.find(marks.cdata, pos, element)
        if cdata >= 0:  # a template value first: its text is no markup
            close = body.find(marks.cdata_end, cdata + len(marks.cdata))
            if close < 0:
                return None
            pos = close + len(marks.cdata_end)
            continue
        rest = element + len(marks.monitoring)
        if body.startswith(marks.empty_end, rest):
            return start, end, element, rest + len(marks.empty_end)
        inside = rest + len(marks.open_end)
        if body.startswith(marks.open_end, rest) and not body.startswith(marks.cdata, inside):
            close = body.find(marks.close, inside)
            if close < 0:
                return None
            return start, end, element, close + len(marks.close)
        pos = rest


def splice(body: T, marks: _Marks[T], last_poll: T, monitoring: T) -> T:
    """``body`` with LAST_POLL's value and the MONITORING element replaced."""
    where = spans(body, marks)
    if where is None:
        return body
    a, b, c, d = where
    return body[:a] + last_poll + body[b:c] + monitoring + body[d:]


def with_poll(body: str, last_poll: int, monitoring: str) -> str:
    """A stored VM body (full or short) as read, with its last poll."""
    return splice(body, TEXT, str(last_poll), monitoring)


def wire_with_poll(wire: bytes, last_poll: int, monitoring: bytes) -> bytes:
    """The same, on a body in wire form (XML-escaped UTF-8), ``monitoring`` escaped alike."""
    return splice(wire, WIRE, str(last_poll).encode(), monitoring)
