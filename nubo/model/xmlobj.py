"""Declarative mapping between model dataclasses and OpenNebula's XML bodies.

Every object nubo stores is kept as the XML body OpenNebula would return for
it. The model classes are plain dataclasses whose field order is the order of
the elements in OpenNebula's schema; this module renders them to that XML and
reads them back, so no class writes its own serialiser.

Field kinds, chosen from the annotation:
  int, str, float       -> ``<TAG>value</TAG>``
  list[int]             -> ``<TAG><ID>1</ID>...</TAG>`` (OpenNebula's IDS)
  Template              -> the template rendered under ``<TAG>``
  a dataclass           -> nested element
  list[dataclass]       -> repeated elements, optionally inside a wrapper
  RawXml                -> inserted verbatim (parts nubo does not interpret)
  X | None              -> omitted when None
"""
from __future__ import annotations

import dataclasses
import types
import typing
from functools import lru_cache
from typing import Any, Callable, NewType, TypeVar

from lxml import etree

from nubo.template import SingleAttribute, Template, VectorAttribute

RawXml = NewType("RawXml", str)
"""An XML fragment kept as text; rendered verbatim, read back verbatim."""

T = TypeVar("T")

_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})

_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)


def escape(text: str) -> str:
    """Escape text for an XML element body."""
    return text.translate(_ESCAPES)


def xml_field(tag: str | None = None, *, wrap: str | None = None,
              default: Any = dataclasses.MISSING,
              default_factory: Any = dataclasses.MISSING) -> Any:
    """A dataclass field with an explicit XML tag and an optional wrapper element."""
    meta = {"tag": tag, "wrap": wrap}
    if default_factory is not dataclasses.MISSING:
        return dataclasses.field(default_factory=default_factory, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


@dataclasses.dataclass(frozen=True)
class _Spec:
    name: str
    tag: str
    wrap: str | None
    kind: str  # scalar, ids, template, object, objects, raw
    scalar: type | None
    optional: bool
    sub: type | None


def _unwrap_optional(tp: Any) -> tuple[Any, bool]:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return args[0], True
    return tp, False


@lru_cache(maxsize=None)
def _specs(cls: type) -> tuple[_Spec, ...]:
    hints = typing.get_type_hints(cls)
    specs = []
    for f in dataclasses.fields(cls):
        if f.metadata.get("skip"):
            continue
        tp, optional = _unwrap_optional(hints[f.name])
        tag = f.metadata.get("tag") or f.name.upper()
        wrap = f.metadata.get("wrap")
        sub = None
        scalar = None
        if tp is RawXml:
            kind = "raw"
        elif tp is Template:
            kind = "template"
        elif tp in (int, str, float):
            kind, scalar = "scalar", tp
        elif typing.get_origin(tp) is list:
            (item,) = typing.get_args(tp)
            if item is int:
                kind = "ids"
            else:
                kind, sub = "objects", item
        elif dataclasses.is_dataclass(tp):
            kind, sub = "object", tp
        else:
            raise TypeError(f"{cls.__name__}.{f.name}: unsupported type {tp!r}")
        specs.append(_Spec(f.name, tag, wrap, kind, scalar, optional, sub))
    return tuple(specs)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return repr(value) if value != int(value) else str(int(value))
    return escape(str(value))


def render(obj: Any, tag: str) -> str:
    """Render a model dataclass as ``<tag>…</tag>``."""
    out: list[str] = []
    _renderer(type(obj))(obj, tag, out)
    return "".join(out)


def _render_into(obj: Any, tag: str, out: list[str]) -> None:
    _renderer(type(obj))(obj, tag, out)


Step = Callable[[Any, list[str]], None]


@lru_cache(maxsize=None)
def _renderer(cls: type) -> Callable[[Any, str, list[str]], None]:
    """The renderer of a class, built once from its specs: a step per field, so that
    rendering a body is a loop of appends and no decision is taken twice (a VM's or a
    host's body is rendered at every transition)."""
    steps = tuple((spec.name, spec.optional, _step(spec)) for spec in _specs(cls))
    name = cls.__name__

    def render_into(obj: Any, tag: str, out: list[str]) -> None:
        out.append(f"<{tag}>")
        for field_name, optional, step in steps:
            value = getattr(obj, field_name)
            if value is None:
                if optional:
                    continue
                raise ValueError(f"{name}.{field_name} is required")
            step(value, out)
        out.append(f"</{tag}>")
    return render_into


def _step(spec: _Spec) -> Step:
    open_, close = f"<{spec.tag}>", f"</{spec.tag}>"
    if spec.kind == "scalar":
        def scalar(value: Any, out: list[str]) -> None:
            if type(value) is int:
                out.append(f"{open_}{value}{close}")
            elif type(value) is str:
                out.append(f"{open_}{value.translate(_ESCAPES)}{close}")
            else:
                out.append(f"{open_}{_fmt(value)}{close}")
        return scalar
    if spec.kind == "raw":
        return lambda value, out: out.append(value)
    if spec.kind == "template":
        tag = spec.tag
        return lambda value, out: out.append(value.to_xml(root=tag))
    if spec.kind == "ids":
        return lambda value, out: out.append(
            open_ + "".join(f"<ID>{i}</ID>" for i in value) + close)
    sub, tag, wrap = spec.sub, spec.tag, spec.wrap
    if spec.kind == "object":
        return lambda value, out: _render_into(value, tag, out)

    def objects(value: Any, out: list[str]) -> None:
        if wrap:
            out.append(f"<{wrap}>")
        for item in value:
            _renderer(type(item))(item, tag, out)
        if wrap:
            out.append(f"</{wrap}>")
    del sub
    return objects


def parse(cls: type[T], xml: str | bytes) -> T:
    """Read a body produced by :func:`render` back into its dataclass."""
    if isinstance(xml, str):
        xml = xml.encode()
    return from_element(cls, etree.fromstring(xml, _PARSER))


def from_element(cls: type[T], elem: etree._Element) -> T:
    """Build a dataclass from an element (its children in schema order).

    The children are indexed by tag in one pass: ``elem.find`` per field would
    rescan them, and the VM's and host's bodies have dozens of fields.
    """
    children: dict[str, list[etree._Element]] = {}
    for child in elem:
        children.setdefault(child.tag, []).append(child)
    kwargs: dict[str, Any] = {}
    for spec in _specs(cls):
        if spec.kind == "raw":
            kwargs[spec.name] = RawXml("".join(
                etree.tostring(e, encoding="unicode", with_tail=False)
                for e in _raw_children(elem, spec)))
            continue
        if spec.kind == "objects":
            if spec.wrap:
                parent = children.get(spec.wrap)
                items = [] if parent is None else parent[0].findall(spec.tag)
            else:
                items = children.get(spec.tag, ())
            kwargs[spec.name] = [from_element(spec.sub, e) for e in items]
            continue
        found = children.get(spec.tag)
        if found is None:
            if spec.optional:
                kwargs[spec.name] = None
                continue
            raise ValueError(f"<{elem.tag}> has no <{spec.tag}>")
        kwargs[spec.name] = _CONVERT[spec.kind](spec, found[0])
    return cls(**kwargs)


def template_from_element(elem: etree._Element) -> Template:
    """A stored TEMPLATE element back to a Template (bodies nubo wrote are trusted)."""
    attrs = []
    for child in elem:
        if not isinstance(child.tag, str):
            continue  # comments
        if len(child):
            attrs.append(VectorAttribute._trusted(
                child.tag, {c.tag: c.text or "" for c in child if isinstance(c.tag, str)}))
        else:
            attrs.append(SingleAttribute._trusted(child.tag, child.text or ""))
    return Template._trusted(attrs)


def _raw_children(elem: etree._Element, spec: _Spec) -> list[etree._Element]:
    # A raw field covers the elements named by its tag, '|'-separated.
    names = set(spec.tag.split("|"))
    return [e for e in elem if e.tag in names]


def _scalar(spec: _Spec, child: etree._Element) -> Any:
    text = child.text or ""
    assert spec.scalar is not None
    return spec.scalar(text) if spec.scalar is not str else text


_CONVERT: dict[str, Callable[[_Spec, etree._Element], Any]] = {
    "scalar": _scalar,
    "ids": lambda spec, child: [int(e.text) for e in child.findall("ID")],
    "template": lambda spec, child: template_from_element(child),
    "object": lambda spec, child: from_element(spec.sub, child),
}
