"""Machine-readable output: -x (XML), -j (JSON), --yaml of an API reply.

JSON and YAML follow the XML: an element with children becomes a mapping, a
leaf its text; repeated children become a list, and the objects of a pool
listing (``VM_POOL/VM``) are always a list, so scripts need not test for one.
"""
from __future__ import annotations

import json
from typing import Any

from lxml import etree

FORMATS = ("xml", "json", "yaml")


def to_data(el: etree._Element, *, pool: bool = False) -> Any:
    """An element as plain data: text for a leaf, else a mapping of its children."""
    children = [c for c in el if isinstance(c.tag, str)]
    if not children:
        return el.text or ""
    grouped: dict[str, list[Any]] = {}
    for child in children:
        grouped.setdefault(child.tag, []).append(to_data(child))
    return {tag: values if pool or len(values) > 1 else values[0]
            for tag, values in grouped.items()}


def render(el: etree._Element, fmt: str) -> str:
    """``el`` in ``fmt`` (one of FORMATS), ending with a newline."""
    pool = el.tag.endswith("_POOL")
    if fmt == "xml":
        return etree.tostring(el, pretty_print=True, encoding="unicode")
    data = {el.tag: to_data(el, pool=pool)}
    if pool and data[el.tag] == "":
        data[el.tag] = {}
    if fmt == "json":
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    import yaml  # only when asked: it is the slowest import here
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, default_flow_style=False)
