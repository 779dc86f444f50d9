"""Recursive-descent parsers for requirements and rank, with OpenNebula's grammar.

They recurse only into parentheses (refused beyond MAX_DEPTH levels): chains of
operators are read in a loop, and runs of ``!`` or ``-`` are counted, not nested.

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

from nubo.expr.ast import (ArithChain, ArithExpr, BoolChain, BoolExpr, Compare, Num, Ref, Str,
                           TrueExpr, Var, minus, negate)
from nubo.expr.lexer import MAX_DEPTH, ExprError, Token, describe, tokenize

_COMPARISONS = ("=", "!=", ">", "<", "@>")


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0
        self.depth = 0

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

    def enter(self, open_: Token) -> None:
        """One more level of parentheses: refused beyond MAX_DEPTH."""
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ExprError(f"expression nested too deeply (limit {MAX_DEPTH} levels of "
                            "parentheses)", open_.line, open_.col, self.text)

    def close(self, open_: Token) -> None:
        if not self.is_op(")"):
            raise self.fail(f"')' to close the '(' at column {open_.col}")
        self.take()
        self.depth -= 1

    # -- requirements -------------------------------------------------------------
    _bool = True

    def requirements(self) -> BoolExpr:
        if self.tok.kind == "END":
            return TrueExpr()
        return self.bool_chain()

    def bool_chain(self) -> BoolExpr:
        first = self.bool_operand()
        rest = []
        while self.is_op("&", "|"):
            op = self.take().value
            rest.append((op, self.bool_operand()))
        return BoolChain(first, tuple(rest)) if rest else first

    def bool_operand(self) -> BoolExpr:
        negations = 0
        while self.is_op("!"):
            self.take()
            negations += 1
        if self.is_op("("):
            open_ = self.take()
            self.enter(open_)
            if self.tok.kind == "END":
                raise self.fail("a comparison")
            operand = self.bool_chain()
            self.close(open_)
        else:
            operand = self.comparison()
        return negate(operand) if negations % 2 else operand

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
        """A sum of products, both read in this one loop: a level of parentheses costs
        two frames (sum, unary), however long the chains."""
        terms: list[tuple[str, ArithExpr]] = []
        op = "+"
        while True:
            head, factors = self.unary(), []
            while self.is_op("*", "/"):
                factors.append((self.take().value, self.unary()))
            terms.append((op, ArithChain(head, tuple(factors)) if factors else head))
            if not self.is_op("+", "-"):
                break
            op = self.take().value
        first, rest = terms[0][1], tuple(terms[1:])
        return ArithChain(first, rest) if rest else first

    def unary(self) -> ArithExpr:
        signs = 0
        while self.is_op("-"):
            self.take()
            signs += 1
        tok = self.tok
        if self.is_op("("):
            self.take()
            self.enter(tok)
            if self.tok.kind == "END":
                raise self.fail("a number or a name")
            operand = self.sum()
            self.close(tok)
        elif tok.kind in ("INT", "FLOAT"):
            self.take()
            operand = Num(float(tok.value), tok.kind == "INT")
        elif tok.kind in ("NAME", "STRING"):
            self.take()
            operand = Var(tok.value)
        elif tok.kind == "REF":
            self.take()
            operand = _ref(tok)
        else:
            raise self.fail("a number, a name or '('")
        return minus(operand) if signs % 2 else operand


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
