"""one.vmpool.info's query string: ``KEY=VALUE`` terms joined by ``&``, matched on a VM body.

OpenNebula (6.10+) runs each term as ``JSON_EXTRACT(body_json, '$.KEY') LIKE
'%VALUE%'``, on MySQL only. nubo evaluates the same paths on the XML body, on
every backend: KEY is a path from the document, e.g. ``VM.NAME`` or
``VM.TEMPLATE.NIC[*].IP`` (``[n]`` picks the n-th element of that name,
``[*]`` or no index every one); a term without ``=`` looks at every value.
Values match as case-sensitive substrings; all terms must match.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from lxml import etree

from nubo.errors import ApiError

_STEP = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)(?:\[(\*|[0-9]+)\])?")
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)

Step = tuple[str, int | None]  # element name, index (None: every one)


@dataclass(frozen=True)
class Term:
    path: tuple[Step, ...] | None  # None: any value in the document
    value: str


def parse_query(text: str) -> list[Term]:
    """Parse ``K=V&K=V``; empty text is no condition at all."""
    terms = []
    for part in filter(None, text.split("&")):
        key, sep, value = part.partition("=")
        if not sep:
            terms.append(Term(None, part))
            continue
        steps = []
        for step in key.strip().split("."):
            m = _STEP.fullmatch(step)
            if m is None:
                raise ApiError(f"Wrong query key '{key}': use a path such as VM.TEMPLATE.NIC[*].IP")
            index = m.group(2)
            steps.append((m.group(1), None if index in (None, "*") else int(index)))
        terms.append(Term(tuple(steps), value))
    return terms


def _select(root: etree._Element, path: tuple[Step, ...]) -> list[etree._Element]:
    name, index = path[0]
    found = [root] if root.tag == name and index in (None, 0) else []
    for name, index in path[1:]:
        nxt = []
        for el in found:
            children = [c for c in el if c.tag == name]
            nxt += children if index is None else children[index:index + 1]
        found = nxt
    return found


def matches(body: str, terms: list[Term]) -> bool:
    """Does a full VM body satisfy every term?"""
    if not terms:
        return True
    root = etree.fromstring(body.encode(), _PARSER)
    for term in terms:
        scope = [root] if term.path is None else _select(root, term.path)
        if not any(term.value in text for el in scope for text in el.itertext()):
            return False
    return True
