"""Errors raised while reading or interpreting templates.

Both cross the API boundary (a bad template in ``one.vm.allocate`` is the
client's fault), so they are :class:`~nubo.errors.NuboError` subclasses.
"""
from __future__ import annotations

from nubo.errors import NuboError


class TemplateSyntaxError(NuboError):
    """A template (text or XML form) that cannot be parsed.

    ``line`` and ``column`` are 1-based and count characters, so a client can
    point at the offending spot; ``reason`` is the message without position.
    """

    code = 0x2000

    def __init__(self, message: str, line: int, column: int) -> None:
        super().__init__(f"syntax error at line {line}, column {column}: {message}")
        self.reason = message
        self.line = line
        self.column = column


class TemplateValueError(NuboError):
    """An attribute is present but its value has the wrong form (e.g. MEMORY=abc)."""

    code = 0x2000
