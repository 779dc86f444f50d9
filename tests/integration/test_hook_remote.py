"""REMOTE state hooks run on the host (the VM's, or the host itself) through
``hook_remote_command``; here a stand-in for ssh (tests/fixtures/fake_ssh.py) that runs
the command locally and tells it which host it was meant for."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pyone
import pytest
from lxml import etree

from server import NuboServer
from waits import ACTIVE, RUNNING, wait_for, wait_state
from xsd import assert_valid, raw_call

FAKE_SSH = Path(__file__).resolve().parents[1] / "fixtures" / "fake_ssh.py"
RECORD = """#!{python}
import json, os, sys
with open({out!r}, "a") as f:
    f.write(json.dumps({{"host": os.environ.get("FAKE_SSH_HOST"), "argv": sys.argv[1:]}}) + "\\n")
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    base = tmp_path_factory.mktemp("hook-remote")
    srv = NuboServer(base / "data", extra_config=(
        f'hook_remote_command = "{sys.executable} {FAKE_SSH} {{host}}"\n')).start()
    yield srv
    assert srv.stop() == 0


@pytest.fixture
def one(server):
    return pyone.OneServer(server.endpoint, session=server.session)


def runs(out: Path) -> list[dict]:
    return [json.loads(line) for line in out.read_text().splitlines()] if out.exists() else []


def test_a_remote_vm_hook_runs_on_the_vms_host_and_is_retried_there(server, one, tmp_path):
    out = tmp_path / "runs.jsonl"
    command = tmp_path / "record.py"
    command.write_text(RECORD.format(python=sys.executable, out=str(out)))
    command.chmod(0o755)
    hook = one.hook.allocate(f'NAME = "remote-running"\nTYPE = "state"\nRESOURCE = "VM"\n'
                             f'STATE = "RUNNING"\nREMOTE = "YES"\nCOMMAND = "{command}"\n'
                             f'ARGUMENTS = "$ID"')
    assert one.hook.info(hook).TEMPLATE["REMOTE"] == "YES"
    host = one.host.allocate("remote-node", "dummy", "dummy", -1)
    vm = one.vm.allocate('NAME = "rv"\nCPU = 0.1\nMEMORY = 32', False)
    one.vm.deploy(vm, host)
    wait_state(one, vm, (ACTIVE, RUNNING))
    wait_for("the hook's run", lambda: runs(out))
    assert runs(out) == [{"host": "remote-node", "argv": [str(vm)]}]
    log = raw_call(server.endpoint, "one.hook.info", server.session, hook)[1]
    assert_valid(log, "hook.xsd")
    wait_for("the execution record", lambda: "REMOTE_HOST" in raw_call(
        server.endpoint, "one.hook.info", server.session, hook)[1])
    record = etree.fromstring(raw_call(server.endpoint, "one.hook.info", server.session,
                                       hook)[1].encode()).find(".//HOOK_EXECUTION_RECORD")
    assert record.findtext("REMOTE_HOST") == "remote-node"
    one.hook.retry(hook, int(record.findtext("EXECUTION_ID")))
    wait_for("the retried run", lambda: len(runs(out)) == 2)
    assert runs(out)[1]["host"] == "remote-node"
    one.hook.delete(hook)


def test_remote_is_for_state_hooks_only(one):
    with pytest.raises(pyone.OneException, match="REMOTE applies to STATE hooks only"):
        one.hook.allocate('NAME = "r-api"\nTYPE = "api"\nCALL = "one.vm.allocate"\n'
                          'REMOTE = "YES"\nCOMMAND = "/bin/true"')
    with pytest.raises(pyone.OneException, match="Invalid REMOTE"):
        one.hook.allocate('NAME = "r-bad"\nTYPE = "state"\nRESOURCE = "HOST"\n'
                          'STATE = "ERROR"\nREMOTE = "MAYBE"\nCOMMAND = "/bin/true"')
