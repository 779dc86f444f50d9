"""Scheduler expressions: the rules are the core's (nubo.core.ops.expressions); the API's
family modules that still import them from here get them from there."""
from nubo.core.ops.expressions import check_expressions, validate_update

__all__ = ["check_expressions", "validate_update"]
