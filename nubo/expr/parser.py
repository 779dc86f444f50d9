"""Recursive-descent parsers for requirements and rank, with OpenNebula's grammar.

Requirements (src/parsers/expr_bool.y)::

    expr := expr '&' expr | expr '|' expr | '!' expr | '(' expr ')'
          | VAR ('=' | '!=' | '>' | '<' | '@>') (NUMBER | STRING)

``&``, ``|`` and ``!`` have the SAME precedence and associate to the left
(``%left '!' '&' '|'``): ``A | B & C`` is ``(A | B) & C``, and ``!`` applies to the
operand right after it. A VAR is a name or a quoted string (a path); the right
side is a number, a string (quoted, or a bare name) or a ``$`` reference.

Rank (src/parsers/expr_arith.y)::

    expr := expr ('+'|'-') expr | expr ('*'|'/') expr | '-' expr | '(' expr ')'
          | NUMBER | VAR

with the usual precedence. An empty text is "every host" / rank 0.
"""
from __future__ import annotations

from typing import Callable

from nubo.expr.ast import (And, ArithExpr, BinOp, BoolExpr, Compare, Neg, Not, Num, Or, Ref,
                           Str, TrueExpr, Var)
from nubo.expr.lexer import ExprError, Token, describe, tokenize

_COMPARISONS = ("=", "!=", ">", "<", "@>")


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0

    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def take(self) -> Token:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def is_op(self, *ops: str) -> bool:
        return self.tok.kind == "OP" and self.tok.value in ops

    def fail(self, expecting: str, tok: Token | None = None) -> ExprError:
        tok = tok or self.tok
        return ExprError(f"unexpected {describe(tok)}, expecting {expecting}", tok.line,
                         tok.col, self.text)

    def end(self) -> None:
        if self.tok.kind != "END":
            raise self.fail("'&', '|' or the end" if self._bool else "an operator or the end")

    # -- requirements -------------------------------------------------------------
    _bool = True

    def requirements(self) -> BoolExpr:
        if self.tok.kind == "END":
            return TrueExpr()
        expr = self.bool_operand()
        while self.is_op("&", "|"):
            op = self.take().value
            right = self.bool_operand()
            expr = And(expr, right) if op == "&" else Or(expr, right)
        return expr

    def bool_operand(self) -> BoolExpr:
        if self.is_op("!"):
            self.take()
            return Not(self.bool_operand())
        if self.is_op("("):
            open_ = self.take()
            if self.tok.kind == "END":
                raise self.fail("a comparison")
            inner = self.requirements()
            if not self.is_op(")"):
                raise self.fail(f"')' to close the '(' at column {open_.col}")
            self.take()
            return inner
        return self.comparison()

    def comparison(self) -> Compare:
        tok = self.tok
        if tok.kind not in ("NAME", "STRING"):
            raise self.fail("a comparison such as CPUSPEED > 1000")
        self.take()
        var = Var(tok.value)
        if not self.is_op(*_COMPARISONS):
            raise self.fail("one of = != > < @>")
        op = self.take().value
        if self.is_op("=") and op in (">", "<"):
            bad = self.tok
            raise ExprError(f"'{op}=' is not an operator: write (A {op} N | A = N)", bad.line,
                            bad.col - 1, self.text)
        rhs = self.tok
        if rhs.kind in ("INT", "FLOAT"):
            self.take()
            return Compare(var, op, Num(float(rhs.value), rhs.kind == "INT"))
        if rhs.kind in ("STRING", "NAME"):
            self.take()
            if op in (">", "<"):
                raise ExprError(f"'{op}' compares numbers, got {describe(rhs)}", rhs.line,
                                rhs.col, self.text)
            return Compare(var, op, Str(rhs.value))
        if rhs.kind == "REF":
            self.take()
            return Compare(var, op, _ref(rhs))
        raise self.fail("a number, a string or a $reference")

    # -- rank ---------------------------------------------------------------------
    def rank(self) -> ArithExpr:
        if self.tok.kind == "END":
            return Num(0.0)
        return self.sum()

    def sum(self) -> ArithExpr:
        return self.left_assoc(self.product, ("+", "-"))

    def product(self) -> ArithExpr:
        return self.left_assoc(self.unary, ("*", "/"))

    def left_assoc(self, operand: Callable[[], ArithExpr], ops: tuple[str, ...]) -> ArithExpr:
        expr = operand()
        while self.is_op(*ops):
            op = self.take().value
            expr = BinOp(op, expr, operand())
        return expr

    def unary(self) -> ArithExpr:
        tok = self.tok
        if self.is_op("-"):
            self.take()
            return Neg(self.unary())
        if self.is_op("("):
            self.take()
            if self.tok.kind == "END":
                raise self.fail("a number or a name")
            inner = self.sum()
            if not self.is_op(")"):
                raise self.fail(f"')' to close the '(' at column {tok.col}")
            self.take()
            return inner
        if tok.kind in ("INT", "FLOAT"):
            self.take()
            return Num(float(tok.value), tok.kind == "INT")
        if tok.kind in ("NAME", "STRING"):
            self.take()
            return Var(tok.value)
        if tok.kind == "REF":
            self.take()
            return _ref(tok)
        raise self.fail("a number, a name or '('")


def _ref(tok: Token) -> Ref:
    body = tok.value[1:]
    if "[" in body:
        name, sub = body[:-1].split("[", 1)
        return Ref(name.upper(), sub.upper())
    return Ref(body.upper())


def parse_requirements(text: str) -> BoolExpr:
    """A SCHED_REQUIREMENTS / SCHED_DS_REQUIREMENTS text as a tree; raises ExprError."""
    p = _Parser(text)
    p._bool = True
    expr = p.requirements()
    p.end()
    return expr


def parse_rank(text: str) -> ArithExpr:
    """A SCHED_RANK / SCHED_DS_RANK text as a tree; raises ExprError."""
    p = _Parser(text)
    p._bool = False
    expr = p.rank()
    p.end()
    return expr
