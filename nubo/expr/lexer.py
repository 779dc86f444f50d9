"""Tokens of the REQUIREMENTS and RANK expressions, with their line and column.

OpenNebula's lexer (src/parsers/expr_parser.l): names are ``[A-Za-z][A-Za-z0-9_]*``,
strings are double-quoted (no escapes; a quoted string may be a path such as
``"HOST_SHARE/MAX_CPU"``), numbers are integers or ``digits.digits``. nubo adds
``$NAME`` / ``$VECTOR[NAME]``, references to the VM's own values, substituted
before evaluation. A ``-`` followed by a digit is a negative number only where an
operand is expected, so ``FREE_CPU-10`` is a subtraction (OpenNebula's lexer would
read ``-10`` and fail).
"""
from __future__ import annotations

import re
from dataclasses import dataclass


#: Limits on an expression, the same where it enters (the API) as where it is used (the
#: scheduler): far above what a placement rule needs, low enough that parsing and
#: evaluating stay cheap and never exhaust Python's stack (the parser and the walks
#: recurse once per level of parentheses; operator chains are flat).
MAX_LENGTH = 8192  # characters
MAX_DEPTH = 100    # nested parentheses


class ExprError(ValueError):
    """A malformed expression: what is wrong and where (1-based line and column; line 0
    when the fault has no place in the text, as a ``$`` reference's value)."""

    def __init__(self, message: str, line: int, col: int, text: str = "") -> None:
        super().__init__(f"{message} at line {line}, column {col}" if line else message)
        self.message = message
        self.line = line
        self.col = col
        self.text = text


@dataclass(frozen=True)
class Token:
    kind: str   # NAME, STRING, INT, FLOAT, REF, OP, END
    value: str
    line: int
    col: int


_OPERAND_END = frozenset({"NAME", "STRING", "INT", "FLOAT", "REF"})
_SPEC = re.compile(r"""
    (?P<ws>[ \t\r]+)
  | (?P<nl>\n)
  | (?P<FLOAT>[0-9]+\.[0-9]+)
  | (?P<INT>[0-9]+)
  | (?P<NAME>[A-Za-z][A-Za-z0-9_]*)
  | (?P<STRING>"[^"]*")
  | (?P<REF>\$[A-Za-z_][A-Za-z0-9_]*(?:\[[A-Za-z_][A-Za-z0-9_]*\])?)
  | (?P<OP>!=|@>|[!&|=<>()*+/-])
""", re.VERBOSE)


def tokenize(text: str) -> list[Token]:
    """The tokens of ``text``, ending with an END token; raises ExprError."""
    if len(text) > MAX_LENGTH:
        raise ExprError(f"expression too long ({len(text)} characters, limit {MAX_LENGTH})",
                        1, 1, text)
    tokens: list[Token] = []
    pos, line, line_start = 0, 1, 0
    while pos < len(text):
        m = _SPEC.match(text, pos)
        col = pos - line_start + 1
        if m is None:
            ch = text[pos]
            if ch == '"':
                raise ExprError("unterminated string", line, col, text)
            if ch == "$":
                raise ExprError("'$' must be followed by a name, as in $MEMORY or "
                                "$NIC[NETWORK_ID]", line, col, text)
            raise ExprError(f"unexpected character {ch!r}", line, col, text)
        kind = m.lastgroup or ""
        value = m.group()
        pos = m.end()
        if kind == "nl":
            line, line_start = line + 1, pos
            continue
        if kind == "ws":
            continue
        if kind == "STRING":
            if "\n" in value:
                raise ExprError("unterminated string", line, col, text)
            value = value[1:-1]
        tokens.append(Token(kind, value, line, col))
    tokens.append(Token("END", "", line, pos - line_start + 1))
    return _negative_numbers(tokens)


def _negative_numbers(tokens: list[Token]) -> list[Token]:
    """Fold ``-`` and a number into a negative literal where an operand is expected."""
    out: list[Token] = []
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        nxt = tokens[i + 1] if i + 1 < len(tokens) else None
        after_operand = bool(out) and (out[-1].kind in _OPERAND_END or out[-1].value == ")")
        if (tok.kind == "OP" and tok.value == "-" and nxt is not None
                and nxt.kind in ("INT", "FLOAT") and not after_operand
                and (nxt.line, nxt.col) == (tok.line, tok.col + 1)):
            out.append(Token(nxt.kind, "-" + nxt.value, tok.line, tok.col))
            i += 2
            continue
        out.append(tok)
        i += 1
    return out


def describe(tok: Token) -> str:
    """A token as an error message names it."""
    if tok.kind == "END":
        return "end of expression"
    if tok.kind == "STRING":
        return f'string "{tok.value}"'
    if tok.kind in ("INT", "FLOAT"):
        return f"number {tok.value}"
    if tok.kind == "REF":
        return f"reference {tok.value}"
    if tok.kind == "NAME":
        return f"name {tok.value}"
    return f"'{tok.value}'"
