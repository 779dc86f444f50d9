"""Parser for the XML form of templates, as clients may send it to allocate/update.

The root element may have any name.  Each child of the root is an attribute:
with child elements it is a vector attribute (each grandchild one
sub-attribute), otherwise a single attribute whose value is its text, kept
verbatim (whitespace included).  Names are folded to upper case.

Built on the expat parser directly, for speed and for exact positions.  It is
safe against hostile documents: any DOCTYPE is refused before its internal
subset is read, so no entity can be declared (no billion-laughs expansion) and
nothing external is ever fetched.
"""
from __future__ import annotations

from typing import NoReturn
from xml.parsers import expat

from nubo.template.attributes import (
    BAD_CHAR_RE,
    NAME_RE,
    Attribute,
    SingleAttribute,
    VectorAttribute,
)
from nubo.template.syntax_errors import TemplateSyntaxError
from nubo.template.template import Template
from nubo.template.text_parser import position

_XML_BLANKS = " \t\r\n"


def parse_xml(text: str | bytes) -> Template:
    """Parse the XML form of a template; raises TemplateSyntaxError on bad input."""
    if isinstance(text, str):
        bad = BAD_CHAR_RE.search(text)
        if bad is not None:
            line, column = position(text, bad.start())
            raise TemplateSyntaxError(f"invalid character U+{ord(bad.group()):04X}", line, column)
    elif not isinstance(text, bytes):
        raise TypeError(f"template XML must be str or bytes, not {type(text).__name__}")
    return _Builder(text).run()


class _Builder:
    """Turns expat events into attributes; one instance per document."""

    def __init__(self, text: str | bytes) -> None:
        self.text = text
        self.parser = parser = expat.ParserCreate()
        # Unbuffered text events carry their own position, for exact error columns.
        parser.buffer_text = False
        parser.StartDoctypeDeclHandler = self.doctype
        parser.EntityDeclHandler = self.doctype
        parser.StartElementHandler = self.start
        parser.EndElementHandler = self.end
        parser.CharacterDataHandler = self.chars
        self.depth = 0
        self.attrs: list[Attribute] = []
        self.name = ""  # current attribute (depth 2)
        self.texts: list[str] = []  # its text, while it may be a single attribute
        self.values: dict[str, str] | None = None  # its sub-attributes once it is a vector
        self.key = ""  # current sub-attribute (depth 3)
        self.key_texts: list[str] = []

    def run(self) -> Template:
        try:
            self.parser.Parse(self.text, True)
        except expat.ExpatError as exc:
            raise TemplateSyntaxError(
                expat.ErrorString(exc.code), exc.lineno, exc.offset + 1
            ) from None
        return Template._trusted(self.attrs)

    def fail(self, message: str, skip: int = 0) -> NoReturn:
        """Raise at the current event, ``skip`` characters further on its line."""
        parser = self.parser
        raise TemplateSyntaxError(
            message, parser.CurrentLineNumber, parser.CurrentColumnNumber + 1 + skip
        )

    def doctype(self, *_args: object) -> None:
        self.fail("DOCTYPE and entity declarations are not allowed")

    def fold(self, tag: str) -> str:
        if NAME_RE.fullmatch(tag) is None:
            self.fail(f"invalid attribute name {tag!r}")
        return tag.upper()

    def start(self, tag: str, _attributes: dict[str, str]) -> None:
        depth = self.depth = self.depth + 1
        if depth == 2:
            self.name = self.fold(tag)
            self.texts = []
            self.values = None
        elif depth == 3:
            if self.values is None:
                if "".join(self.texts).strip(_XML_BLANKS):
                    self.fail(f"attribute {self.name} mixes text and elements")
                self.values = {}
            self.key = self.fold(tag)
            self.key_texts = []
        elif depth > 3:
            self.fail(f"vector attribute {self.name} cannot contain another vector")

    def end(self, _tag: str) -> None:
        depth = self.depth
        self.depth = depth - 1
        if depth == 3:
            # A repeated sub-attribute replaces the earlier one, as in OpenNebula.
            assert self.values is not None
            self.values[self.key] = "".join(self.key_texts)
        elif depth == 2:
            if self.values is None:
                self.attrs.append(SingleAttribute._trusted(self.name, "".join(self.texts)))
            else:
                self.attrs.append(VectorAttribute._trusted(self.name, self.values))

    def chars(self, data: str) -> None:
        depth = self.depth
        if depth == 2:
            if self.values is None:
                self.texts.append(data)
            elif data.strip(_XML_BLANKS):
                self.fail(f"attribute {self.name} mixes text and elements", _lead(data))
        elif depth == 3:
            self.key_texts.append(data)
        elif depth == 1 and data.strip(_XML_BLANKS):
            self.fail("text outside attributes", _lead(data))


def _lead(data: str) -> int:
    """How many blanks start ``data`` (expat splits text at newlines, so one line)."""
    return len(data) - len(data.lstrip(_XML_BLANKS))
