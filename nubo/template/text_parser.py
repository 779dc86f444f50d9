"""Parser for OpenNebula's text template syntax (``NAME = value`` lines).

Hand-written over compiled regexes because templates are parsed on every
allocate.  It follows OpenNebula's lexer where that lexer is well defined:

* names are ``[A-Za-z0-9_]+`` folded to upper case (nubo also refuses a
  leading digit, which OpenNebula accepts but cannot store as XML);
* whitespace (including newlines) and ``#`` comments may separate any tokens,
  so several attributes may share a line; the value must start on the line of
  its ``=``, and ``NAME =`` followed by the end of the line is an empty value;
* values in single quotes (``'...'``, as OpenNebula 1.x and the source documents'
  CONTEXT example write them) are taken verbatim up to the next ``'``, which
  cannot be escaped; an unterminated one is an unquoted value;
* quoted values may span lines; the only escape is ``\\"`` (a quote); any
  other backslash is literal.  A quote preceded by a backslash does not close
  the value, unless no unescaped quote follows anywhere (OpenNebula's
  longest-match rule);
* an unquoted value is a run of characters other than blanks, newlines and
  ``= # , [ ]``; when such a run starting with a quote is longer than the
  quoted value (``"x"y``) the run wins, as in OpenNebula;
* in a vector the first of two equal sub-attribute names wins.

Errors carry the 1-based line and column of the offending character.
"""
from __future__ import annotations

import re
from typing import NoReturn

from nubo.template.attributes import BAD_CHAR_RE, Attribute, SingleAttribute, VectorAttribute
from nubo.template.syntax_errors import TemplateSyntaxError
from nubo.template.template import Template

_SKIP_PART = r"(?:[ \t\r\n\ufeff]++|#[^\n]*+)*+"
_SKIP = re.compile(_SKIP_PART)
# Leading blanks and comments, a name, blanks and comments, '=', blanks.
_HEAD = re.compile(_SKIP_PART + r"([A-Za-z0-9_]++)" + _SKIP_PART + r"=[ \t]*+")
_NAME = re.compile(r"[A-Za-z0-9_]++")
# A quoted value: every '"' inside must follow a backslash.  The loop may give
# back its last escaped quote to close the value (longest match in OpenNebula).
_QUOTED = re.compile(r'"([^"]*+(?:(?<=\\)"[^"]*+)*)"')
_SINGLE_QUOTED = re.compile(r"'([^']++)'")
_UNQUOTED = re.compile(r"[^ \t\r\n=#,\[\]]++")
_STOP = frozenset(" \t\r\n=#,[]")
_END_OF_LINE = frozenset("\r\n")


def parse(text: str) -> Template:
    """Parse the text form of a template; raises TemplateSyntaxError on bad input."""
    if not isinstance(text, str):
        raise TypeError(f"template text must be str, not {type(text).__name__}")
    bad = BAD_CHAR_RE.search(text)
    if bad is not None:
        _fail(text, bad.start(), f"invalid character U+{ord(bad.group()):04X}")
    attrs: list[Attribute] = []
    head = _HEAD.match
    size = len(text)
    pos = 0
    while True:
        match = head(text, pos)
        if match is None:
            end = _SKIP.match(text, pos).end()
            if end == size:
                return Template._trusted(attrs)
            _fail_head(text, end)
        name = _name_of(text, match)
        pos = match.end()
        char = text[pos] if pos < size else ""
        if char == "[":
            vector, pos = _vector(text, name, pos)
            attrs.append(vector)
            continue
        if char == "" or char in _END_OF_LINE:
            value = ""
        else:
            value, pos = _value(text, pos)
        attrs.append(SingleAttribute._trusted(name, value))


def _name_of(text: str, match: re.Match[str]) -> str:
    name = match.group(1)
    if name[0].isdigit():
        _fail(text, match.start(1), f"attribute name {name} must not start with a digit")
    return name.upper()


def _value(text: str, pos: int) -> tuple[str, int]:
    """Read the quoted or unquoted value starting at ``pos`` (not at end of line)."""
    if text[pos] == '"':
        quoted = _QUOTED.match(text, pos)
        if quoted is None:
            _fail(text, pos, "unterminated quoted value")
        end = quoted.end()
        if end < len(text) and text[end] not in _STOP:
            # "x"y: OpenNebula's lexer takes the longer unquoted run instead.
            run = _UNQUOTED.match(text, pos)
            if run is not None and run.end() > end:
                return run.group(), run.end()
        return quoted.group(1).replace('\\"', '"'), end
    if text[pos] == "'":
        single = _SINGLE_QUOTED.match(text, pos)
        if single is not None:
            run = _UNQUOTED.match(text, pos)
            if run is None or run.end() <= single.end():
                return single.group(1), single.end()
    run = _UNQUOTED.match(text, pos)
    if run is None:
        _fail(text, pos, f"expected a value after '=', found {_describe(text, pos)}")
    return run.group(), run.end()


def _vector(text: str, name: str, pos: int) -> tuple[VectorAttribute, int]:
    """Read ``[ A = x, B = y ]``; ``pos`` is at the opening bracket."""
    opening = pos
    size = len(text)
    values: dict[str, str] = {}
    pos = _SKIP.match(text, pos + 1).end()
    if pos < size and text[pos] == "]":
        return VectorAttribute._trusted(name, values), pos + 1
    head = _HEAD.match
    while True:
        match = head(text, pos)
        if match is None:
            end = _SKIP.match(text, pos).end()
            if end == size:
                _fail(text, opening, f"unterminated vector attribute {name}")
            _fail_head(text, end)
        key = _name_of(text, match)
        pos = match.end()
        char = text[pos] if pos < size else ""
        if char == "[":
            _fail(text, pos, f"vector attribute {name} cannot contain another vector")
        if char == "" or char in _END_OF_LINE:
            _fail(text, pos, f'expected a value after \'=\' (write "" for an empty value in {name})')
        value, pos = _value(text, pos)
        values.setdefault(key, value)
        pos = _SKIP.match(text, pos).end()
        char = text[pos] if pos < size else ""
        if char == ",":
            pos += 1
        elif char == "]":
            return VectorAttribute._trusted(name, values), pos + 1
        elif char == "":
            _fail(text, opening, f"unterminated vector attribute {name}")
        else:
            _fail(text, pos, f"expected ',' or ']' in vector attribute {name}, found {_describe(text, pos)}")


def _fail_head(text: str, pos: int) -> NoReturn:
    """Explain why no ``NAME =`` starts at ``pos`` (which is not blank or a comment)."""
    name = _NAME.match(text, pos)
    if name is None:
        _fail(text, pos, f"expected an attribute name, found {_describe(text, pos)}")
    after = _SKIP.match(text, name.end()).end()
    _fail(text, after, f"expected '=' after {name.group().upper()}, found {_describe(text, after)}")


def _describe(text: str, pos: int) -> str:
    if pos >= len(text):
        return "end of input"
    return repr(text[pos])


def _fail(text: str, pos: int, message: str) -> NoReturn:
    raise TemplateSyntaxError(message, *position(text, pos))


def position(text: str, pos: int) -> tuple[int, int]:
    """1-based line and column of offset ``pos`` in ``text``."""
    line = text.count("\n", 0, pos) + 1
    column = pos - text.rfind("\n", 0, pos)
    return line, column
