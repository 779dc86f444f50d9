"""``show`` output: an object as readable sections (information, permissions, template...).

Each family lists its sections as functions of the object's XML; the shared
ones (permissions, a template as text, a small table) live here.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from lxml import etree

from nubo.cli import units
from nubo.cli.tables import Column, TableOptions, paint
from nubo.cli.tables import render as render_table

Element = etree._Element


@dataclass
class Section:
    """A titled block: ``rows`` of "KEY : value", or preformatted ``text``."""

    title: str
    rows: list[tuple[str, str]] = field(default_factory=list)
    text: str = ""


Sections = Callable[[Element], list[Section]]


def render(sections: Sequence[Section], colour: bool = False) -> str:
    blocks = []
    for s in sections:
        if not s.rows and not s.text:
            continue
        lines = [paint(s.title, "bold" if colour else None)]
        width = max((len(k) for k, _ in s.rows), default=0)
        width = max(width, 19)
        lines += [f"{k.ljust(width)} : {v}".rstrip() for k, v in s.rows]
        if s.text:
            lines.append(s.text.rstrip("\n"))
        blocks.append("\n".join(lines) + "\n")
    return "\n".join(blocks)


def state_colour(short: str) -> str | None:
    """The colour of a short state name in any table (VMs, hosts, images, datastores)."""
    if short in ("runn", "on", "rdy", "used"):
        return "green"
    if short in ("fail", "unkn", "err", "retry"):
        return "red"
    if short in ("done", "off", "dsbl", "disa"):
        return "dim"
    if short in ("pend", "hold", "poff", "susp", "stop", "unde", "init"):
        return None
    return "yellow"


def text(el: Element, path: str, default: str = "") -> str:
    value = el.findtext(path)
    return default if value is None else value


def permissions(el: Element) -> Section:
    p = el.find("PERMISSIONS")
    if p is None:
        return Section("PERMISSIONS")
    return Section("PERMISSIONS", [
        (who, units.rights(text(p, f"{w}_U"), text(p, f"{w}_M"), text(p, f"{w}_A")))
        for who, w in (("OWNER", "OWNER"), ("GROUP", "GROUP"), ("OTHER", "OTHER"))])


def template_text(tmpl: Element | None) -> str:
    """A ``<TEMPLATE>`` in the template language (what ``update`` edits)."""
    if tmpl is None or len(tmpl) == 0:
        return ""
    from nubo.template import parse_xml  # pure; imported when a template is shown
    try:
        return parse_xml(etree.tostring(tmpl)).render()
    except Exception:  # noqa: BLE001 - show what the server sent rather than nothing
        return etree.tostring(tmpl, pretty_print=True, encoding="unicode")


def template(el: Element, path: str, title: str) -> Section:
    return Section(title, text=template_text(el.find(path)))


def table(title: str, elements: Sequence[Element], columns: Sequence[Column]) -> Section:
    if not elements:
        return Section(title)
    return Section(title, text=render_table(elements, columns, TableOptions()))


def owner_rows(el: Element) -> list[tuple[str, str]]:
    return [("USER", text(el, "UNAME")), ("GROUP", text(el, "GNAME"))]


def col(name: str, path: str, **kw: object) -> Column:
    """A column showing one element's text."""
    return Column(name, lambda e: text(e, path), **kw)  # type: ignore[arg-type]


ID = Column("ID", lambda e: text(e, "ID"), key=lambda e: int(text(e, "ID", "0") or 0),
            right=True)
NAME = Column("NAME", lambda e: text(e, "NAME"), shrink=True)
USER = Column("USER", lambda e: text(e, "UNAME"), shrink=True)
GROUP = Column("GROUP", lambda e: text(e, "GNAME"), shrink=True)
