"""CLI failures and the exit codes scripts rely on.

0 ok, 1 the API refused (or a wait failed), 2 bad usage, 3 the endpoint is
unreachable or the credentials are wrong. Every failure is one of these, so
``main`` is the only place that prints an error and picks the code.
"""
from __future__ import annotations

OK, API_ERROR, USAGE, CONNECTION = 0, 1, 2, 3

AUTHENTICATION = 0x0100  # OpenNebula's error code for wrong credentials


class CliError(Exception):
    """A failure reported on stderr; ``exit_code`` is what the process returns."""

    exit_code = API_ERROR

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UsageError(CliError):
    """The command line (or a file it names) is wrong: nothing was sent."""

    exit_code = USAGE


class ConnectError(CliError):
    """The endpoint cannot be reached, or it refused the credentials."""

    exit_code = CONNECTION


class ApiFailure(CliError):
    """The API answered with a failure (OpenNebula's error ``code``) or a fault."""

    def __init__(self, message: str, code: int = 0, method: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.method = method


class UnsupportedMethod(ApiFailure):
    """The server has no such method (an older core, or a feature not built yet)."""
