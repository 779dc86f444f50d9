"""XML-RPC on the wire: parse calls, encode replies and faults as oned does.

* Parsing drives stdlib expat with a small stack machine (one pass, bounded
  memory, a position for every error). A ``<!DOCTYPE`` is refused at its
  first event, before any declaration is read: no entity expansion (billion
  laughs), no external entities. Any bad body raises :class:`WireError`
  (fault -503) and nothing else escapes :func:`parse_call`.
* Output is byte-for-byte xmlrpc-c's (oned's library): same prologue and
  CRLFs, ``<boolean>1``, ``<i4>`` in the int32 range else ``<i8>`` (wrap in
  :class:`I8` to force it, as oned's failure replies need), and ``&``, ``<``,
  ``>`` and CR escaped (CR as ``&#x0d;``, as xmlrpc-c writes it).
* Strings are escaped as UTF-8 bytes by chained ``bytes.replace``: on 50 MB
  of XML ~1.4x faster than chained ``str.replace``, ~10x faster than
  ``str.translate``. Long strings go in 128 Ki-char slices so the final join
  is the only big buffer: 200 MB whole took 1.7-3 s (fresh pages for every
  copy), sliced ~1 s, linear in size.
* Characters XML 1.0 cannot carry (C0 controls but TAB/LF/CR, U+FFFE/U+FFFF,
  lone surrogates) become U+FFFD; sent raw, as xmlrpc-c would, they make
  every client's parser reject the whole reply.
"""
from __future__ import annotations

import base64
import binascii
import datetime as _dt
import math
import re
from collections.abc import Sequence
from decimal import Decimal
from typing import Any, NoReturn
from xml.parsers import expat

# xmlrpc-c's fault codes (xmlrpc-c/util.h) that a server sends; oned answers with these.
INTERNAL_ERROR = -500
TYPE_ERROR = -501          # wrong parameter type or count
PARSE_ERROR = -503         # body is not a proper XML-RPC call
NO_SUCH_METHOD_ERROR = -506
REQUEST_REFUSED_ERROR = -507
INTROSPECTION_DISABLED_ERROR = -508
LIMIT_EXCEEDED_ERROR = -509
INVALID_UTF8_ERROR = -510

MAX_NESTING = 64           # arrays/structs inside each other; xmlrpc-c's default
INT32_MIN, INT32_MAX = -(2 ** 31), 2 ** 31 - 1
INT64_MIN, INT64_MAX = -(2 ** 63), 2 ** 63 - 1


class WireError(ValueError):
    """A request body that is not a well-formed, safe XML-RPC call."""

    def __init__(self, message: str, code: int = PARSE_ERROR) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class Fault(Exception):
    """Raise from a dispatcher to answer with an XML-RPC fault."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"{message} ({code})")
        self.code = code
        self.message = message


class I8(int):
    """An int that is always encoded as ``<i8>``, whatever its size."""


class Escaped(str):
    """Text already escaped by :func:`escape_text`: written into ``<string>`` as it is.

    Pool listings of tens of MB are joined from bodies stored in this form, so
    the largest replies skip escaping altogether.
    """


class EscapedParts(list):
    """Pieces of one ``<string>``, each already escaped UTF-8 bytes, sent back to back."""


def escaped(text: str) -> Escaped:
    """``text`` escaped once, for storing and sending later without more work."""
    return Escaped(escape_text(text).decode("utf-8"))


# ---------------------------------------------------------------- parsing

_VALUE_TYPES = frozenset({"i4", "int", "i8", "boolean", "string", "double", "base64",
                          "dateTime.iso8601", "nil", "array", "struct"})
_CHILDREN: dict[str, frozenset[str]] = {
    "": frozenset({"methodCall"}),
    "methodCall": frozenset({"methodName", "params"}),
    "params": frozenset({"param"}),
    "param": frozenset({"value"}),
    "value": _VALUE_TYPES,
    "array": frozenset({"data"}),
    "data": frozenset({"value"}),
    "struct": frozenset({"member"}),
    "member": frozenset({"name", "value"}),
}
_TEXT_TAGS = frozenset({"value", "methodName", "name", "i4", "int", "i8", "boolean",
                        "string", "double", "base64", "dateTime.iso8601", "nil"})
_NEW_ITEMS: dict[str, Any] = {"params": list, "data": list, "struct": dict,
                              "member": set, "methodCall": set}
_BOOL_RE = re.compile(r"[01]\Z")
_INT_RE = re.compile(r"[+-]?[0-9]{1,25}\Z")
_DOUBLE_RE = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]{1,4})?\Z")
_DATE_RE = re.compile(r"([0-9]{4})-?([0-9]{2})-?([0-9]{2})T([0-9]{2}):?([0-9]{2}):?([0-9]{2})"
                      r"(?:\.([0-9]{1,6})[0-9]*)?(Z|[+-][0-9]{2}:?[0-9]{2})?\Z")


class _Frame:
    __slots__ = ("filled", "items", "name", "tag", "text", "value")

    def __init__(self, tag: str) -> None:
        self.tag = tag
        self.text: list[str] | None = [] if tag in _TEXT_TAGS else None
        self.value: Any = None
        self.filled = False          # a value/data/name child has been delivered
        self.items: Any = _NEW_ITEMS[tag]() if tag in _NEW_ITEMS else None
        self.name: str | None = None


class _CallReader:
    """Expat callbacks that build (method, params) and reject anything else."""

    def __init__(self, parser: Any) -> None:
        self.parser = parser
        self.stack = [_Frame("")]        # sentinel: the document itself
        self.nesting = 0
        self.method: str | None = None
        self.params: list[Any] = []

    def fail(self, message: str) -> NoReturn:
        p = self.parser
        raise WireError(f"{message} (line {p.CurrentLineNumber}, column {p.CurrentColumnNumber})")

    def start(self, tag: str, _attrs: Any) -> None:
        parent = self.stack[-1]
        ptag = parent.tag
        if tag not in _CHILDREN.get(ptag, ()):
            where = f"inside <{ptag}>" if ptag else "at the top"
            self.fail(f"unexpected element <{tag}> {where}")
        if ptag == "value" or ptag == "param" or ptag == "array":
            if parent.filled:                  # these hold exactly one child
                self.fail(f"more than one child in <{ptag}>")
            parent.filled = True
        elif ptag == "member" or ptag == "methodCall":
            if tag in parent.items:
                self.fail(f"duplicate <{tag}> in <{ptag}>")
            parent.items.add(tag)
        if tag == "array" or tag == "struct":
            self.nesting += 1
            if self.nesting > MAX_NESTING:
                self.fail(f"arrays and structs nested more than {MAX_NESTING} deep")
        self.stack.append(_Frame(tag))

    def data(self, text: str) -> None:
        frame = self.stack[-1]
        if frame.text is not None:
            frame.text.append(text)
        elif not text.isspace():
            self.fail(f"unexpected text inside <{frame.tag}>")

    def end(self, tag: str) -> None:
        frame = self.stack.pop()
        parent = self.stack[-1]
        if tag in _CONVERT:
            parent.value = self._scalar(tag, "".join(frame.text or ()))
        elif tag == "value":
            text = "".join(frame.text or ())
            if frame.filled and text and not text.isspace():
                self.fail("text mixed with a typed value in <value>")
            value = frame.value if frame.filled else text   # untyped <value> is a string
            if parent.tag == "data":
                parent.items.append(value)
            else:                                  # param or member
                parent.value, parent.filled = value, True
        elif tag == "param":
            if not frame.filled:
                self.fail("<param> without <value>")
            parent.items.append(frame.value)
        elif tag == "data":
            parent.value = frame.items
        elif tag == "array" or tag == "struct":
            self.nesting -= 1
            if tag == "array" and not frame.filled:
                self.fail("<array> without <data>")
            parent.value = frame.value if tag == "array" else frame.items
        elif tag == "member":
            if frame.name is None or not frame.filled:
                self.fail("<member> needs a <name> and a <value>")
            parent.items[frame.name] = frame.value
        elif tag == "name":
            parent.name = "".join(frame.text or ())
        elif tag == "methodName":
            self.method = "".join(frame.text or ())
            if not self.method:
                self.fail("empty <methodName>")
        elif tag == "params":
            self.params = frame.items
        elif tag == "methodCall" and self.method is None:
            self.fail("<methodCall> without <methodName>")

    def _scalar(self, tag: str, text: str) -> Any:
        try:
            return _CONVERT[tag](text)
        except (ValueError, TypeError, OverflowError, binascii.Error) as e:
            self.fail(f"bad <{tag}> value {text[:40]!r}: {e}")


def _match(rx: re.Pattern[str], text: str, what: str) -> str:
    s = text.strip()
    if not rx.match(s):
        raise ValueError(f"not {what}")
    return s


def _to_int(text: str, lo: int = INT32_MIN, hi: int = INT32_MAX) -> int:
    v = int(_match(_INT_RE, text, "an integer"))
    if not lo <= v <= hi:
        raise ValueError("out of range")
    return v


def _to_double(text: str) -> float:
    v = float(_match(_DOUBLE_RE, text, "a number"))
    if math.isinf(v):
        raise ValueError("out of range")
    return v


def _to_datetime(text: str) -> _dt.datetime:
    m = _DATE_RE.match(text.strip())
    if m is None:
        raise ValueError("not an ISO 8601 date and time")
    y, mo, d, h, mi, s, frac, tz = m.groups()
    tzinfo = None
    if tz == "Z":
        tzinfo = _dt.UTC
    elif tz:
        minutes = int(tz[1:3]) * 60 + int(tz[-2:])
        tzinfo = _dt.timezone(_dt.timedelta(minutes=-minutes if tz[0] == "-" else minutes))
    return _dt.datetime(int(y), int(mo), int(d), int(h), int(mi), int(s),
                        int((frac or "0").ljust(6, "0")), tzinfo)


def _to_nil(text: str) -> None:
    if text.strip():
        raise ValueError("<nil> must be empty")


_CONVERT: dict[str, Any] = {
    "i4": _to_int, "int": _to_int, "i8": lambda t: _to_int(t, INT64_MIN, INT64_MAX),
    "boolean": lambda t: _match(_BOOL_RE, t, "0 or 1") == "1", "string": lambda t: t,
    "double": _to_double, "dateTime.iso8601": _to_datetime, "nil": _to_nil,
    "base64": lambda t: base64.b64decode("".join(t.split()).encode("ascii"), validate=True),
}


def _refuse_dtd(*_args: Any) -> NoReturn:
    raise WireError("DTDs and entity declarations are not allowed")


def parse_call(body: bytes) -> tuple[str, list[Any]]:
    """Parse a ``methodCall`` body into its method name and parameter list."""
    if not isinstance(body, (bytes, bytearray, memoryview)):
        raise WireError("request body must be bytes")
    parser = expat.ParserCreate()
    reader = _CallReader(parser)
    parser.buffer_text = True
    parser.buffer_size = 1 << 16
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.StartDoctypeDeclHandler = _refuse_dtd
    parser.EntityDeclHandler = _refuse_dtd
    parser.UnparsedEntityDeclHandler = _refuse_dtd
    parser.ExternalEntityRefHandler = _refuse_dtd
    parser.StartElementHandler = reader.start
    parser.EndElementHandler = reader.end
    parser.CharacterDataHandler = reader.data
    try:
        parser.Parse(bytes(body), True)
    except WireError:
        raise
    except expat.ExpatError as e:
        raise WireError(f"not well-formed XML: {expat.ErrorString(e.code)} "
                        f"(line {e.lineno}, column {e.offset})") from None
    except Exception as e:  # unknown encodings and the like: still the client's fault
        raise WireError(f"cannot parse the request: {type(e).__name__}: {e}") from None
    finally:  # break the parser <-> reader cycle so big calls are freed at once
        parser.StartElementHandler = parser.EndElementHandler = parser.CharacterDataHandler = None
    if reader.method is None:
        raise WireError("no <methodCall> found")
    return reader.method, reader.params


# --------------------------------------------------------------- encoding

_CRLF = b"\r\n"
_PROLOGUE = b'<?xml version="1.0" encoding="UTF-8"?>\r\n'
_RESPONSE_HEAD = _PROLOGUE + b"<methodResponse>\r\n<params>\r\n<param>"
_RESPONSE_TAIL = b"</param>\r\n</params>\r\n</methodResponse>\r\n"
_FAULT_HEAD = _PROLOGUE + b"<methodResponse>\r\n<fault>\r\n"
_FAULT_TAIL = b"\r\n</fault>\r\n</methodResponse>\r\n"
_TRUE = b"<value><boolean>1</boolean></value>"
_FALSE = b"<value><boolean>0</boolean></value>"
_REPLACEMENT = "\ufffd".encode()
_CHUNK = 1 << 17           # long strings are escaped in slices of this many chars
_C0 = bytes(c for c in range(32) if c not in (9, 10, 13))
_C0_RE = re.compile(b"[" + re.escape(_C0) + b"]")
_SURROGATE_RE = re.compile("[\ud800-\udfff]")


def escape_text(text: str) -> bytes:
    """UTF-8 bytes of ``text`` safe inside an XML element, escaped as xmlrpc-c does."""
    try:
        b = text.encode("utf-8")
    except UnicodeEncodeError:                 # lone surrogates
        text = _SURROGATE_RE.sub("\ufffd", text)
        b = text.encode("utf-8")
    if not text.isascii() and ("\ufffe" in text or "\uffff" in text):
        b = b.replace(b"\xef\xbf\xbe", _REPLACEMENT).replace(b"\xef\xbf\xbf", _REPLACEMENT)
    if len(b.translate(None, _C0)) != len(b):
        b = _C0_RE.sub(_REPLACEMENT, b)
    return (b.replace(b"&", b"&amp;").replace(b"<", b"&lt;")
            .replace(b">", b"&gt;").replace(b"\r", b"&#x0d;"))


def _format_double(v: float) -> bytes:
    if not math.isfinite(v):
        raise ValueError(f"XML-RPC cannot carry the double {v!r}")
    text = repr(v)
    if "e" in text:                           # XML-RPC doubles have no exponent
        text = format(Decimal(text), "f")
    if text.endswith(".0"):
        text = text[:-2]                      # xmlrpc-c writes 3, not 3.0
    return text.encode("ascii")


def _emit(out: list[bytes], v: Any) -> None:
    """Append the ``<value>`` element for ``v``."""
    if type(v) is Escaped:
        out += (b"<value><string>", v.encode("utf-8"), b"</string></value>")
    elif type(v) is EscapedParts:
        out.append(b"<value><string>")
        out += v
        out.append(b"</string></value>")
    elif isinstance(v, str):
        if len(v) <= _CHUNK:
            out += (b"<value><string>", escape_text(v), b"</string></value>")
        else:       # escaping is per character, so slices escape exactly like the whole
            out.append(b"<value><string>")
            out += [escape_text(v[i:i + _CHUNK]) for i in range(0, len(v), _CHUNK)]
            out.append(b"</string></value>")
    elif v is True or v is False:
        out.append(_TRUE if v else _FALSE)
    elif isinstance(v, int):
        if type(v) is not I8 and INT32_MIN <= v <= INT32_MAX:
            out.append(b"<value><i4>%d</i4></value>" % v)
        elif INT64_MIN <= v <= INT64_MAX:
            out.append(b"<value><i8>%d</i8></value>" % v)
        else:
            raise OverflowError(f"integer {v} does not fit in an XML-RPC i8")
    elif isinstance(v, (list, tuple)):
        out.append(b"<value><array><data>\r\n")
        for item in v:
            _emit(out, item)
            out.append(_CRLF)
        out.append(b"</data></array></value>")
    elif isinstance(v, float):
        out += (b"<value><double>", _format_double(v), b"</double></value>")
    elif isinstance(v, dict):
        out.append(b"<value><struct>\r\n")
        for key, item in v.items():
            if not isinstance(key, str):
                raise TypeError(f"struct keys must be str, not {type(key).__name__}")
            out += (b"<member><name>", escape_text(key), b"</name>\r\n")
            _emit(out, item)
            out.append(b"</member>\r\n")
        out.append(b"</struct></value>")
    elif v is None:
        out.append(b"<value><nil/></value>")
    elif isinstance(v, (bytes, bytearray, memoryview)):
        out += (b"<value><base64>\r\n", base64.b64encode(v), b"</base64></value>")
    elif isinstance(v, _dt.datetime):
        out += (b"<value><dateTime.iso8601>", v.strftime("%Y%m%dT%H:%M:%S").encode(),
                b"</dateTime.iso8601></value>")
    else:
        raise TypeError(f"cannot encode {type(v).__name__} as XML-RPC")


def encode_response(values: Sequence[Any]) -> bytes:
    """A methodResponse whose one param is the array ``values`` (oned's reply shape)."""
    out = [_RESPONSE_HEAD]
    _emit(out, list(values) if not isinstance(values, (list, tuple)) else values)
    out.append(_RESPONSE_TAIL)
    return b"".join(out)


def encode_fault(code: int, message: str) -> bytes:
    """A standard XML-RPC fault, laid out exactly as xmlrpc-c writes one."""
    if not INT32_MIN <= code <= INT32_MAX:
        raise OverflowError(f"fault code {code} does not fit in an i4")
    out = [_FAULT_HEAD]
    _emit(out, {"faultCode": code, "faultString": str(message)})
    out.append(_FAULT_TAIL)
    return b"".join(out)


def fault_code(response: bytes) -> int | None:
    """The fault code if ``response`` (as encoded here) is a fault, else None."""
    if not response.startswith(_FAULT_HEAD):
        return None
    m = re.match(rb"<value><struct>\r\n<member><name>faultCode</name>\r\n<value><i4>(-?\d+)<",
                 response[len(_FAULT_HEAD):len(_FAULT_HEAD) + 120])
    return int(m.group(1)) if m else INTERNAL_ERROR


def is_failure_reply(response: bytes) -> bool:
    """True for oned's ``[false, ...]`` reply shape (an API-level failure)."""
    return response.startswith(_RESPONSE_HEAD + b"<value><array><data>\r\n" + _FALSE)
