"""Template attributes: single (``NAME = value``) and vector (``NAME = [ A = x ]``).

Attributes keep their invariants themselves (names folded to upper case and
made of ``[A-Za-z_][A-Za-z0-9_]*``, values plain strings without characters XML
cannot carry), so every template can always be rendered and serialised.
"""
from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from types import MappingProxyType
from typing import Union

from nubo.template.syntax_errors import TemplateValueError

NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Characters XML 1.0 cannot represent, even as character references.
BAD_CHAR_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_INT_RE = re.compile(r"[ \t\r\n]*[+-]?[0-9]+[ \t\r\n]*")
_FLOAT_RE = re.compile(
    r"[ \t\r\n]*[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?[ \t\r\n]*"
)


def fold_name(name: str) -> str:
    """Validate an attribute name and fold it to upper case, as OpenNebula does."""
    if not isinstance(name, str) or NAME_RE.fullmatch(name) is None:
        raise ValueError(f"invalid attribute name {name!r}")
    return name.upper()


def check_value(value: str) -> str:
    """Reject values that are not strings or that no XML document could carry."""
    if not isinstance(value, str):
        raise TypeError(f"attribute values are strings, not {type(value).__name__}")
    bad = BAD_CHAR_RE.search(value)
    if bad is not None:
        raise ValueError(f"invalid character U+{ord(bad.group()):04X} in attribute value")
    return value


def to_int(value: str, what: str) -> int:
    """Read a decimal integer value, naming the attribute in the error."""
    if _INT_RE.fullmatch(value) is None:
        raise TemplateValueError(f"attribute {what} must be an integer, not {value!r}")
    return int(value)


def to_float(value: str, what: str) -> float:
    """Read a decimal number (``0.5``, ``2``, ``1e3``), naming the attribute in the error."""
    if _FLOAT_RE.fullmatch(value) is None:
        raise TemplateValueError(f"attribute {what} must be a number, not {value!r}")
    return float(value)


class SingleAttribute:
    """``NAME = value``: a name and one string value."""

    __slots__ = ("_name", "_value")

    def __init__(self, name: str, value: str) -> None:
        self._name = fold_name(name)
        self._value = check_value(value)

    @classmethod
    def _trusted(cls, name: str, value: str) -> SingleAttribute:
        """Build without validation; for parsers that already checked both parts."""
        attr = object.__new__(cls)
        attr._name = name
        attr._value = value
        return attr

    @property
    def name(self) -> str:
        return self._name

    @property
    def value(self) -> str:
        return self._value

    @value.setter
    def value(self, value: str) -> None:
        self._value = check_value(value)

    def copy(self) -> SingleAttribute:
        return SingleAttribute._trusted(self._name, self._value)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SingleAttribute):
            return NotImplemented
        return self._name == other._name and self._value == other._value

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        return f"SingleAttribute({self._name!r}, {self._value!r})"


class VectorAttribute:
    """``NAME = [ A = x, B = y ]``: a name and an ordered map of sub-attributes.

    Equality ignores the order of the sub-attributes: OpenNebula keeps them in
    a sorted map, so order carries no meaning.
    """

    __slots__ = ("_name", "_values")

    def __init__(self, name: str, values: Mapping[str, str] | None = None) -> None:
        self._name = fold_name(name)
        self._values: dict[str, str] = {}
        for key, value in (values or {}).items():
            self._values[fold_name(key)] = check_value(value)

    @classmethod
    def _trusted(cls, name: str, values: dict[str, str]) -> VectorAttribute:
        """Build without validation, taking ownership of ``values``."""
        attr = object.__new__(cls)
        attr._name = name
        attr._values = values
        return attr

    @property
    def name(self) -> str:
        return self._name

    @property
    def values(self) -> Mapping[str, str]:
        """Read-only view; change sub-attributes with :meth:`set` and :meth:`remove`."""
        return MappingProxyType(self._values)

    def get(self, key: str) -> str | None:
        return self._values.get(key.upper())

    def get_int(self, key: str, default: int | None = None) -> int | None:
        """Sub-attribute as an int; ``default`` if absent, TemplateValueError if malformed."""
        value = self._values.get(key.upper())
        return default if value is None else to_int(value, f"{self._name}/{key.upper()}")

    def get_float(self, key: str, default: float | None = None) -> float | None:
        """Sub-attribute as a float; ``default`` if absent, TemplateValueError if malformed."""
        value = self._values.get(key.upper())
        return default if value is None else to_float(value, f"{self._name}/{key.upper()}")

    def set(self, key: str, value: str) -> None:
        self._values[fold_name(key)] = check_value(value)

    def remove(self, key: str) -> bool:
        """Drop a sub-attribute; tells whether it was there."""
        return self._values.pop(key.upper(), None) is not None

    def items(self) -> Iterator[tuple[str, str]]:
        return iter(self._values.items())

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key.upper() in self._values

    def __len__(self) -> int:
        return len(self._values)

    def copy(self) -> VectorAttribute:
        return VectorAttribute._trusted(self._name, dict(self._values))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, VectorAttribute):
            return NotImplemented
        return self._name == other._name and self._values == other._values

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        return f"VectorAttribute({self._name!r}, {self._values!r})"


Attribute = Union[SingleAttribute, VectorAttribute]
