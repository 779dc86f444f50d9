"""The fault-tolerance hook end to end: a host goes to ERROR (its probe fails), the HOST
ERROR state hook runs ``python -m nubo.hooks.ft``, which recreates the host's VMs."""
from __future__ import annotations

import base64
import subprocess
import sys
import uuid

import pyone
import pytest
from lxml import etree

from server import NuboServer
from waits import ACTIVE, PENDING, RUNNING, wait_for, wait_state
from xsd import raw_call

ERROR = 3


def uniq(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    s = NuboServer(tmp_path_factory.mktemp("hooks-ft") / "data",
                   extra_config="host_monitoring_interval = 1\n").start()
    yield s
    assert s.stop() == 0


def records(server, hook_id: int) -> list[etree._Element]:
    xml = raw_call(server.endpoint, "one.hooklog.info", server.session, 0, 0, hook_id, 0)[1]
    return etree.fromstring(xml.encode()).findall("HOOK_EXECUTION_RECORD")


def test_a_host_in_error_gets_its_vms_recreated(server):
    one = pyone.OneServer(server.endpoint, session=server.session)
    hook = one.hook.allocate(
        f'NAME = "host-error"\nTYPE = "state"\nRESOURCE = "HOST"\nSTATE = "ERROR"\n'
        f'COMMAND = "{sys.executable} -m nubo.hooks.ft"\n'
        f'ARGUMENTS = "$TEMPLATE --endpoint {server.endpoint} --pause 0 --no-fencing"\n'
        'TIMEOUT = 60')
    host = one.host.allocate(uniq("ft-host"), "dummy", "dummy", -1)
    wait_for("host monitored", lambda: one.host.info(host).STATE == 2)
    vm_ids = [one.vm.allocate(f'NAME = "{uniq("ft")}"\nCPU = 0.1\nMEMORY = 32', False)
              for _ in range(2)]
    for vm_id in vm_ids:
        one.vm.deploy(vm_id, host)
        wait_state(one, vm_id, (ACTIVE, RUNNING))
    one.host.update(host, 'DUMMY_FAIL = "MONITOR"', 1)
    wait_for("host in ERROR", lambda: one.host.info(host).STATE == ERROR)
    record = wait_for("the hook's execution", lambda: records(server, hook), timeout=30)[0]
    result = record.find("EXECUTION_RESULT")
    assert result.findtext("CODE") == "0", etree.tostring(record).decode()
    for vm_id in vm_ids:
        assert f"VM {vm_id}: recreated" in result.findtext("STDOUT")
        vm = one.vm.info(vm_id)
        assert vm.STATE == PENDING or (vm.STATE, vm.LCM_STATE) == (ACTIVE, 15)


def test_the_ft_script_refuses_a_bad_template():
    done = subprocess.run([sys.executable, "-m", "nubo.hooks.ft", "not-base64!"],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 2
    host = base64.b64encode(b"<HOST><ID>1</ID><VMS/></HOST>").decode()
    done = subprocess.run([sys.executable, "-m", "nubo.hooks.ft", host, "--auth",
                           "/nonexistent", "--endpoint", "http://127.0.0.1:9/RPC2"],
                          capture_output=True, text=True, timeout=30, env={"HOME": "/nonexistent"})
    assert done.returncode != 0


def test_the_ft_script_recreates_nothing_unless_the_host_is_fenced(tmp_path):
    """Fencing is on by default: without --fence (or --no-fencing) nothing is recovered;
    a fence command that fails (non-zero) stops the hook before any API call."""
    host = base64.b64encode(b"<HOST><ID>4</ID><NAME>node-4</NAME><VMS><ID>9</ID></VMS>"
                            b"</HOST>").decode()
    auth = tmp_path / "auth"
    auth.write_text("oneadmin:pw")
    base = [sys.executable, "-m", "nubo.hooks.ft", host, "--auth", str(auth), "--pause", "0",
            "--endpoint", "http://127.0.0.1:9/RPC2"]  # nothing listens: no call may be made
    done = subprocess.run(base, capture_output=True, text=True, timeout=30)
    assert done.returncode == 3 and "--fence COMMAND" in done.stderr
    calls = tmp_path / "calls"
    fence = tmp_path / "fence.sh"
    fence.write_text(f'#!/bin/sh\necho "$@" >> {calls}\ncat >> {calls}\nexit 1\n')
    fence.chmod(0o755)
    done = subprocess.run([*base, "--fence", str(fence)], capture_output=True, text=True,
                          timeout=30)
    assert done.returncode == 3, done.stderr
    assert "fencing failed (exit 1)" in done.stderr and "VMs not recreated" in done.stderr
    args, xml = calls.read_text().splitlines()
    assert args == "node-4 4"
    assert base64.b64decode(xml).startswith(b"<HOST><ID>4</ID>")
    hanging = tmp_path / "hang.sh"
    hanging.write_text("#!/bin/sh\nexec sleep 60\n")
    hanging.chmod(0o755)
    done = subprocess.run([*base, "--fence", str(hanging), "--fence-timeout", "0.2"],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 3 and "fence command killed after 0.2 s" in done.stderr
