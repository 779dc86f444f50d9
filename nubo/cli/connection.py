"""Reaching the XML-RPC API the way OpenNebula's tools do.

The endpoint comes from ``--endpoint``, else ``ONE_XMLRPC``, else
``http://localhost:2633/RPC2``; the credentials from ``--user``/``--password``,
else the first line of the ``ONE_AUTH`` file (default ``~/.one/one_auth``).
"""
from __future__ import annotations

import http.client
import os
import socket
import xmlrpc.client
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lxml import etree

from nubo.cli.error_output import AUTHENTICATION, ApiFailure, ConnectError, UnsupportedMethod, UsageError

DEFAULT_ENDPOINT = "http://localhost:2633/RPC2"
_UNKNOWN_METHOD = -506  # xmlrpc-c's fault for a method the server does not have
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)


@dataclass(frozen=True)
class Settings:
    endpoint: str
    session: str
    timeout: float = 60.0

    @property
    def user(self) -> str:
        return self.session.split(":", 1)[0]


def settings_from(endpoint: str | None, user: str | None, password: str | None,
                  env: dict[str, str] | None = None) -> Settings:
    """Where to connect and as whom, from the options, then the environment."""
    env = dict(os.environ) if env is None else env
    url = endpoint or env.get("ONE_XMLRPC") or DEFAULT_ENDPOINT
    timeout = float(env.get("NUBO_TIMEOUT") or 60)
    if user is not None or password is not None:
        if not user or password is None:
            raise UsageError("--user and --password go together")
        return Settings(url, f"{user}:{password}", timeout)
    auth = Path(env.get("ONE_AUTH") or Path(env.get("HOME", "~")).expanduser() / ".one/one_auth")
    try:
        line = auth.read_text().strip().splitlines()
    except OSError as e:
        raise ConnectError(f"no credentials: cannot read {auth} ({e.strerror}); set ONE_AUTH "
                           "to a file holding user:password, or pass --user and --password") \
            from None
    if not line or ":" not in line[0]:
        raise ConnectError(f"no credentials: {auth} should hold user:password on its first line")
    return Settings(url, line[0].strip(), timeout)


def _transport(timeout: float, secure: bool) -> xmlrpc.client.Transport:
    """A transport whose connections give up after ``timeout`` seconds."""
    base = xmlrpc.client.SafeTransport if secure else xmlrpc.client.Transport

    class Timed(base):  # type: ignore[misc, valid-type]
        def make_connection(self, host: Any) -> http.client.HTTPConnection:
            conn = super().make_connection(host)
            conn.timeout = timeout
            return conn
    return Timed(use_builtin_types=True)


class Connection:
    """One API endpoint and session; ``call`` returns the value of a successful reply."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        transport = _transport(settings.timeout, settings.endpoint.startswith("https:"))
        self._proxy = xmlrpc.client.ServerProxy(settings.endpoint, transport=transport,
                                                allow_none=False)
        self.calls = 0

    def call(self, method: str, *args: Any) -> Any:
        self.calls += 1
        url = self.settings.endpoint
        try:
            reply = getattr(self._proxy, method)(self.settings.session, *args)
        except xmlrpc.client.Fault as f:
            if f.faultCode == _UNKNOWN_METHOD:
                raise UnsupportedMethod(f"{url} does not implement {method}", f.faultCode,
                                        method) from None
            raise ApiFailure(f"[{method}] {f.faultString}", f.faultCode, method) from None
        except xmlrpc.client.ProtocolError as e:
            raise ConnectError(f"{url} is not an XML-RPC endpoint: HTTP {e.errcode} "
                               f"{e.errmsg}") from None
        except (OSError, http.client.HTTPException, socket.timeout) as e:
            reason = getattr(e, "strerror", None) or str(e) or type(e).__name__
            raise ConnectError(f"cannot reach the API at {url}: {reason} (is nubo running? "
                               "set ONE_XMLRPC or --endpoint)") from None
        except xmlrpc.client.ResponseError as e:
            raise ConnectError(f"{url} answered with something that is not XML-RPC: {e}") \
                from None
        if not isinstance(reply, list) or not reply:
            raise ApiFailure(f"[{method}] unexpected reply {reply!r}", 0, method)
        if reply[0] is True:
            return reply[1]
        message = str(reply[1]) if len(reply) > 1 else f"[{method}] failed"
        code = reply[2] if len(reply) > 2 and isinstance(reply[2], int) else 0
        if code == AUTHENTICATION:
            raise ConnectError(f"authentication failed for user '{self.settings.user}' at {url}: "
                               f"{message} (check ONE_AUTH, --user, --password)")
        raise ApiFailure(message, code, method)

    def xml(self, method: str, *args: Any) -> etree._Element:
        """Call a method whose value is an XML document and parse it."""
        text = self.call(method, *args)
        try:
            return etree.fromstring(text.encode() if isinstance(text, str) else text, _PARSER)
        except etree.XMLSyntaxError as e:
            raise ApiFailure(f"[{method}] the reply is not well-formed XML: {e}", 0, method) \
                from None
