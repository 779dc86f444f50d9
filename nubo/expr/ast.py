"""The expression trees: requirements (boolean) and rank (arithmetic).

Plain frozen dataclasses, hashable, so identical expressions (after ``$``
substitution) share one compiled form and one cached evaluation per host.

A run of operators of one precedence (``A & B | C``, ``1 + 2 - 3``) is one flat
chain node, not a left-leaning tree: a tree is only as deep as its parentheses
(at most nubo.expr.lexer.MAX_DEPTH), so walking it recursively is safe however
long the expression is.
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
class BoolChain:
    """``first op operand op operand...`` with op ``&`` or ``|``, evaluated left to right
    (OpenNebula gives both the same precedence)."""

    first: "BoolExpr"
    rest: tuple[tuple[str, "BoolExpr"], ...]


@dataclass(frozen=True)
class TrueExpr:
    """The empty requirement: every host qualifies (as OpenNebula's empty string)."""


BoolExpr = Union[Compare, Not, BoolChain, TrueExpr]


@dataclass(frozen=True)
class Neg:
    expr: "ArithExpr"


@dataclass(frozen=True)
class ArithChain:
    """``first op operand...`` with ops of one precedence (``+ -`` or ``* /``), left to right."""

    first: "ArithExpr"
    rest: tuple[tuple[str, "ArithExpr"], ...]


ArithExpr = Union[Num, Var, Ref, Neg, ArithChain]


def negate(expr: BoolExpr) -> BoolExpr:
    """``!expr``, with ``!!x`` as ``x`` (a comparison is true or false, nothing else)."""
    return expr.expr if isinstance(expr, Not) else Not(expr)


def minus(expr: ArithExpr) -> ArithExpr:
    """``-expr``, with ``--x`` as ``x``."""
    return expr.expr if isinstance(expr, Neg) else Neg(expr)
