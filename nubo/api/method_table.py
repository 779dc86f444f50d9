"""The table of API methods: name, typed parameters and handler.

Every method looks the same: a function taking a :class:`Call` and its typed
arguments, registered with :func:`api`. The request manager checks the
arguments against the declared parameters before the handler runs, so a
handler never sees a wrong type.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

_MISSING: Any = object()
INT32_MIN, INT32_MAX = -2**31, 2**31 - 1


@dataclass(frozen=True)
class Param:
    name: str
    type: type
    default: Any = _MISSING

    @property
    def optional(self) -> bool:
        return self.default is not _MISSING

    def accepts(self, value: Any) -> bool:
        if self.type is int:
            return isinstance(value, int) and not isinstance(value, bool)
        if self.type is list:
            return isinstance(value, list)
        return isinstance(value, self.type)

    @property
    def xmlrpc_type(self) -> str:
        return {int: "int", str: "string", bool: "boolean", list: "array",
                float: "double"}[self.type]


def Int(name: str, default: Any = _MISSING) -> Param:  # noqa: N802 - reads like a type
    return Param(name, int, default)


def Str(name: str, default: Any = _MISSING) -> Param:  # noqa: N802
    return Param(name, str, default)


def Bool(name: str, default: Any = _MISSING) -> Param:  # noqa: N802
    return Param(name, bool, default)


def Array(name: str, default: Any = _MISSING) -> Param:  # noqa: N802
    return Param(name, list, default)


@dataclass(frozen=True)
class Method:
    name: str
    params: tuple[Param, ...]
    handler: Callable[..., Any]

    def signature(self) -> str:
        return ", ".join(f"{p.xmlrpc_type} {p.name}" + ("?" if p.optional else "")
                         for p in self.params)


METHODS: dict[str, Method] = {}


def api(name: str, *params: Param) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a handler for an XML-RPC method (the session argument is implicit)."""
    def register(fn: Callable[..., Any]) -> Callable[..., Any]:
        if name in METHODS:
            raise ValueError(f"method {name} registered twice")
        METHODS[name] = Method(name, params, fn)
        return fn
    return register


class SignatureError(Exception):
    """Arguments that do not match the method's parameters (an XML-RPC fault)."""


def bind(method: Method, args: list[Any]) -> list[Any]:
    """Check arguments against the parameters and fill in optional defaults.

    Arguments beyond the declared ones are ignored, as oned does (its handlers
    read their parameters by position and never check for more): the Ruby
    OCA's paginated listings send a fourth (state) argument to every pool,
    e.g. ``one.imagepool.info(filter, offset, -size, -1)``.
    """
    params = method.params
    required = sum(1 for p in params if not p.optional)
    if len(args) < required:
        raise SignatureError(
            f"{method.name} takes {required}"
            + (f" to {len(params)}" if len(params) != required else "")
            + f" arguments after the session ({method.signature()}), got {len(args)}")
    bound = []
    for i, p in enumerate(params):
        if i < len(args):
            if not p.accepts(args[i]):
                raise SignatureError(
                    f"{method.name}: argument {i + 2} ({p.name}) must be {p.xmlrpc_type}, "
                    f"got {type(args[i]).__name__}")
            if p.type is int and not INT32_MIN <= args[i] <= INT32_MAX:
                # oned reads every integer argument as an i4 (xmlrpc-c's getInt): an i8
                # beyond its range is a type error there too.
                raise SignatureError(
                    f"{method.name}: argument {i + 2} ({p.name}) must be a 32-bit int, "
                    f"got {args[i]}")
            bound.append(args[i])
        else:
            bound.append(p.default)
    return bound


def is_id(param: Param) -> bool:
    """An object id argument ("id", "host_id", "uid"...): -1 is its only negative value."""
    return param.type is int and (param.name in ("id", "uid", "gid", "egid")
                                  or param.name.endswith("_id"))


def id_problem(method: Method, args: list[Any]) -> str | None:
    """Why a bound argument list names an impossible object id, or None.

    -1 is the documented "default"/"none"/"myself" of every id argument; any other
    negative id is a mistake that must not reach a handler (oned's ``ds_id < 0``
    tests would take -99 for the default).
    """
    for param, value in zip(method.params, args):
        if is_id(param) and value < -1:
            return f"Wrong {param.name} {value}: ids are -1 or from 0 to {INT32_MAX}"
    return None
