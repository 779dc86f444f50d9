"""Random calls of every registered method with random arguments against a real nubo.

Whatever the arguments, each call gets a well-formed reply (an OpenNebula reply or an
XML-RPC fault), never an internal error, and the server keeps serving.
"""
from __future__ import annotations

import xmlrpc.client

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nubo.api.method_table import METHODS
import nubo.api.methods  # noqa: F401  (registers the methods)

NAMES = sorted(METHODS)

scalars = st.one_of(
    st.integers(min_value=-(2**31), max_value=2**31 - 1),
    st.sampled_from([-4, -3, -2, -1, 0, 1, 2, 100]),
    st.booleans(),
    st.text(max_size=40),
    st.sampled_from(["", "NAME = x", "NAME = [", "<TEMPLATE><NAME>x</NAME></TEMPLATE>",
                     "<TEMPLATE>", 'AR = [ TYPE = "IP4", IP = "10.9.0.1", SIZE = "4" ]',
                     "TYPE = DATABLOCK\nSIZE = 10\nNAME = fuzz", "100000001", "ffffffffff"]),
)
args = st.lists(st.one_of(scalars, st.lists(scalars, max_size=3)), max_size=12)


@pytest.fixture(scope="module")
def sqlite_nubo(tmp_path_factory):
    from server import NuboServer
    server = NuboServer(tmp_path_factory.mktemp("fuzz") / "data").start()
    yield server
    assert server.stop() == 0


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(method=st.sampled_from(NAMES), params=args, as_user=st.booleans())
def test_random_calls_get_clean_answers(sqlite_nubo, method, params, as_user):
    proxy = xmlrpc.client.ServerProxy(sqlite_nubo.endpoint)
    if as_user and not hasattr(sqlite_nubo, "user_session"):
        proxy.one.user.allocate(sqlite_nubo.session, "fuzzer", "fuzzpw", "", [])
        sqlite_nubo.user_session = "fuzzer:fuzzpw"
    session = sqlite_nubo.user_session if as_user else sqlite_nubo.session
    try:
        reply = getattr(proxy, method)(session, *params)
    except xmlrpc.client.Fault as fault:
        assert fault.faultCode in (-501, -503, -506, -509), fault
        return
    assert isinstance(reply, list) and len(reply) in (3, 5), reply
    if reply[0] is False:
        assert isinstance(reply[1], str) and reply[1].startswith(f"[{method}]")
        assert "Internal error" not in reply[1], f"{method}{tuple(params)!r}: {reply}"
    # the server still answers a trivial call
    assert proxy.one.system.version(sqlite_nubo.session)[0] is True
