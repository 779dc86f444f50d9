"""A hook matched by a committed change survives a SIGKILL of the core: it is stored in
the change's transaction, so the restarted core runs it (again, if the kill came while
it ran: hooks run at least once, never zero times)."""
from __future__ import annotations

import sys
from pathlib import Path

import pyone
from lxml import etree

from server import NuboServer
from waits import ACTIVE, RUNNING, wait_for, wait_state
from xsd import raw_call

# Records its run, then waits (at most 30 s) for the test to release it.
SCRIPT = """#!{python}
import os, sys, time
with open({runs!r}, "a") as f:
    f.write(sys.argv[1] + "\\n")
deadline = time.monotonic() + 30
while not os.path.exists({release!r}) and time.monotonic() < deadline:
    time.sleep(0.05)
"""


def test_a_hook_interrupted_by_a_kill_runs_after_the_restart(tmp_path):
    runs, release = tmp_path / "runs", tmp_path / "release"
    command = tmp_path / "hook.py"
    command.write_text(SCRIPT.format(python=sys.executable, runs=str(runs),
                                     release=str(release)))
    command.chmod(0o755)
    data = tmp_path / "data"
    server = NuboServer(data).start()
    try:
        one = pyone.OneServer(server.endpoint, session=server.session)
        hook = one.hook.allocate(f'NAME = "slow"\nTYPE = "state"\nRESOURCE = "VM"\n'
                                 f'STATE = "RUNNING"\nCOMMAND = "{command}"\nARGUMENTS = "$ID"')
        host = one.host.allocate("crash-node", "dummy", "dummy", -1)
        vm = one.vm.allocate('NAME = "hk"\nCPU = 0.1\nMEMORY = 32', False)
        one.vm.deploy(vm, host)
        wait_state(one, vm, (ACTIVE, RUNNING))
        wait_for("the hook to start", lambda: runs.exists() and runs.read_text())
    finally:
        server.proc.kill()  # SIGKILL while the hook runs: its execution is not recorded
        server.proc.wait()
    release.touch()  # the orphaned first run may end now
    again = NuboServer(data).start()
    try:
        wait_for("the hook to run again", lambda: runs.read_text().split() == [str(vm)] * 2)

        def records() -> list:
            body = raw_call(again.endpoint, "one.hook.info", again.session, hook)[1]
            return etree.fromstring(body.encode()).findall(".//HOOK_EXECUTION_RECORD")
        wait_for("its execution record", records)
        assert [r.findtext("EXECUTION_RESULT/CODE") for r in records()] == ["0"]
    finally:
        assert again.stop() == 0
    # Recorded: a third start has nothing left to run.
    third = NuboServer(data).start()
    try:
        assert not any("left queued" in line for line in third.log_lines)
        assert runs.read_text().split() == [str(vm)] * 2
    finally:
        assert third.stop() == 0
