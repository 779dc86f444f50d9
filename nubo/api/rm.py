"""The request manager: authenticate, dispatch to the method's handler, shape the reply.

Replies are OpenNebula's: ``[true, value, 0]`` on success and
``[false, "[method] message", code, object id, i8]`` on failure. A call to an
unknown method or with arguments of the wrong type gets an XML-RPC fault, as
xmlrpc-c (which oned uses) answers it. While the database is out of reach every call
fails with "database unavailable, try again" (INTERNAL): the client may try again,
nothing of the call was done (or, for a commit cut short, it may have been).
"""
from __future__ import annotations

import logging
import time
from typing import Any

from nubo.api import wire
from nubo.api.listings import ListingCache
from nubo.api.method_table import METHODS, SignatureError, bind, id_problem
from nubo.core.cloud import Cloud
from nubo.core.ops.call import Call
from nubo.errors import ApiError, AuthenticationError, InternalError, NuboError
from nubo.store.outage import Conflict, DatabaseUnavailable
from nubo import hooks

log = logging.getLogger("nubo.api")

FAULT_NO_METHOD = wire.NO_SUCH_METHOD_ERROR
FAULT_TYPE = wire.TYPE_ERROR
# oned's replication index of a failed call: UINT64_MAX, which xmlrpc-c writes as <i8>-1.
NO_REPLICATION = wire.I8(-1)
UNAVAILABLE = "database unavailable, try again"
#: Times a call is run when another core process keeps winning its rows (nubo.store.db).
CONFLICT_TRIES = 5


class RequestManager:
    def __init__(self, cloud: Cloud) -> None:
        self.cloud = cloud
        self.listings = ListingCache(wire.escape_text)
        # Import the handlers so that they register themselves.
        import nubo.api.methods  # noqa: F401

    def dispatch(self, name: str, params: list[Any], client: Any = None) -> bytes:
        method = METHODS.get(name)
        if method is None:
            return wire.encode_fault(FAULT_NO_METHOD, f"Method '{name}' not defined")
        if not params or not isinstance(params[0], str):
            return wire.encode_fault(
                FAULT_TYPE, f"{name}: the first argument must be the session string")
        try:
            args = bind(method, params[1:])
        except SignatureError as e:
            return wire.encode_fault(FAULT_TYPE, str(e))
        start = time.perf_counter()
        try:
            # The client's address (http.RequestInfo) backs off password guessing per source.
            session = self.cloud.authenticate(params[0], getattr(client, "client_host", None))
            problem = id_problem(method, args)
            if problem:
                raise ApiError(problem)
            value = self._run(method, Call(self.cloud, session, name, self.listings), args)
        except NuboError as e:
            # Not one line per failed login: a guessing flood would fill the log (its
            # back-offs are logged once each by nubo.auth.password_guard).
            log.log(logging.DEBUG if isinstance(e, AuthenticationError) else logging.INFO,
                    "%s failed: code=0x%x id=%s %s", name, e.code, e.object_id, e.message)
            return wire.encode_response(
                [False, f"[{name}] {e.message}", e.code, e.object_id, NO_REPLICATION])
        except DatabaseUnavailable:  # logged once per outage (nubo.store.outage)
            return wire.encode_response(
                [False, f"[{name}] {UNAVAILABLE}", InternalError.code, -1, NO_REPLICATION])
        except Exception:  # a bug must not take the server down, nor leak details
            log.exception("%s: internal error", name)
            err = InternalError("Internal error")
            return wire.encode_response(
                [False, f"[{name}] {err.message}", err.code, -1, NO_REPLICATION])
        hooks.api_called(self.cloud, name, args, value)  # API hooks (queued, never waits)
        if log.isEnabledFor(logging.DEBUG):
            log.debug("%s uid=%s ok in %.1f ms", name, session.uid,
                      (time.perf_counter() - start) * 1000)
        return wire.encode_response([True, value, 0])

    @staticmethod
    def _run(method: Any, call: Call, args: list[Any]) -> Any:
        """The handler, run again when another core process changed what it read: nothing
        of the refused try was committed."""
        for _ in range(CONFLICT_TRIES - 1):
            try:
                return method.handler(call, *args)
            except Conflict:
                log.debug("%s: conflict with another core process, trying again", call.method)
        return method.handler(call, *args)
