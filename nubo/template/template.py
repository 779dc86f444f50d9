"""The template: an ordered list of attributes, names repeatable (several DISK).

Order is kept for readable output, but equality ignores the order *between*
different names, as OpenNebula itself stores templates sorted by name; the
order of attributes sharing a name (DISK 0, DISK 1, ...) does matter.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

from nubo.template.attributes import (
    Attribute,
    SingleAttribute,
    VectorAttribute,
    to_float,
    to_int,
)


class Template:
    """A parsed OpenNebula template (VM, image, network, user template, ...)."""

    __slots__ = ("_attrs",)

    def __init__(self, attributes: Iterable[Attribute] = ()) -> None:
        self._attrs: list[Attribute] = []
        for attr in attributes:
            self.add(attr)

    @classmethod
    def _trusted(cls, attrs: list[Attribute]) -> Template:
        """Wrap a list built by a parser, taking ownership of it."""
        tmpl = object.__new__(cls)
        tmpl._attrs = attrs
        return tmpl

    # -- reading ---------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._attrs)

    def __iter__(self) -> Iterator[Attribute]:
        return iter(self._attrs)

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        name = name.upper()
        return any(a.name == name for a in self._attrs)

    def names(self) -> list[str]:
        """Distinct attribute names, in order of first appearance."""
        return list(dict.fromkeys(a.name for a in self._attrs))

    def get_all(self, name: str) -> list[Attribute]:
        """Every attribute called ``name``, single or vector, in order."""
        name = name.upper()
        return [a for a in self._attrs if a.name == name]

    def get(self, name: str) -> str | None:
        """Value of the first single attribute called ``name``, or None."""
        name = name.upper()
        for attr in self._attrs:
            if attr.name == name and isinstance(attr, SingleAttribute):
                return attr.value
        return None

    def get_int(self, name: str, default: int | None = None) -> int | None:
        """``get`` as an int; ``default`` when absent, TemplateValueError when malformed."""
        value = self.get(name)
        return default if value is None else to_int(value, name.upper())

    def get_float(self, name: str, default: float | None = None) -> float | None:
        """``get`` as a float; ``default`` when absent, TemplateValueError when malformed."""
        value = self.get(name)
        return default if value is None else to_float(value, name.upper())

    def get_vectors(self, name: str) -> list[VectorAttribute]:
        """All vector attributes called ``name`` (e.g. every DISK), in order."""
        name = name.upper()
        return [a for a in self._attrs if a.name == name and isinstance(a, VectorAttribute)]

    def get_vector(self, name: str) -> VectorAttribute | None:
        """The first vector attribute called ``name``, or None."""
        found = self.get_vectors(name)
        return found[0] if found else None

    # -- changing --------------------------------------------------------------

    def add(self, attr: Attribute) -> None:
        """Append an attribute, keeping any others of the same name."""
        if not isinstance(attr, (SingleAttribute, VectorAttribute)):
            raise TypeError(f"not a template attribute: {attr!r}")
        self._attrs.append(attr)

    def set(self, name: str, value: str | Mapping[str, str]) -> None:
        """Replace every attribute called ``name`` by one new attribute.

        A string makes a single attribute, a mapping a vector attribute.  The
        new attribute takes the place of the first one replaced.
        """
        attr: Attribute
        if isinstance(value, str):
            attr = SingleAttribute(name, value)
        elif isinstance(value, Mapping):
            attr = VectorAttribute(name, value)
        else:
            raise TypeError(f"a value is a str or a mapping, not {type(value).__name__}")
        self._replace_groups({attr.name: [attr]})

    def remove(self, name: str) -> int:
        """Drop every attribute called ``name``; returns how many were dropped."""
        name = name.upper()
        kept = [a for a in self._attrs if a.name != name]
        removed = len(self._attrs) - len(kept)
        self._attrs = kept
        return removed

    def merge(self, other: Template) -> None:
        """Apply ``other`` as OpenNebula's update type 1 (merge) does.

        Each name present in ``other`` replaces all attributes of that name;
        other names are kept.  An empty vector attribute in ``other`` only
        deletes (``DISK=[]`` removes every DISK), as in OpenNebula.
        """
        groups: dict[str, list[Attribute]] = {}
        for attr in other._attrs:
            group = groups.setdefault(attr.name, [])
            if isinstance(attr, SingleAttribute) or len(attr):
                group.append(attr.copy())
        self._replace_groups(groups)

    def _replace_groups(self, groups: dict[str, list[Attribute]]) -> None:
        """Swap in ``groups`` (name -> attributes), each where its name first was."""
        result: list[Attribute] = []
        placed: set[str] = set()
        for attr in self._attrs:
            if attr.name not in groups:
                result.append(attr)
            elif attr.name not in placed:
                placed.add(attr.name)
                result.extend(groups[attr.name])
        for name, group in groups.items():
            if name not in placed:
                result.extend(group)
        self._attrs = result

    # -- whole template ----------------------------------------------------------

    def copy(self) -> Template:
        """A deep copy: changing it never changes this template."""
        return Template._trusted([a.copy() for a in self._attrs])

    def render(self) -> str:
        """The text form, one attribute per line (see nubo.template.text_render)."""
        from nubo.template.text_render import render

        return render(self._attrs)

    def to_xml(self, root: str = "TEMPLATE") -> str:
        """OpenNebula's XML form, values in CDATA (see nubo.template.xml_render)."""
        from nubo.template.xml_render import to_xml

        return to_xml(self._attrs, root)

    def _grouped(self) -> dict[str, list[Attribute]]:
        groups: dict[str, list[Attribute]] = {}
        for attr in self._attrs:
            groups.setdefault(attr.name, []).append(attr)
        return groups

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Template):
            return NotImplemented
        return self._grouped() == other._grouped()

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        return f"Template({self._attrs!r})"


def apply_update(current: Template, new: Template, update_type: int) -> Template:
    """Result of ``one.*.update``: type 0 replaces the template, type 1 merges into it."""
    if update_type == 0:
        return new.copy()
    if update_type == 1:
        merged = current.copy()
        merged.merge(new)
        return merged
    raise ValueError(f"update type must be 0 (replace) or 1 (merge), not {update_type!r}")
