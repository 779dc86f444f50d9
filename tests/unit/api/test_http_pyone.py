"""pyone, unchanged, against the real HTTP front with a toy dispatcher."""
from __future__ import annotations

import pytest

from nubo.api.http import build_app, start_in_thread
from nubo.api.wire import I8, NO_SUCH_METHOD_ERROR, Fault, encode_response

pyone = pytest.importorskip("pyone")

USER_POOL = ("<USER_POOL><USER><ID>0</ID><GID>0</GID><GROUPS><ID>0</ID></GROUPS>"
             "<GNAME>oneadmin</GNAME><NAME>oneadmin</NAME><PASSWORD>x</PASSWORD>"
             "<AUTH_DRIVER>core</AUTH_DRIVER><ENABLED>1</ENABLED><LOGIN_TOKEN/>"
             "<TEMPLATE><TOKEN_PASSWORD><![CDATA[a&b]]></TOKEN_PASSWORD></TEMPLATE>"
             "</USER></USER_POOL>")


def dispatch(method: str, params: list, info) -> bytes:
    if params[:1] != ["oneadmin:secret"]:
        return encode_response([False, f"[{method}] User couldn't be authenticated",
                                0x100, -1, I8(-1)])
    if method == "one.system.version":
        return encode_response([True, "6.10.0", 0])
    if method == "one.userpool.info":
        return encode_response([True, USER_POOL, 0])
    if method == "one.vm.info":
        return encode_response([False, f"[one.vm.info] Error getting virtual machine "
                                       f"[{params[1]}].", 0x400, params[1], I8(-1)])
    raise Fault(NO_SUCH_METHOD_ERROR, f"Method '{method}' not defined")


@pytest.fixture(scope="module")
def endpoint():
    srv, port = start_in_thread(build_app(dispatch))
    yield f"http://127.0.0.1:{port}/RPC2"
    srv.stop()


def test_pyone_success_failure_and_fault(endpoint):
    one = pyone.OneServer(endpoint, session="oneadmin:secret")
    assert one.system.version() == "6.10.0"
    pool = one.userpool.info()
    assert pool.USER[0].NAME == "oneadmin" and pool.USER[0].ID == 0
    with pytest.raises(pyone.OneNoExistsException, match=r"virtual machine \[42\]"):
        one.vm.info(42)
    with pytest.raises(pyone.OneException, match="not defined"):
        one.no.such()
    with pytest.raises(pyone.OneAuthenticationException):
        pyone.OneServer(endpoint, session="oneadmin:wrong").system.version()
