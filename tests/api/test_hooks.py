"""one.hook.*, one.hookpool.info, one.hooklog.info and hooks running, via pyone."""
from __future__ import annotations

import base64
import json
import sys
import uuid
from pathlib import Path

import pyone
import pytest
from lxml import etree

from waits import ACTIVE, RUNNING, wait_for, wait_state
from xsd import assert_valid, raw_call

# A hook command: records its arguments (and stdin) in a JSON file, exits with EXIT.
SCRIPT = """#!{python}
import json, os, sys
out = {out!r}
data = {{"argv": sys.argv[1:], "stdin": sys.stdin.read() if not sys.stdin.isatty() else ""}}
with open(out, "a") as f:
    f.write(json.dumps(data) + "\\n")
print("hook ran", sys.argv[1:2])
print("to stderr", file=sys.stderr)
sys.exit({code})
"""


def uniq(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def raw(nubo, method: str, *args):
    return raw_call(nubo.endpoint, method, nubo.session, *args)


@pytest.fixture
def script(tmp_path):
    """make(code) -> (command path, file its runs are written to)."""
    def make(code: int = 0) -> tuple[str, Path]:
        out = tmp_path / f"{uuid.uuid4().hex[:8]}.jsonl"
        path = tmp_path / f"hook-{uuid.uuid4().hex[:8]}.py"
        path.write_text(SCRIPT.format(python=sys.executable, out=str(out), code=code))
        path.chmod(0o755)
        return str(path), out
    return make


@pytest.fixture
def hooks(one):
    """Allocate hooks through this; they are deleted after the test (the server is shared)."""
    made: list[int] = []

    def allocate(text: str) -> int:
        hid = one.hook.allocate(text)
        made.append(hid)
        return hid
    yield allocate
    for hid in made:
        try:
            one.hook.delete(hid)
        except pyone.OneException:
            pass


def runs(out: Path) -> list[dict]:
    if not out.exists():
        return []
    return [json.loads(line) for line in out.read_text().splitlines() if line.strip()]


def log_records(nubo, hook_id: int, rc: int = 0) -> list[etree._Element]:
    xml = raw(nubo, "one.hooklog.info", 0, 0, hook_id, rc)[1]
    return etree.fromstring(xml.encode()).findall("HOOK_EXECUTION_RECORD")


def test_allocate_info_update_rename_delete_pool(one, nubo, hooks, script):
    command, _ = script()
    name = uniq("hk")
    hid = hooks(f'NAME = "{name}"\nTYPE = "state"\nCOMMAND = "{command}"\n'
                f'ARGUMENTS = "$ID $TEMPLATE"\nRESOURCE = "VM"\nSTATE = "ACTIVE"\n'
                f'LCM_STATE = "RUNNING"\nTIMEOUT = 7\nIGNORED = "x"')
    hook = one.hook.info(hid)
    assert (hook.ID, hook.NAME, hook.TYPE) == (hid, name, "state")
    body = raw(nubo, "one.hook.info", hid)[1]
    assert_valid(body, "hook.xsd")
    tmpl = etree.fromstring(body.encode()).find("TEMPLATE")
    assert [e.tag for e in tmpl] == ["ARGUMENTS", "COMMAND", "LCM_STATE", "RESOURCE", "STATE"]
    assert tmpl.findtext("COMMAND") == command

    one.hook.update(hid, 'STATE = "DONE"\nLCM_STATE = ""', 1)
    tmpl = etree.fromstring(raw(nubo, "one.hook.info", hid)[1].encode()).find("TEMPLATE")
    assert tmpl.findtext("STATE") == "DONE" and tmpl.find("LCM_STATE") is None

    with pytest.raises(pyone.OneException, match="Invalid STATE"):
        one.hook.update(hid, 'STATE = "NOPE"', 1)
    new_name = uniq("hk2")
    one.hook.rename(hid, new_name)
    assert one.hook.info(hid).NAME == new_name
    one.hook.lock(hid, 1)
    with pytest.raises(pyone.OneException):
        one.hook.delete(hid)
    one.hook.unlock(hid)

    pool_xml = raw(nubo, "one.hookpool.info", -2, -1, -1)[1]
    assert_valid(pool_xml, "hook_pool.xsd")
    assert hid in [h.ID for h in one.hookpool.info(-2, -1, -1).HOOK]
    one.hook.delete(hid)
    assert hid not in [h.ID for h in one.hookpool.info(-2, -1, -1).HOOK]
    with pytest.raises(pyone.OneNoExistsException):
        one.hook.info(hid)


@pytest.mark.parametrize("text, message", [
    ('TYPE = "state"\nRESOURCE = "VM"\nSTATE = "DONE"', "No COMMAND"),
    ('TYPE = "nope"\nCOMMAND = "/bin/true"', "Invalid hook type"),
    ('TYPE = "api"\nCOMMAND = "/bin/true"\nCALL = "one.nope.allocate"', "cannot be hooked"),
    ('TYPE = "state"\nCOMMAND = "/bin/true"\nRESOURCE = "IMAGE"\nSTATE = "READY"',
     "Invalid RESOURCE"),
    ('TYPE = "state"\nCOMMAND = "/bin/true"\nRESOURCE = "HOST"\nSTATE = "RUNNING"',
     "Invalid STATE"),
    ('TYPE = "api"\nCOMMAND = "/bin/true"\nCALL = "one.vm.allocate"\nREMOTE = "YES"',
     "REMOTE applies to STATE hooks only"),
])
def test_allocate_refuses_bad_templates(one, text, message):
    with pytest.raises(pyone.OneException, match=message):
        one.hook.allocate(f'NAME = "{uniq("bad")}"\n{text}')


def test_non_admin_cannot_manage_hooks(one, client_for):
    name = uniq("hu")
    one.user.allocate(name, "pw", "", [])
    with pytest.raises(pyone.OneAuthorizationException):
        client_for(f"{name}:pw").hook.allocate(
            f'NAME = "{uniq("h")}"\nTYPE = "api"\nCOMMAND = "/bin/true"\nCALL = "one.vm.allocate"')


def test_state_hook_runs_when_a_vm_is_running(one, nubo, hooks, script):
    command, out = script()
    hid = hooks(f'NAME = "{uniq("run")}"\nTYPE = "state"\nCOMMAND = "{command}"\n'
                f'ARGUMENTS = "$ID $TEMPLATE"\nRESOURCE = "VM"\nSTATE = "RUNNING"')
    host = one.host.allocate(uniq("hook-host"), "dummy", "dummy", -1)
    vm_id = one.vm.allocate(f'NAME = "{uniq("hv")}"\nCPU = 0.1\nMEMORY = 32', False)
    one.vm.deploy(vm_id, host)
    wait_state(one, vm_id, (ACTIVE, RUNNING))
    ran = wait_for("the RUNNING hook", lambda: [r for r in runs(out)
                                                if r["argv"][0] == str(vm_id)])
    vm_xml = base64.b64decode(ran[0]["argv"][1]).decode()
    vm = etree.fromstring(vm_xml.encode())
    assert vm.findtext("ID") == str(vm_id)
    assert (vm.findtext("STATE"), vm.findtext("LCM_STATE")) == ("3", "3")
    record = wait_for("the execution record", lambda: log_records(nubo, hid))[0]
    assert record.findtext("EXECUTION_RESULT/CODE") == "0"
    assert "hook ran" in record.findtext("EXECUTION_RESULT/STDOUT")
    assert record.findtext("ARGUMENTS").startswith(f"{vm_id} ")
    hook_xml = raw(nubo, "one.hook.info", hid)[1]
    assert_valid(hook_xml, "hook.xsd")
    assert one.hook.info(hid).HOOKLOG.HOOK_EXECUTION_RECORD[0].EXECUTION_ID == 0
    one.vm.action("terminate-hard", vm_id)


def test_api_hook_on_vm_allocate(one, nubo, hooks, script):
    command, out = script()
    hooks(f'NAME = "{uniq("api")}"\nTYPE = "api"\nCOMMAND = "{command}"\n'
          f'ARGUMENTS = "$ID $API"\nCALL = "one.vm.allocate"')
    vm_id = one.vm.allocate(f'NAME = "{uniq("av")}"\nCPU = 0.1\nMEMORY = 32', True)
    ran = wait_for("the API hook", lambda: [r for r in runs(out) if r["argv"][0] == str(vm_id)])
    message = base64.b64decode(ran[0]["argv"][1]).decode()
    assert_valid(message, "hook_message_api.xsd")
    doc = etree.fromstring(message.encode())
    assert doc.findtext("CALL") == "one.vm.allocate"
    out_param = [p for p in doc.iter("PARAMETER") if p.findtext("TYPE") == "OUT"]
    assert out_param[0].findtext("VALUE") == str(vm_id)
    one.vm.action("terminate", vm_id)


def test_failing_hook_is_logged_and_retried(one, nubo, hooks, script):
    command, out = script(code=3)
    hid = hooks(f'NAME = "{uniq("fail")}"\nTYPE = "api"\nCOMMAND = "{command}"\n'
                f'ARGUMENTS = "$ID"\nARGUMENTS_STDIN = "yes"\nCALL = "one.template.allocate"')
    tid = one.template.allocate(f'NAME = "{uniq("ht")}"\nCPU = 1\nMEMORY = 64')
    first = wait_for("the failed execution", lambda: log_records(nubo, hid, -1))[0]
    assert first.findtext("EXECUTION_RESULT/CODE") == "3"
    assert "to stderr" in first.findtext("EXECUTION_RESULT/STDERR")
    assert runs(out)[0]["stdin"] == str(tid)  # ARGUMENTS_STDIN: the arguments on stdin
    assert log_records(nubo, hid, 1) == []
    exec_id = int(first.findtext("EXECUTION_ID"))
    one.hook.retry(hid, exec_id)
    records = wait_for("the retry", lambda: [r for r in log_records(nubo, hid)
                                              if r.findtext("RETRY") == "yes"])
    assert records[0].findtext("EXECUTION_RESULT/CODE") == "3"
    assert records[0].findtext("ARGUMENTS") == str(tid)
    assert len(runs(out)) == 2
    with pytest.raises(pyone.OneNoExistsException):
        one.hook.retry(hid, 999)
    one.template.delete(tid)


def test_timeout_and_missing_command_are_recorded(one, nubo, hooks, tmp_path):
    hid = hooks(f'NAME = "{uniq("slow")}"\nTYPE = "api"\nCOMMAND = "/bin/sleep"\n'
                f'ARGUMENTS = "10"\nTIMEOUT = 1\nCALL = "one.template.allocate"')
    missing = hooks(f'NAME = "{uniq("gone")}"\nTYPE = "api"\n'
                    f'COMMAND = "{tmp_path}/no-such-hook"\nCALL = "one.template.allocate"')
    tid = one.template.allocate(f'NAME = "{uniq("ht")}"\nCPU = 1\nMEMORY = 64')
    slow = wait_for("the timed-out run", lambda: log_records(nubo, hid), timeout=30)[0]
    assert slow.findtext("EXECUTION_RESULT/CODE") == "-1"
    assert "timed out" in slow.findtext("EXECUTION_RESULT/STDERR")
    gone = wait_for("the missing command", lambda: log_records(nubo, missing))[0]
    assert gone.findtext("EXECUTION_RESULT/CODE") == "-1"
    assert "cannot run" in gone.findtext("EXECUTION_RESULT/STDERR")
    one.template.delete(tid)


def test_host_disabled_hook(one, nubo, hooks, script):
    command, out = script()
    hooks(f'NAME = "{uniq("hd")}"\nTYPE = "state"\nCOMMAND = "{command}"\n'
          f'ARGUMENTS = "$ID $TEMPLATE"\nRESOURCE = "HOST"\nSTATE = "DISABLED"')
    host = one.host.allocate(uniq("hook-host"), "dummy", "dummy", -1)
    one.host.status(host, 1)  # disable
    ran = wait_for("the DISABLED hook", lambda: [r for r in runs(out)
                                                 if r["argv"][0] == str(host)])
    body = base64.b64decode(ran[0]["argv"][1]).decode()
    assert etree.fromstring(body.encode()).findtext("STATE") == "4"
    one.host.status(host, 0)


def _every_reading(text: str) -> str:
    """text, plus every base64 run in it decoded (an API hook's $API is base64)."""
    import re
    decoded = []
    for run in re.findall(r"[A-Za-z0-9+/]{16,}={0,2}", text):
        try:
            decoded.append(base64.b64decode(run + "=" * (-len(run) % 4)).decode("utf-8", "replace"))
        except ValueError:
            pass
    return "\n".join([text, *decoded])


@pytest.mark.parametrize("method", ["one.user.allocate", "one.user.passwd", "one.user.chauth",
                                    "one.user.login"])
def test_api_hook_messages_hide_passwords(one, nubo, hooks, script, method):
    """As oned's hidden_params: the password (or login token) is **** in the message the
    hook gets, in its execution record (one.hook.info) and nowhere in nubo.log."""
    command, out = script()
    hid = hooks(f'NAME = "{uniq("pw")}"\nTYPE = "api"\nCOMMAND = "{command}"\n'
                f'ARGUMENTS = "$API"\nCALL = "{method}"')
    secret = "Sekr3t-" + uuid.uuid4().hex
    name = uniq("hidden")
    if method == "one.user.allocate":
        one.user.allocate(name, secret, "", [])
        position = 3
    else:
        uid = one.user.allocate(name, "first-pw", "", [])
        if method == "one.user.passwd":
            one.user.passwd(uid, secret)
            position = 3
        elif method == "one.user.chauth":
            one.user.chauth(uid, "core", secret)
            position = 4
        else:
            assert one.user.login(name, secret, 60, -1) == secret
            position = 3
    ran = wait_for("the API hook", lambda: runs(out))
    message = base64.b64decode(ran[0]["argv"][0]).decode()
    assert_valid(message, "hook_message_api.xsd")
    params = {int(p.findtext("POSITION")): p.findtext("VALUE")
              for p in etree.fromstring(message.encode()).iter("PARAMETER")
              if p.findtext("TYPE") == "IN"}
    assert params[position] == "****"
    record = wait_for("the execution record", lambda: log_records(nubo, hid, 0))
    hook_xml = raw(nubo, "one.hook.info", hid)[1]
    log = (nubo.data_dir / "nubo.log").read_text()
    for where, text in (("the hook's arguments", json.dumps(ran)),
                        ("the execution record", etree.tostring(record[0]).decode()),
                        ("one.hook.info", hook_xml), ("nubo.log", log)):
        assert secret not in _every_reading(text), f"the password is in {where}"
