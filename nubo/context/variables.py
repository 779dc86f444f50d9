"""The variables of a CONTEXT value: ``$NAME``, ``$NIC[IP]``, ``$NIC[IP, NETWORK="x"]``.

The grammar is oned's vm_var_parser.l/vm_var_syntax.y:

* text without ``$`` is copied as it is;
* ``$`` starts a variable: a name of letters, digits and ``_``;
* an optional ``[ATTR]`` or ``[ATTR, KEY=VALUE]`` follows at once (blanks are
  allowed inside the brackets around ``,`` ``=`` and ``]``); VALUE is in double
  quotes (anything but ``"``) or a run of letters and digits;
* whatever follows the variable is text again (a ``$`` starts the next one).

Names are folded to upper case; the KEY's VALUE is kept as written. A ``$`` with
no name after it (``$(cmd)``, ``${X}``, a trailing ``$``) or a bracket that is not
closed as above is a syntax error, as in oned; the message gives the column.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Union

_TEXT = re.compile(r"[^$]+")
_NAME = re.compile(r"[A-Za-z0-9_]+")
_OPEN = re.compile(r"\[[ \t]*")
_CLOSE = re.compile(r"[ \t]*\]")
_COMMA = re.compile(r"[ \t]*,[ \t]*")
_EQUAL = re.compile(r"[ \t]*=[ \t]*")
_VALUE = re.compile(r'"([^"]*)"|([A-Za-z0-9]+)')


class ContextSyntaxError(ValueError):
    """A malformed variable in a CONTEXT value; ``column`` is 1-based."""

    def __init__(self, message: str, column: int) -> None:
        super().__init__(f"{message} at column {column}")
        self.column = column


@dataclass(frozen=True)
class Variable:
    """``$NAME``, ``$NAME[ATTR]`` or ``$NAME[ATTR, KEY=VALUE]``."""

    name: str
    attr: str | None = None
    key: str | None = None
    value: str | None = None

    def text(self) -> str:
        """The variable as written (names upper case), for error messages."""
        if self.attr is None:
            return f"${self.name}"
        if self.key is None:
            return f"${self.name}[{self.attr}]"
        return f'${self.name}[{self.attr}, {self.key}="{self.value}"]'


Part = Union[str, Variable]


def parse_value(text: str) -> list[Part]:
    """Split ``text`` into literal text and variables; ContextSyntaxError if malformed."""
    parts: list[Part] = []
    pos, size = 0, len(text)
    while pos < size:
        literal = _TEXT.match(text, pos)
        if literal is not None:
            parts.append(literal.group())
            pos = literal.end()
            continue
        variable, pos = _variable(text, pos + 1)
        parts.append(variable)
    return parts


def _expect(pattern: re.Pattern[str], text: str, pos: int, what: str) -> re.Match[str]:
    found = pattern.match(text, pos)
    if found is None:
        seen = repr(text[pos]) if pos < len(text) else "end of value"
        raise ContextSyntaxError(f"expected {what}, found {seen}", pos + 1)
    return found


def _variable(text: str, pos: int) -> tuple[Variable, int]:
    """The variable whose name starts at ``pos`` (just after its ``$``)."""
    name = _expect(_NAME, text, pos, "a variable name after '$'")
    pos = name.end()
    opening = _OPEN.match(text, pos)
    if opening is None:
        return Variable(name.group().upper()), pos
    attr = _expect(_NAME, text, opening.end(), "an attribute name after '['")
    pos = attr.end()
    closing = _CLOSE.match(text, pos)
    if closing is not None:
        return Variable(name.group().upper(), attr.group().upper()), closing.end()
    pos = _expect(_COMMA, text, pos, "',' or ']'").end()
    key = _expect(_NAME, text, pos, "an attribute name after ','")
    pos = _expect(_EQUAL, text, key.end(), f"'=' after {key.group()}").end()
    value = _expect(_VALUE, text, pos, 'a value in double quotes or of letters and digits')
    pos = _expect(_CLOSE, text, value.end(), "']'").end()
    found = value.group(1) if value.group(1) is not None else value.group(2)
    return Variable(name.group().upper(), attr.group().upper(), key.group().upper(), found), pos
