"""Scheduler expressions: the rules moved to nubo.core.ops.expressions.

Kept so the families whose handlers still import them from here go on working;
import from nubo.core.ops.expressions instead.
"""
from nubo.core.ops.expressions import check_expressions, validate_update  # noqa: F401
