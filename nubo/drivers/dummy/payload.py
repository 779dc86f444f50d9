"""Reading the few attributes the dummy drivers need from an action's payload.

Payloads are XML documents (a VM, a host, a deployment description) or
OpenNebula text templates. Parsing is the most expensive thing the dummy does,
so a document is parsed only when an attribute is asked for and the raw bytes
can hold it (``b"DUMMY_FAIL" in payload`` is far cheaper than a parse).
"""
from __future__ import annotations

from typing import Any

_XML_PARSER: Any = None


def _xml_parser() -> Any:
    global _XML_PARSER
    if _XML_PARSER is None:
        from lxml import etree
        # The core is trusted, but a driver must still not fetch or expand anything.
        _XML_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False,
                                      remove_comments=True)
    return _XML_PARSER


class Doc:
    """A lazily parsed payload; unreadable payloads read as empty."""

    __slots__ = ("raw", "_xml", "_tmpl", "_parsed", "error")

    def __init__(self, raw: bytes) -> None:
        self.raw = raw
        self._xml: Any = None
        self._tmpl: Any = None
        self._parsed = False
        self.error = ""

    def _parse(self) -> None:
        self._parsed = True
        text = self.raw.lstrip()
        if not text:
            return
        try:
            if text.startswith(b"<"):
                from lxml import etree
                self._xml = etree.fromstring(text, _xml_parser())
            else:
                from nubo.template import parse
                self._tmpl = parse(text.decode("utf-8", "replace"))
        except Exception as e:  # lxml and template errors alike: the payload is unusable
            self.error = f"unreadable payload: {e}"

    def get(self, name: str, template_only: bool = False) -> str | None:
        """The first value of attribute ``name``.

        ``template_only`` looks only inside a TEMPLATE element of an XML document
        (a VM's TEMPLATE/CPU, not its MONITORING/CPU); otherwise anywhere, which
        also finds what users put in a USER_TEMPLATE.
        """
        if name.encode() not in self.raw:
            return None
        if not self._parsed:
            self._parse()
        if self._xml is not None:
            root = self._xml
            if root.tag == "TEMPLATE":
                node = root.find(name)
            else:
                node = root.find(f".//TEMPLATE/{name}" if template_only else f".//{name}")
            return None if node is None else (node.text or "").strip()
        if self._tmpl is not None:
            value = self._tmpl.get(name)
            return value if isinstance(value, str) else None
        return None

    def number(self, name: str, default: float, template_only: bool = False) -> float:
        value = self.get(name, template_only)
        try:
            return float(value) if value not in (None, "") else default
        except ValueError:
            return default

    def names_list(self, name: str) -> set[str]:
        """A comma-separated list attribute as a set of upper-case words."""
        value = self.get(name)
        return {w.strip().upper() for w in value.split(",") if w.strip()} if value else set()

    def last(self, path: str) -> str | None:
        """The text of the last element at ``path`` of an XML payload (e.g. the
        HOSTNAME of a VM's newest HISTORY record), None if there is none."""
        if not self._parsed:
            self._parse()
        if self._xml is None:
            return None
        found = self._xml.findall(path)
        return (found[-1].text or "").strip() if found else None
