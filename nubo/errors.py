"""Errors that cross the API boundary, with OpenNebula's XML-RPC error codes.

Every failure a client can see is one of these; the request manager turns it
into OpenNebula's failure reply ``[false, message, code, object id, i8]``.
"""
from __future__ import annotations


class NuboError(Exception):
    """Base of all errors reported to API clients."""

    code = 0x2000

    def __init__(self, message: str, object_id: int = -1) -> None:
        super().__init__(message)
        self.message = message
        self.object_id = object_id


class AuthenticationError(NuboError):
    """Wrong or missing credentials (OpenNebula AUTHENTICATION, 0x100)."""

    code = 0x0100


class AuthorizationError(NuboError):
    """Authenticated but not allowed (OpenNebula AUTHORIZATION, 0x200)."""

    code = 0x0200


class NoExistsError(NuboError):
    """The object does not exist (OpenNebula NO_EXISTS, 0x400)."""

    code = 0x0400


class ActionError(NuboError):
    """Action not allowed in the object's state (OpenNebula ACTION, 0x800)."""

    code = 0x0800


class ApiError(NuboError):
    """Malformed call: wrong arguments or types (OpenNebula XML_RPC_API, 0x1000)."""

    code = 0x1000


class InternalError(NuboError):
    """Unexpected server-side failure (OpenNebula INTERNAL, 0x2000)."""

    code = 0x2000


class AllocateError(NuboError):
    """The object could not be created, e.g. duplicate name (OpenNebula ALLOCATE, 0x4000)."""

    code = 0x4000


class LockedError(NuboError):
    """The object is locked (OpenNebula LOCKED, 0x8000)."""

    code = 0x8000
