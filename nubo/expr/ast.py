"""The expression trees: requirements (boolean) and rank (arithmetic).

Plain frozen dataclasses, hashable, so identical expressions (after ``$``
substitution) share one compiled form and one cached evaluation per host.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Union


@dataclass(frozen=True)
class Var:
    """A value of the object evaluated against (host or datastore): a name or a path."""

    name: str


@dataclass(frozen=True)
class Ref:
    """``$NAME`` or ``$VECTOR[NAME]``: a value of the VM being placed."""

    name: str
    sub: str | None = None

    def text(self) -> str:
        return f"${self.name}" + (f"[{self.sub}]" if self.sub else "")


@dataclass(frozen=True)
class Num:
    value: float
    is_int: bool = True


@dataclass(frozen=True)
class Str:
    value: str


Literal = Union[Num, Str]


@dataclass(frozen=True)
class Compare:
    """``VAR op literal``; op is one of = != > < @>."""

    var: Var
    op: str
    rhs: Union[Num, Str, Ref]


@dataclass(frozen=True)
class Not:
    expr: "BoolExpr"


@dataclass(frozen=True)
class And:
    left: "BoolExpr"
    right: "BoolExpr"


@dataclass(frozen=True)
class Or:
    left: "BoolExpr"
    right: "BoolExpr"


@dataclass(frozen=True)
class TrueExpr:
    """The empty requirement: every host qualifies (as OpenNebula's empty string)."""


BoolExpr = Union[Compare, Not, And, Or, TrueExpr]


@dataclass(frozen=True)
class Neg:
    expr: "ArithExpr"


@dataclass(frozen=True)
class BinOp:
    op: str  # + - * /
    left: "ArithExpr"
    right: "ArithExpr"


ArithExpr = Union[Num, Var, Ref, Neg, BinOp]
