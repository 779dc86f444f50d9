"""OpenNebula templates: parsing, rendering and changing them (pure, no I/O).

Typical use::

    tmpl = parse_str_or_xml(request_text)   # text or XML, as clients send it
    memory = tmpl.get_int("MEMORY")
    for disk in tmpl.get_vectors("DISK"): ...
    stored = tmpl.to_xml()                  # <TEMPLATE>...</TEMPLATE>
"""
from __future__ import annotations

from nubo.template.attributes import Attribute, SingleAttribute, VectorAttribute
from nubo.template.syntax_errors import TemplateSyntaxError, TemplateValueError
from nubo.template.template import Template, apply_update
from nubo.template.text_parser import parse
from nubo.template.xml_parser import parse_xml

__all__ = [
    "Attribute",
    "SingleAttribute",
    "Template",
    "TemplateSyntaxError",
    "TemplateValueError",
    "VectorAttribute",
    "apply_update",
    "parse",
    "parse_str_or_xml",
    "parse_xml",
]


def parse_str_or_xml(text: str) -> Template:
    """Parse either form: XML when the first non-blank character is ``<``.

    (OpenNebula looks only at the very first character; skipping leading
    blanks accepts strictly more.)
    """
    if not isinstance(text, str):
        raise TypeError(f"template must be str, not {type(text).__name__}")
    stripped = text.lstrip(" \t\r\n\ufeff")
    if stripped.startswith("<"):
        return parse_xml(text)
    return parse(text)
