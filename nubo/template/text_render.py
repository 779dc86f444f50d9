"""Writing templates in the text syntax, for people and for OpenNebula clients.

Output is deterministic: one attribute per line, ``NAME=value``; vectors as::

    DISK=[
      IMAGE="Ubuntu 24.04",
      SIZE=2048 ]

Values are quoted only when needed and inside quotes only ``"`` is escaped,
because OpenNebula reads every other backslash literally.  That syntax has no
way to write a quoted value ending in a backslash (the closing quote would
read as escaped); such a value is written anyway and reads back correctly only
while no later quoted value follows.  Use the XML form to carry it safely.
"""
from __future__ import annotations

import re
from collections.abc import Iterable

from nubo.template.attributes import Attribute, SingleAttribute

# Empty values, values starting with a quote (double or single), and values holding a blank or a
# character that ends an unquoted value must be quoted.
_NEEDS_QUOTES = re.compile(r'\A(?:["\']|\Z)|[\s=#,\[\]]')


def format_value(value: str) -> str:
    """A value as it appears after ``=``: bare when safe, else quoted."""
    if _NEEDS_QUOTES.search(value) is None:
        return value
    return '"' + value.replace('"', '\\"') + '"'


def is_renderable(value: str) -> bool:
    """Whether ``format_value`` output reads back as ``value`` wherever it appears."""
    return not value.endswith("\\") or _NEEDS_QUOTES.search(value) is None


def render(attrs: Iterable[Attribute]) -> str:
    """Text form of a list of attributes; an empty list renders as ``""``."""
    lines = []
    for attr in attrs:
        if isinstance(attr, SingleAttribute):
            lines.append(f"{attr.name}={format_value(attr.value)}\n")
        elif len(attr) == 0:
            lines.append(f"{attr.name}=[]\n")
        else:
            inner = ",\n".join(f"  {k}={format_value(v)}" for k, v in attr.items())
            lines.append(f"{attr.name}=[\n{inner} ]\n")
    return "".join(lines)
