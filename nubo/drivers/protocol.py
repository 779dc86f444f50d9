"""The line protocol between the core and a driver process (see docs/drivers.md).

Drivers are separate programs, possibly written in any language, so the protocol
is deliberately the one OpenNebula's drivers speak: one message per line over the
driver's stdin/stdout, space-separated tokens, the payload base64 so that a line
never holds a newline.

Core -> driver::

    INIT
    ACTION ID HOST PAYLOAD_BASE64
    FINALIZE

Driver -> core::

    INIT SUCCESS|FAILURE [INFO]
    ACTION SUCCESS|FAILURE ID [INFO]
    LOG I|W|E|D ID|- MESSAGE

Parsing is strict (one space between tokens, an upper-case action, a decimal
id, a valid base64 payload) because a driver that drifts from the protocol
should be noticed at once rather than half-understood; every violation raises
:class:`ProtocolError` with a message that says what was wrong, and nothing else
is ever raised for any input (the tests feed arbitrary bytes to check it).
Module-level functions work on ``bytes`` because that is what the pipes carry
and it saves a decode per line on the hot path.
"""
from __future__ import annotations

import binascii
import re
from dataclasses import dataclass

#: Longest line accepted from a driver. Host monitoring of a host with thousands of
#: VMs is a large base64 blob; anything beyond this is a runaway driver.
MAX_LINE = 16 * 1024 * 1024

SUCCESS = "SUCCESS"
FAILURE = "FAILURE"
LOG_LEVELS = frozenset("IWED")  # info, warning, error, debug (OpenNebula uses I, E, D)

_ACTION_RE = re.compile(rb"[A-Z][A-Z0-9_]{0,63}\Z")
_ID_RE = re.compile(rb"(?:0|[1-9][0-9]{0,18})\Z")
# A host name: any printable token without whitespace; "-" means "no host".
_HOST_RE = re.compile(rb"[^\x00-\x20\x7f]{1,255}\Z")


class ProtocolError(ValueError):
    """A line that does not follow the protocol; the message says why."""

    def __init__(self, reason: str, line: bytes | str = b"") -> None:
        self.reason = reason
        self.line = line if isinstance(line, bytes) else line.encode("utf-8", "replace")
        super().__init__(f"{reason}: {excerpt(self.line)}" if self.line else reason)


def excerpt(line: bytes, limit: int = 120) -> str:
    """A printable, bounded rendering of a line for error messages and logs."""
    text = repr(line[:limit])[2:-1]
    return text + ("..." if len(line) > limit else "")


# ---------------------------------------------------------------------------- messages

@dataclass(frozen=True, slots=True)
class Request:
    """An action the core asks a driver to perform."""

    action: str
    oid: int
    host: str | None
    payload: bytes = b""


@dataclass(frozen=True, slots=True)
class Init:
    """The core's handshake, first line a driver reads."""


@dataclass(frozen=True, slots=True)
class Finalize:
    """The core is shutting down; the driver should exit."""


@dataclass(frozen=True, slots=True)
class Reply:
    """A driver's answer to one action."""

    action: str
    success: bool
    oid: int
    info: str = ""


@dataclass(frozen=True, slots=True)
class InitReply:
    """A driver's answer to INIT."""

    success: bool
    info: str = ""


@dataclass(frozen=True, slots=True)
class LogMessage:
    """A log line a driver sends about an action (oid) or about itself (oid None)."""

    level: str
    oid: int | None
    message: str


CoreMessage = Request | Init | Finalize
DriverMessage = Reply | InitReply | LogMessage


# ---------------------------------------------------------------------------- helpers

def check_action(action: str) -> str:
    """Validate an action name (raises ValueError): callers' bugs surface at submit."""
    if not isinstance(action, str) or not _ACTION_RE.match(action.encode("ascii", "replace")):
        raise ValueError(f"action must be an upper-case word ([A-Z][A-Z0-9_]*), got {action!r}")
    if action in ("INIT", "FINALIZE", "LOG"):
        raise ValueError(f"{action} is a protocol word, not an action")
    return action


def check_host(host: str | None) -> str | None:
    """Validate a host name for the wire (None or "-" mean no host)."""
    if host is None or host == "-":
        return None
    if not isinstance(host, str) or not _HOST_RE.match(host.encode("utf-8", "replace")):
        raise ValueError(f"host must be a non-empty name without whitespace, got {host!r}")
    return host


def encode_payload(payload: bytes | str) -> bytes:
    """Base64 of a payload ("-" when empty, so the field is never missing)."""
    if isinstance(payload, str):
        payload = payload.encode("utf-8")
    return binascii.b2a_base64(payload, newline=False) if payload else b"-"


def decode_payload(field: bytes | str) -> bytes:
    """Strictly decode a base64 field (raises ProtocolError)."""
    if isinstance(field, str):
        field = field.encode("ascii", "replace")
    if field == b"-":
        return b""
    if len(field) % 4 or field.endswith(b"==="):
        raise ProtocolError("payload is not base64 (bad length or padding)", field)
    try:  # strict mode checks the alphabet and the padding, in C (a regex costs more)
        return binascii.a2b_base64(field, strict_mode=True)
    except binascii.Error as e:
        raise ProtocolError(f"payload is not base64 ({e})", field) from None


def _strip_eol(line: bytes | str) -> bytes:
    if isinstance(line, str):
        line = line.encode("utf-8")
    if line.endswith(b"\n"):
        line = line[:-1]
    if line.endswith(b"\r"):
        line = line[:-1]
    if b"\n" in line or b"\r" in line:
        raise ProtocolError("more than one line", line)
    if len(line) > MAX_LINE:
        raise ProtocolError(f"line longer than {MAX_LINE} bytes", line)
    return line


def _oid(token: bytes, line: bytes) -> int:
    if not _ID_RE.match(token):
        raise ProtocolError(
            f"id must be a non-negative decimal integer, got '{excerpt(token, 30)}'", line)
    return int(token)


def _action(token: bytes, line: bytes) -> str:
    if not _ACTION_RE.match(token):
        raise ProtocolError(f"action must be an upper-case word, got '{excerpt(token, 30)}'", line)
    return token.decode("ascii")


def _info(raw: bytes) -> str:
    # Free text: OpenNebula writes "-" for "nothing"; bad UTF-8 is replaced, not fatal.
    return "" if raw == b"-" else raw.decode("utf-8", "replace")


# ---------------------------------------------------------------------------- core -> driver

def encode_request(action: str, oid: int, host: str | None, payload: bytes | str = b"") -> bytes:
    """The action line the core writes, newline included."""
    check_action(action)
    if not isinstance(oid, int) or isinstance(oid, bool) or oid < 0:
        raise ValueError(f"id must be a non-negative int, got {oid!r}")
    host = check_host(host)
    return b"%s %d %s %s\n" % (action.encode("ascii"), oid,
                               host.encode("utf-8") if host else b"-", encode_payload(payload))


INIT_LINE = b"INIT\n"
FINALIZE_LINE = b"FINALIZE\n"
#: Core -> driver: stop the action named in the payload for ID (it timed out); the
#: driver answers ``DRIVER_CANCEL SUCCESS|FAILURE ID``, which is only logged.
CANCEL = "DRIVER_CANCEL"


def parse_request(line: bytes | str) -> CoreMessage:
    """Parse a line the core sent (what a driver written in Python calls)."""
    line = _strip_eol(line)
    if line == b"INIT":
        return Init()
    if line == b"FINALIZE":
        return Finalize()
    parts = line.split(b" ")
    if len(parts) != 4:
        raise ProtocolError(f"expected 'ACTION ID HOST PAYLOAD' (4 fields), got {len(parts)}", line)
    action = _action(parts[0], line)
    oid = _oid(parts[1], line)
    if parts[2] != b"-" and not _HOST_RE.match(parts[2]):
        raise ProtocolError("bad host field", line)
    host = None if parts[2] == b"-" else parts[2].decode("utf-8", "replace")
    return Request(action, oid, host, decode_payload(parts[3]))


# ---------------------------------------------------------------------------- driver -> core

def encode_reply(action: str, success: bool, oid: int, info: str = "") -> bytes:
    """The answer line a driver writes. Newlines in info become spaces (one line)."""
    check_action(action)
    info = info.replace("\r", " ").replace("\n", " ") or "-"
    return f"{action} {SUCCESS if success else FAILURE} {oid} {info}\n".encode("utf-8")


def encode_log(level: str, oid: int | None, message: str) -> bytes:
    """A LOG line (level I, W, E or D)."""
    if level not in LOG_LEVELS:
        raise ValueError(f"log level must be one of I W E D, got {level!r}")
    message = message.replace("\r", " ").replace("\n", " ")
    return f"LOG {level} {'-' if oid is None else oid} {message}\n".encode("utf-8")


def encode_init_reply(success: bool, info: str = "") -> bytes:
    info = info.replace("\r", " ").replace("\n", " ") or "-"
    return f"INIT {SUCCESS if success else FAILURE} {info}\n".encode("utf-8")


def _result(token: bytes, line: bytes) -> bool:
    if token == b"SUCCESS":
        return True
    if token == b"FAILURE":
        return False
    raise ProtocolError(f"result must be SUCCESS or FAILURE, got '{excerpt(token, 30)}'", line)


def parse_reply(line: bytes | str) -> DriverMessage:
    """Parse a line a driver wrote; raises ProtocolError (only) when it is malformed."""
    line = _strip_eol(line)
    if not line:
        raise ProtocolError("empty line")
    head, sep, rest = line.partition(b" ")
    if head == b"LOG":
        parts = rest.split(b" ", 2) if sep else []
        if len(parts) < 2:
            raise ProtocolError("expected 'LOG LEVEL ID MESSAGE'", line)
        level = parts[0].decode("ascii", "replace")
        if level not in LOG_LEVELS:
            raise ProtocolError("log level must be I, W, E or D", line)
        oid = None if parts[1] == b"-" else _oid(parts[1], line)
        return LogMessage(level, oid, parts[2].decode("utf-8", "replace") if len(parts) > 2 else "")
    if head == b"INIT":
        if not sep:
            raise ProtocolError("expected 'INIT SUCCESS|FAILURE'", line)
        result, _, info = rest.partition(b" ")
        return InitReply(_result(result, line), _info(info))
    action = _action(head, line)
    parts = rest.split(b" ", 2) if sep else []
    if len(parts) < 2:
        raise ProtocolError("expected 'ACTION SUCCESS|FAILURE ID [INFO]'", line)
    success = _result(parts[0], line)
    oid = _oid(parts[1], line)
    return Reply(action, success, oid, _info(parts[2]) if len(parts) > 2 else "")


def salvage_key(line: bytes) -> tuple[str, int] | None:
    """(ACTION, ID) of a malformed answer when they can still be read, else None.

    Lets the manager fail the one action a broken answer was meant for at once,
    instead of leaving it to time out.
    """
    parts = line.rstrip(b"\r\n").split(b" ", 3)
    if len(parts) >= 3 and _ACTION_RE.match(parts[0]) and _ID_RE.match(parts[2]):
        return parts[0].decode("ascii"), int(parts[2])
    return None
