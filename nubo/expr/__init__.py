"""SCHED_REQUIREMENTS and SCHED_RANK expressions (pure): parse once, evaluate many times.

``requirements(text)`` / ``rank(text)`` give compiled expressions (cached by
text); ``check(text, kind)`` only validates, for the API. See docs/scheduler.md.
"""
from __future__ import annotations

from nubo.expr.evaluate import Rank, Record, Requirements, Table, rank, requirements
from nubo.expr.lexer import ExprError
from nubo.expr.parser import parse_rank, parse_requirements

#: The template attributes holding expressions, and which language each is in.
EXPRESSION_ATTRIBUTES = {"SCHED_REQUIREMENTS": "requirements",
                         "SCHED_DS_REQUIREMENTS": "requirements",
                         "SCHED_RANK": "rank", "SCHED_DS_RANK": "rank"}


def check(text: str, kind: str = "requirements") -> None:
    """Raise ExprError (message, line, col) unless ``text`` is a valid expression."""
    if kind == "rank":
        parse_rank(text)
    else:
        parse_requirements(text)


__all__ = ["ExprError", "Rank", "Record", "Requirements", "Table", "check", "rank",
           "requirements", "parse_rank", "parse_requirements", "EXPRESSION_ATTRIBUTES"]
