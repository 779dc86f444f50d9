"""Compiled requirements and ranks: parse once, evaluate many times.

The values an expression reads come from a *record*: a mapping from a name
(``CPUSPEED``, ``HOST_SHARE/MAX_CPU``...) to the tuple of that name's values
(several for a repeated element, which ``@>`` searches). nubo.sched.snapshot
builds the records; this module does not know what a host is.

Semantics, as OpenNebula's parsers (src/parsers/expr_bool.y, expr_arith.y):

- a comparison with a name the record does not have is false, whatever the
  operator (``!=`` too); ``!`` of it is true;
- against a number the value is read as a number (not a number: false);
  against a string ``=``/``!=`` are shell wildcard matches (``NAME = "web*"``),
  and an empty string never matches;
- ``@>`` is true when any of the values equals the number / matches the string;
- in a rank a missing or non-numeric value is 0, ``x / 0`` is 0 (OpenNebula's
  float division would give infinity), and the result is truncated to an
  integer as OpenNebula's ``static_cast<int>`` does (an overflow is the largest
  64-bit integer, not an error: no VM's rank can fail a cycle).

Requirements also evaluate for a whole table of records at once (``mask``):
each distinct comparison is computed once per record and kept as a bit mask
(bit i: record i passes), so expressions that share comparisons share the
work, and ``&``, ``|``, ``!`` are integer operations.
"""
from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

from nubo.expr.ast import (ArithChain, ArithExpr, BoolChain, BoolExpr, Compare, Neg, Not, Num,
                           Ref, Str, TrueExpr, Var)
from nubo.expr.lexer import ExprError
from nubo.expr.parser import parse_rank, parse_requirements

Values = tuple[str, ...]
Record = Mapping[str, Values]
#: Resolves a ``$`` reference to the VM's value (None: the VM has no such value).
RefLookup = Callable[[Ref], "str | None"]


def to_number(text: str) -> float | None:
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def _matcher(pattern: str) -> Callable[[str], bool]:
    if not any(c in pattern for c in "*?["):
        return pattern.__eq__
    return re.compile(fnmatch.translate(pattern), re.DOTALL).match  # type: ignore[return-value]


def predicate(cmp: Compare) -> Callable[[Values | None], bool]:
    """The test one comparison makes of a name's values."""
    op, rhs = cmp.op, cmp.rhs
    if isinstance(rhs, Ref):
        raise ValueError(f"unsubstituted reference {rhs.text()}")
    if isinstance(rhs, Num):
        n = rhs.value
        if op == "@>":
            return lambda vs: bool(vs) and any(to_number(v) == n for v in vs)
        test = {"=": n.__eq__, "!=": n.__ne__, ">": n.__lt__, "<": n.__gt__}[op]

        def numeric(vs: Values | None) -> bool:
            if not vs:
                return False
            v = to_number(vs[0])
            return v is not None and test(v) is True
        return numeric
    if not rhs.value:  # OpenNebula's lexer gives "" as a null string: never matches
        return lambda vs: False
    match = _matcher(rhs.value)
    if op == "=":
        return lambda vs: bool(vs) and bool(match(vs[0]))
    if op == "!=":
        return lambda vs: bool(vs) and not match(vs[0])
    if op == "@>":
        return lambda vs: bool(vs) and any(match(v) for v in vs)
    raise ValueError(f"'{op}' does not compare strings")


# ------------------------------------------------------------------ substitution

def _literal(value: str | None) -> Num | Str:
    if value is None:
        return Str("")
    n = to_number(value)
    return Str(value) if n is None else Num(n, float(n).is_integer())


def substitute_bool(expr: BoolExpr, lookup: RefLookup) -> BoolExpr:
    """The expression with every ``$`` reference replaced by the VM's value.

    Raises ExprError when a value makes the comparison meaningless (``> $NAME`` with
    a NAME that is not a number), as OpenNebula's parse of the substituted text fails.
    """
    if isinstance(expr, Compare):
        if isinstance(expr.rhs, Ref):
            value = _literal(lookup(expr.rhs))
            if expr.op in (">", "<") and isinstance(value, Str) and value.value:
                raise ExprError(f"'{expr.op}' compares numbers, but {expr.rhs.text()} is "
                                f'"{value.value}"', 0, 0)
            return Compare(expr.var, expr.op, value)
        return expr
    if isinstance(expr, Not):
        return Not(substitute_bool(expr.expr, lookup))
    if isinstance(expr, BoolChain):
        return BoolChain(substitute_bool(expr.first, lookup),
                         tuple((op, substitute_bool(e, lookup)) for op, e in expr.rest))
    return expr


def substitute_arith(expr: ArithExpr, lookup: RefLookup) -> ArithExpr:
    if isinstance(expr, Ref):
        n = to_number(lookup(expr) or "")
        return Num(n if n is not None else 0.0)
    if isinstance(expr, Neg):
        return Neg(substitute_arith(expr.expr, lookup))
    if isinstance(expr, ArithChain):
        return ArithChain(substitute_arith(expr.first, lookup),
                          tuple((op, substitute_arith(e, lookup)) for op, e in expr.rest))
    return expr


def _nodes(tree: object) -> list[object]:
    """Every node of a tree (without recursion)."""
    out, todo = [], [tree]
    while todo:
        node = todo.pop()
        out.append(node)
        if isinstance(node, (Not, Neg)):
            todo.append(node.expr)
        elif isinstance(node, (BoolChain, ArithChain)):
            todo.append(node.first)
            todo.extend(e for _, e in node.rest)
    return out


def _refs(tree: object) -> bool:
    return any(isinstance(n, Ref) or isinstance(n, Compare) and isinstance(n.rhs, Ref)
               for n in _nodes(tree))


def _names(tree: object) -> frozenset[str]:
    return frozenset(n.name if isinstance(n, Var) else n.var.name  # type: ignore[union-attr]
                     for n in _nodes(tree) if isinstance(n, (Var, Compare)))


# ----------------------------------------------------------------------- compile

def _compile_bool(expr: BoolExpr) -> Callable[[Record], bool]:
    if isinstance(expr, TrueExpr):
        return lambda r: True
    if isinstance(expr, Compare):
        test, name = predicate(expr), expr.var.name
        return lambda r: test(r.get(name))
    if isinstance(expr, Not):
        inner = _compile_bool(expr.expr)
        return lambda r: not inner(r)
    first = _compile_bool(expr.first)  # type: ignore[union-attr]
    rest = [(op == "&", _compile_bool(e)) for op, e in expr.rest]  # type: ignore[union-attr]
    if len(rest) == 1:  # the most common chain: no loop
        (is_and, second), = rest
        return (lambda r: first(r) and second(r)) if is_and else \
            (lambda r: first(r) or second(r))

    def chain(r: Record) -> bool:
        value = first(r)
        for is_and, operand in rest:
            value = (value and operand(r)) if is_and else (value or operand(r))
        return value
    return chain


def _value(vs: Values | None) -> float:
    if not vs:
        return 0.0
    n = to_number(vs[0])
    return 0.0 if n is None else n


RANK_MAX = 2**63 - 1
_SAFE = 9.2e18  # a float below RANK_MAX: int() of anything within is in 64 bits


def truncate(value: float) -> int:
    """A rank's value as an integer: toward zero, within 64 bits (not a number: 0)."""
    try:
        n = int(value)
    except ValueError:  # nan
        return 0
    except OverflowError:  # infinite
        return RANK_MAX if value > 0 else -RANK_MAX
    return n if -RANK_MAX <= n <= RANK_MAX else (RANK_MAX if n > 0 else -RANK_MAX)


def _div(a: float, b: float) -> float:
    return a / b if b else 0.0


_ARITH = {"+": float.__add__, "-": float.__sub__, "*": float.__mul__, "/": _div}


def _compile_arith(expr: ArithExpr) -> Callable[[Record], float]:
    if isinstance(expr, Num):
        value = expr.value
        return lambda r: value
    if isinstance(expr, Var):
        name = expr.name
        return lambda r: _value(r.get(name))
    if isinstance(expr, Neg):
        inner = _compile_arith(expr.expr)
        return lambda r: -inner(r)
    if isinstance(expr, ArithChain):
        first = _compile_arith(expr.first)
        rest = [(_ARITH[op], _compile_arith(e)) for op, e in expr.rest]
        if len(rest) == 1:  # the most common chains: no loop
            (fn, second), = rest
            return lambda r: fn(first(r), second(r))
        if len(rest) == 2:
            (fn, second), (fn2, third) = rest
            return lambda r: fn2(fn(first(r), second(r)), third(r))

        def chain(r: Record) -> float:
            value = first(r)
            for fn, operand in rest:
                value = fn(value, operand(r))
            return value
        return chain
    raise ValueError(f"unsubstituted reference {expr.text()}")  # type: ignore[union-attr]


@dataclass(frozen=True)
class _Compiled:
    """An expression tree with its compiled evaluator (none until its ``$`` are bound)."""

    tree: Any
    text: str = ""
    has_refs: bool = field(init=False)
    names: frozenset[str] = field(init=False)
    _fn: Callable[[Record], Any] | None = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "has_refs", _refs(self.tree))
        object.__setattr__(self, "names", _names(self.tree))
        object.__setattr__(self, "_fn", None if self.has_refs else self._compile(self.tree))

    @staticmethod
    def _compile(tree: Any) -> Callable[[Record], Any]:
        raise NotImplementedError

    @staticmethod
    def _substitute(tree: Any, lookup: RefLookup) -> Any:
        raise NotImplementedError

    def bind(self, lookup: RefLookup) -> Any:
        """The expression for one VM (its ``$`` references substituted)."""
        return type(self)(self._substitute(self.tree, lookup), self.text) if self.has_refs \
            else self

    def _run(self, record: Record) -> Any:
        if self._fn is None:
            raise ValueError("bind the VM's $ references first")
        return self._fn(record)


@dataclass(frozen=True)
class Requirements(_Compiled):
    """A compiled requirement expression."""

    _compile = staticmethod(_compile_bool)
    _substitute = staticmethod(substitute_bool)

    def matches(self, record: Record) -> bool:
        return bool(self._run(record))

    def mask(self, table: "Table") -> int:
        """Bit i set when record i of the table meets the requirements."""
        return table.mask(self.tree)


@dataclass(frozen=True)
class Rank(_Compiled):
    """A compiled rank expression."""

    _compile = staticmethod(_compile_arith)
    _substitute = staticmethod(substitute_arith)

    def score(self, record: Record) -> int:
        value = self._run(record)
        return int(value) if -_SAFE <= value <= _SAFE else truncate(value)


class Table:
    """Records evaluated together, with each distinct comparison's bit mask kept."""

    def __init__(self, records: Sequence[Record]) -> None:
        self.records = records
        self.all = (1 << len(records)) - 1
        self._atoms: dict[Compare, int] = {}

    def atom(self, cmp: Compare) -> int:
        mask = self._atoms.get(cmp)
        if mask is None:
            test, name = predicate(cmp), cmp.var.name
            bits = "".join("1" if test(r.get(name)) else "0" for r in reversed(self.records))
            mask = self._atoms[cmp] = int(bits or "0", 2)
        return mask

    def mask(self, expr: BoolExpr) -> int:
        if isinstance(expr, TrueExpr):
            return self.all
        if isinstance(expr, Compare):
            return self.atom(expr)
        if isinstance(expr, Not):
            return self.all & ~self.mask(expr.expr)
        value = self.mask(expr.first)  # type: ignore[union-attr]
        for op, operand in expr.rest:  # type: ignore[union-attr]
            if op == "&":
                value = value & self.mask(operand) if value else 0
            elif value != self.all:
                value |= self.mask(operand)
        return value


_REQ_CACHE: dict[str, Requirements] = {}
_RANK_CACHE: dict[str, Rank] = {}
_CACHE_MAX = 4096


def requirements(text: str) -> Requirements:
    """The compiled requirements of ``text`` (cached by text); raises ExprError."""
    found = _REQ_CACHE.get(text)
    if found is None:
        if len(_REQ_CACHE) >= _CACHE_MAX:
            _REQ_CACHE.clear()
        found = _REQ_CACHE[text] = Requirements(parse_requirements(text), text)
    return found


def rank(text: str) -> Rank:
    """The compiled rank of ``text`` (cached by text); raises ExprError."""
    found = _RANK_CACHE.get(text)
    if found is None:
        if len(_RANK_CACHE) >= _CACHE_MAX:
            _RANK_CACHE.clear()
        found = _RANK_CACHE[text] = Rank(parse_rank(text), text)
    return found
