"""Writing templates as OpenNebula's XML: ``<TEMPLATE><CPU><![CDATA[1]]></CPU>...``.

Every value goes in CDATA, as OpenNebula writes it.  Two characters need care
so that any value reads back unchanged: ``]]>`` would end the section, so the
section is split around it, and a carriage return would be normalised to a
newline by any XML parser, so it is written as the reference ``&#13;``.
"""
from __future__ import annotations

import re
from collections.abc import Sequence

from nubo.template.attributes import Attribute, SingleAttribute

_ROOT_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")


def cdata(value: str) -> str:
    """``value`` as CDATA section(s) that any XML parser reads back exactly."""
    if "]]>" in value:
        value = value.replace("]]>", "]]]]><![CDATA[>")
    if "\r" in value:
        value = value.replace("\r", "]]>&#13;<![CDATA[")
    return f"<![CDATA[{value}]]>"


def to_xml(attrs: Sequence[Attribute], root: str = "TEMPLATE") -> str:
    """XML form of a list of attributes; no attributes gives ``<ROOT/>``."""
    if _ROOT_RE.fullmatch(root) is None:
        raise ValueError(f"invalid XML root element name {root!r}")
    if not attrs:
        return f"<{root}/>"
    parts = [f"<{root}>"]
    append = parts.append
    for attr in attrs:
        name = attr.name
        if isinstance(attr, SingleAttribute):
            append(f"<{name}>{cdata(attr.value)}</{name}>")
        else:
            append(f"<{name}>")
            for key, value in attr.items():
                append(f"<{key}>{cdata(value)}</{key}>")
            append(f"</{name}>")
    append(f"</{root}>")
    return "".join(parts)
