"""The driver line protocol: round trips, strictness, and arbitrary garbage."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nubo.drivers import protocol as p

actions = st.from_regex(r"[A-Z][A-Z0-9_]{0,20}", fullmatch=True).filter(
    lambda a: a not in ("INIT", "FINALIZE", "LOG"))
oids = st.integers(min_value=0, max_value=2**62)
hosts = st.one_of(st.none(), st.text(
    st.characters(exclude_categories=("Cs", "Cc", "Zs", "Zl", "Zp"),
                  exclude_characters="\x85\x7f"), min_size=1, max_size=30))
# Free text without line breaks (the encoders turn those into spaces).
infos = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\n\r"),
                max_size=80).filter(lambda s: s != "-")


@given(actions, oids, hosts, st.binary(max_size=300))
def test_request_round_trip(action, oid, host, payload):
    line = p.encode_request(action, oid, host, payload)
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert p.parse_request(line) == p.Request(action, oid, host, payload)


@given(actions, st.booleans(), oids, infos)
def test_reply_round_trip(action, success, oid, info):
    assert p.parse_reply(p.encode_reply(action, success, oid, info)) == \
        p.Reply(action, success, oid, info)


@given(st.sampled_from("IWED"), st.one_of(st.none(), oids), infos)
def test_log_round_trip(level, oid, message):
    assert p.parse_reply(p.encode_log(level, oid, message)) == p.LogMessage(level, oid, message)


@given(st.booleans(), infos)
def test_init_round_trip(success, info):
    assert p.parse_reply(p.encode_init_reply(success, info)) == p.InitReply(success, info)


@given(st.binary(max_size=200))
def test_garbage_reply_raises_only_protocol_error(line):
    try:
        msg = p.parse_reply(line)
    except p.ProtocolError as e:
        assert str(e)
    else:
        assert isinstance(msg, p.Reply | p.LogMessage | p.InitReply)


@given(st.binary(max_size=200))
def test_garbage_request_raises_only_protocol_error(line):
    try:
        p.parse_request(line)
    except p.ProtocolError:
        pass


@given(st.lists(st.sampled_from([b"DEPLOY", b"SUCCESS", b"FAILURE", b"7", b"-", b"LOG",
                                 b"I", b"INIT", b" ", b"x", b"\xff", b"-1", b"007"]),
                max_size=8))
def test_near_miss_replies(tokens):
    line = b" ".join(tokens)
    try:
        p.parse_reply(line)
    except p.ProtocolError:
        pass


@given(st.binary(max_size=120))
def test_salvage_key_never_raises(line):
    key = p.salvage_key(line)
    assert key is None or (isinstance(key[0], str) and key[1] >= 0)


def test_ones_drivers_format_is_accepted():
    # OpenNebula's send_message writes "ACTION RESULT ID INFO", "-" for no info.
    assert p.parse_reply(b"DEPLOY SUCCESS 42 one-42\n") == p.Reply("DEPLOY", True, 42, "one-42")
    assert p.parse_reply(b"SHUTDOWN FAILURE 7 -\n") == p.Reply("SHUTDOWN", False, 7, "")
    assert p.parse_reply(b"POLL SUCCESS 3\n") == p.Reply("POLL", True, 3, "")
    assert p.parse_reply(b"INIT SUCCESS - -\n") == p.InitReply(True, "- -")
    assert p.parse_reply(b"INIT SUCCESS\n") == p.InitReply(True, "")
    assert p.parse_reply(b"LOG I 5 Successfully execute network driver operation\n") == \
        p.LogMessage("I", 5, "Successfully execute network driver operation")
    assert p.parse_reply(b"DEPLOY SUCCESS 1 info with  spaces \r\n").info == "info with  spaces "


@pytest.mark.parametrize("line, reason", [
    (b"", "empty line"),
    (b"deploy SUCCESS 1 x", "upper-case"),
    (b"DEPLOY OK 1 x", "SUCCESS or FAILURE"),
    (b"DEPLOY SUCCESS x1 x", "non-negative decimal"),
    (b"DEPLOY SUCCESS -1 x", "non-negative decimal"),
    (b"DEPLOY SUCCESS 01 x", "non-negative decimal"),
    (b"DEPLOY  SUCCESS 1 x", "SUCCESS or FAILURE"),
    (b"DEPLOY SUCCESS", "ACTION SUCCESS|FAILURE ID"),
    (b"LOG X 1 m", "log level"),
    (b"LOG I", "LOG LEVEL ID"),
    (b"INIT", "INIT SUCCESS|FAILURE"),
    (b"DEPLOY SUCCESS 1 a\nPOLL SUCCESS 2", "more than one line"),
])
def test_malformed_replies_say_why(line, reason):
    with pytest.raises(p.ProtocolError, match=reason):
        p.parse_reply(line)


@pytest.mark.parametrize("line, reason", [
    (b"DEPLOY 1 host", "4 fields"),
    (b"DEPLOY 1 host !!!!", "not base64"),
    (b"DEPLOY 1 host QUJD\n", None),
    (b"DEPLOY 1 host QUJ", "not base64"),
    (b"DEPLOY 1 host QU=D", "not base64"),
    (b"DEPLOY 1 host QUJD====", "not base64"),
    (b"DEPLOY 1 host QUJD\xff\xff\xff\xff", "not base64"),
    (b"DEPLOY one host -", "decimal"),
    (b"DEPLOY 1  -", "bad host"),
])
def test_requests_are_strict(line, reason):
    if reason is None:
        assert p.parse_request(line) == p.Request("DEPLOY", 1, "host", b"ABC")
    else:
        with pytest.raises(p.ProtocolError, match=reason):
            p.parse_request(line)


def test_control_lines():
    assert p.parse_request(p.INIT_LINE) == p.Init()
    assert p.parse_request(p.FINALIZE_LINE) == p.Finalize()
    assert p.encode_request("POLL", 3, None) == b"POLL 3 - -\n"


@pytest.mark.parametrize("args", [
    ("deploy", 1, "h"), ("INIT", 1, "h"), ("DEPLOY", -1, "h"), ("DEPLOY", True, "h"),
    ("DEPLOY", 1, "two words"), ("DEPLOY", 1, ""), ("DEPLOY", 1, "tab\there"),
])
def test_encoder_refuses_what_would_break_the_line(args):
    with pytest.raises(ValueError):
        p.encode_request(*args)


def test_info_newlines_become_spaces_and_errors_are_bounded():
    assert p.encode_reply("X", False, 1, "two\nlines") == b"X FAILURE 1 two lines\n"
    err = p.ProtocolError("bad", b"A" * 10_000)
    assert len(str(err)) < 200
