"""Tables for people and for spreadsheets: columns, filters, sorting, fitting the terminal.

A listing is a list of XML elements (one per object) and a list of
:class:`Column`; the options are OpenNebula's (``--list``, ``--filter``,
``--csv``, ``--no-header``) plus ``--sort``. Pure: the caller decides the
width and whether to colour.
"""
from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from lxml import etree

from nubo.cli.error_output import UsageError

Element = etree._Element

COLOURS = {"green": "32", "yellow": "33", "red": "31", "dim": "2", "bold": "1"}
_OPS = ("<=", ">=", "!=", "=", "<", ">", "~")
_FILTER = re.compile(r"\s*([A-Za-z_][\w ]*?)\s*(<=|>=|!=|=|<|>|~)(.*)\Z")
_NUMBER = re.compile(r"\s*(-?\d+(?:\.\d+)?)\s*([KMGTPE]?)B?\s*\Z", re.I)
ELLIPSIS = "…"


@dataclass(frozen=True)
class Column:
    """One column: its header, its cell text and the value it sorts and compares by.

    ``key`` defaults to the cell text (a number when it is one); sizes key in KB, so
    that ``--filter MEM>1G`` compares like with like; ``shrink``
    columns are cut to fit the terminal; ``hidden`` ones only show with --list;
    ``alias`` is another spelling a ``--filter COL=...`` matches (STATE: ``runn`` as
    well as ``RUNNING``).
    """

    name: str
    value: Callable[[Element], str]
    key: Callable[[Element], Any] | None = None
    right: bool = False
    shrink: bool = False
    hidden: bool = False
    colour: Callable[[str], str | None] | None = None
    alias: Callable[[Element], str] | None = None


@dataclass
class TableOptions:
    columns: list[str] | None = None
    filters: list[str] = field(default_factory=list)
    sort: str | None = None
    csv: bool = False
    header: bool = True
    width: int | None = None
    colour: bool = False


def number(text: str) -> float | None:
    """``"12"`` -> 12.0, ``"1.5G"`` -> 1572864.0 (K units: sizes compare as they sort)."""
    m = _NUMBER.match(text)
    if not m:
        return None
    return float(m.group(1)) * 1024 ** max(0, "KMGTPE".find(m.group(2).upper()))


def _key(col: Column, el: Element, cell: str) -> Any:
    if col.key is not None:
        return col.key(el)
    try:
        return float(cell)
    except ValueError:
        return cell.lower()


@dataclass
class _Filter:
    column: Column
    op: str
    value: str

    def passes(self, el: Element, cell: str) -> bool:
        if self.op == "~":
            return self.value.lower() in cell.lower()
        if self.op in ("=", "!="):
            want = self.value.lower()
            same = cell.lower() == want or (self.column.alias is not None
                                            and self.column.alias(el).lower() == want)
            return same == (self.op == "=")
        have, want = _key(self.column, el, cell), number(self.value)
        if not isinstance(have, (int, float)) or want is None:
            have, want = cell.lower(), self.value.lower()  # type: ignore[assignment]
        return {"<": have < want, ">": have > want, "<=": have <= want,
                ">=": have >= want}[self.op]


def _column(columns: Sequence[Column], name: str, what: str) -> Column:
    for col in columns:
        if col.name.lower() == name.strip().lower():
            return col
    valid = ", ".join(c.name for c in columns)
    raise UsageError(f"{what}: no column '{name.strip()}' (columns: {valid})")


def _filters(columns: Sequence[Column], specs: Sequence[str]) -> list[_Filter]:
    out = []
    for spec in specs:
        for part in spec.split(","):
            m = _FILTER.match(part)
            if not m:
                raise UsageError(f"--filter: '{part}' is not COLUMN<op>VALUE "
                                 f"(op one of {' '.join(_OPS)}), e.g. STAT=runn")
            out.append(_Filter(_column(columns, m.group(1), "--filter"), m.group(2),
                               m.group(3).strip()))
    return out


def render(elements: Sequence[Element], columns: Sequence[Column], opts: TableOptions) -> str:
    """The table as text (no trailing colour codes), ending with a newline if not empty."""
    shown = ([_column(columns, n, "--list") for n in opts.columns if n.strip()]
             if opts.columns else [c for c in columns if not c.hidden])
    filters = _filters(columns, opts.filters)
    rows: list[tuple[Element, dict[str, str]]] = []
    for el in elements:
        cells = {c.name: c.value(el) for c in {*shown, *(f.column for f in filters)}}
        if all(f.passes(el, cells[f.column.name]) for f in filters):
            rows.append((el, cells))
    if opts.sort:
        desc = opts.sort.startswith("-")
        col = _column(columns, opts.sort.lstrip("-"), "--sort")
        rows.sort(key=lambda r: _sortable(_key(col, r[0], col.value(r[0]))), reverse=desc)
    table = [[cells[c.name] for c in shown] for _, cells in rows]
    header = [c.name for c in shown]
    if opts.csv:
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        if opts.header:
            writer.writerow(header)
        writer.writerows(table)
        return buf.getvalue()
    widths = _fit([max([len(h)] + [len(r[i]) for r in table]) for i, h in enumerate(header)],
                  shown, opts.width)
    lines = []
    if opts.header:
        lines.append(_line(header, shown, widths, None if not opts.colour else "bold"))
    for row in table:
        lines.append(_line(row, shown, widths, None, opts.colour))
    return "".join(line.rstrip() + "\n" for line in lines)


def _sortable(key: Any) -> tuple[int, Any]:
    # Numbers before text, so a column of mixed cells still sorts.
    return (0, key) if isinstance(key, (int, float)) else (1, str(key))


def _fit(widths: list[int], shown: Sequence[Column], width: int | None) -> list[int]:
    """Shrink the ``shrink`` columns, widest first, until the table fits ``width``."""
    if width is None:
        return widths
    widths = list(widths)
    total = lambda: sum(widths) + 2 * (len(widths) - 1)  # noqa: E731
    floor = {i: max(4, len(c.name)) for i, c in enumerate(shown)}
    while total() > width:
        candidates = [i for i, c in enumerate(shown) if c.shrink and widths[i] > floor[i]]
        if not candidates:
            break
        widest = max(candidates, key=lambda i: widths[i])
        widths[widest] -= 1
    return widths


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[:max(0, width - 1)] + ELLIPSIS


def _line(cells: Sequence[str], shown: Sequence[Column], widths: Sequence[int],
          style: str | None, colour_cells: bool = False) -> str:
    out = []
    for cell, col, w in zip(cells, shown, widths):
        text = _cut(cell, w)
        text = text.rjust(w) if col.right else text.ljust(w)
        colour = style or (col.colour(cell) if colour_cells and col.colour else None)
        out.append(paint(text, colour) if colour else text)
    return "  ".join(out)


def paint(text: str, colour: str | None) -> str:
    """``text`` in an ANSI colour (the caller knows whether colours are wanted)."""
    if not colour:
        return text
    return f"\x1b[{COLOURS[colour]}m{text}\x1b[0m"
