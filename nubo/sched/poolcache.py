"""Pool listings parsed object by object, reusing what the previous cycle parsed.

Between two cycles most hosts and nearly every PENDING VM are unchanged, and so is
their text in the listing: each object's XML is the key of the record made from it,
so only new or changed objects are parsed again. A listing that cannot be split
into its objects safely is parsed whole.
"""
from __future__ import annotations

import re
from dataclasses import replace
from typing import Callable, Generic, TypeVar

from lxml import etree

from nubo.sched.snapshot import _PARSER, _root

T = TypeVar("T")


class PoolCache(Generic[T]):
    """Records of ``tag`` objects (HOST, VM) of a ``<TAG_POOL>`` listing."""

    def __init__(self, tag: str, build: Callable[[etree._Element], T], *,
                 copy: bool = False) -> None:
        self.tag = tag
        self.copy = copy
        self.build = build
        self._records: dict[str, T] = {}
        self._between = re.compile(rf"(?<=</{tag}>)\s*(?=<{tag}>)")
        self.parsed = 0  # objects parsed by the last call, for the log

    def records(self, xml: str) -> list[T]:
        """The listing's records, in its order (copies when ``copy``: a cycle changes them)."""
        chunks = self._split(xml)
        out: list[T] | None = None
        if chunks is not None:
            try:
                out = self._from_chunks(chunks)
            except (etree.XMLSyntaxError, ValueError):
                out = None  # split inside an object (an attribute named like the tag)
        if out is None:
            self._records = {}
            out = [self.build(el) for el in _root(xml).iterchildren(self.tag)]
            self.parsed = len(out)
        return [replace(r) for r in out] if self.copy else out  # type: ignore[type-var]

    def _from_chunks(self, chunks: list[str]) -> list[T]:
        fresh: dict[str, T] = {}
        self.parsed = 0
        for chunk in chunks:
            record = self._records.get(chunk) or fresh.get(chunk)
            if record is None:
                el = etree.fromstring(chunk.encode(), _PARSER)
                if el.tag != self.tag:
                    raise ValueError(f"not a {self.tag}")
                record = self.build(el)
                self.parsed += 1
            fresh[chunk] = record
        self._records = fresh
        return [fresh[c] for c in chunks]

    def _split(self, xml: str) -> list[str] | None:
        """The objects' texts, or None when the listing does not look like one."""
        text = xml.strip()
        root = f"{self.tag}_POOL"
        if text in (f"<{root}/>", f"<{root}></{root}>"):
            return []
        head, tail = f"<{root}>", f"</{root}>"
        if not (text.startswith(head) and text.endswith(tail)):
            return None
        inner = text[len(head):-len(tail)].strip()
        chunks = self._between.split(inner) if inner else []
        opening, closing = f"<{self.tag}>", f"</{self.tag}>"
        if not all(c.startswith(opening) and c.endswith(closing) for c in chunks):
            return None
        return chunks
