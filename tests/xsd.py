"""Validate nubo's XML against OpenNebula's schemas (read from ../shared, never copied)."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from lxml import etree

XSD_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "reference" / "opennebula-xsd"
NS = "http://opennebula.org/XMLSchema"


@lru_cache(maxsize=None)
def schema(name: str) -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(XSD_DIR / name)))


def _namespaced(xml: str) -> etree._Element:
    """Put every element in OpenNebula's namespace, as the schemas expect."""
    root = etree.fromstring(xml.encode())
    for el in root.iter():
        if isinstance(el.tag, str) and not el.tag.startswith("{"):
            el.tag = f"{{{NS}}}{el.tag}"
    return etree.fromstring(etree.tostring(root))


def assert_valid(xml: str, xsd: str) -> None:
    """Fail with the schema's own error messages when xml does not validate."""
    s = schema(xsd)
    doc = _namespaced(xml)
    if not s.validate(doc):
        errors = "\n".join(f"line {e.line}: {e.message}" for e in s.error_log)
        raise AssertionError(f"{xsd} rejects the document:\n{errors}\n--- document ---\n{xml[:3000]}")


def raw_call(endpoint: str, method: str, *args):
    """Call a method without pyone's parsing, to see the exact reply values."""
    import xmlrpc.client
    return getattr(xmlrpc.client.ServerProxy(endpoint), method)(*args)
