"""Scheduler expressions in VM and VM template bodies are checked before they are stored.

SCHED_REQUIREMENTS, SCHED_RANK, SCHED_DS_REQUIREMENTS and SCHED_DS_RANK must parse
(nubo.expr): a malformed one is refused at allocate, instantiate and update with
an INTERNAL error naming the attribute, the line and the column, and nothing is
stored. The scheduler's limits (nubo.expr.lexer.MAX_DEPTH, MAX_LENGTH) are checked
here too, so that no user can store an expression the scheduler would refuse.
"""
from __future__ import annotations

from typing import Any

from nubo.core.ops.call import Call
from nubo.errors import InternalError
from nubo.expr import EXPRESSION_ATTRIBUTES, ExprError, check
from nubo.template import SingleAttribute, Template


def check_expressions(template: Template, oid: int = -1) -> None:
    """Raise InternalError for the first malformed scheduler expression of ``template``."""
    for attr in template:
        kind = EXPRESSION_ATTRIBUTES.get(attr.name)
        if kind is None or not isinstance(attr, SingleAttribute):
            continue
        try:
            check(attr.value, kind)
        except ExprError as e:
            shown = attr.value if len(attr.value) <= 80 else attr.value[:77] + "..."
            raise InternalError(f'Error parsing {attr.name} "{shown}": {e}', oid) from None


def validate_update(call: Call, obj: Any, new: Template) -> None:
    """For one.vm.update and one.template.update: the updated template's expressions
    must parse."""
    check_expressions(new, obj.id)
