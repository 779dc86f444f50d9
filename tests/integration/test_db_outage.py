"""A database out of reach mid-run loses no driver answer: the core reaches its database
through a TCP proxy the test cuts (every connection reset, new ones refused) while VMs
await their transfer driver; the answers that arrive meanwhile are committed once the
proxy forwards again, every VM settles without a restart, and the API meanwhile says
"database unavailable" rather than "Internal error"."""
from __future__ import annotations

import re
import time
from typing import Callable

import pyone
import pytest

from dbs import create_database, drop_database
from server import NuboServer, deploy_vms
from tcp_proxy import TcpProxy
from waits import ACTIVE, DONE, HOLD, RUNNING, wait_for, wait_state

PORTS = {"postgresql": 5432, "mariadb": 3306}  # MariaDB passes too, but builds its
# schema in ~10 s: the suite runs this on PostgreSQL only (the outage reported there).
VMS = 6


def answered(server: NuboServer, vm_ids: list[int], since: int) -> bool:
    """The transfer driver answered every VM since log line ``since``."""
    seen = {int(m.group(1)) for line in server.log_lines[since:]
            if (m := re.search(r"dummy TRANSFER id=(\d+) .* SUCCESS", line))}
    return seen >= set(vm_ids)


def waiting(server: NuboServer, op: str) -> int:
    return sum(f"the answer to {op}: waiting for the database" in line
               for line in list(server.log_lines))


def outage(server: NuboServer, proxy: TcpProxy, one, vm_ids: list[int], op: str | None,
           during: Callable[[], None] = lambda: None) -> None:
    """Cut the database while ``op`` (if any) is out; back once every VM's answer
    arrived, and ``during`` returned."""
    since = len(server.log_lines)
    proxy.cut()
    try:
        with pytest.raises(pyone.OneException, match=r"\[one\.vm\.info\] database "
                           r"unavailable, try again"):
            one.vm.info(vm_ids[0])
        if op is not None:
            wait_for(f"every {op} answer", lambda: answered(server, vm_ids, since), 15)
            assert waiting(server, op) > 0, f"no {op} answer arrived during the cut"
        during()
    finally:
        proxy.restore()


@pytest.mark.parametrize("backend", ["postgresql"])
def test_answers_during_a_database_outage_are_committed_once_it_is_back(
        tmp_path, monkeypatch, backend):
    url = create_database(backend, tmp_path)
    proxy = TcpProxy(("127.0.0.1", PORTS[backend])).start()
    # Transfers (PROLOG, EPILOG) take a while: their answers come during the cut.
    monkeypatch.setenv("NUBO_DUMMY_LATENCY", "TRANSFER=1.5")
    # the dummy transfer driver: its TRANSFER latency puts PROLOG's answers in the cut
    server = NuboServer(tmp_path / "data", database_url=url.replace(
        f":{PORTS[backend]}/", f":{proxy.port}/"),
        extra_config='transfer_driver = "dummy"\n').start()
    try:
        one = pyone.OneServer(server.endpoint, session=server.session)
        # A scheduled hold falls due during a cut: it runs once the database is back.
        held = one.vm.allocate('NAME = "held"\nCPU = 0.1\nMEMORY = 64', False)
        one.vm.schedadd(held, 'SCHED_ACTION = [ ACTION = "hold", '
                              f'TIME = "{int(time.time()) + 1}" ]')
        outage(server, proxy, one, [held], None, lambda: wait_for(
            "the scheduled actions' timer to wait", lambda: any(
                "scheduled action" in line and "waiting for the database" in line
                for line in list(server.log_lines))))
        wait_state(one, held, (HOLD, 0))

        one, host, vm_ids = deploy_vms(server, "node-outage", VMS)
        outage(server, proxy, one, vm_ids, "tm.PROLOG")  # PROLOG's answers, during it
        for vm_id in vm_ids:
            wait_state(one, vm_id, (ACTIVE, RUNNING))

        # A hook on EPILOG that ends only once the database is cut: its executions are
        # recorded during the cut.
        go = tmp_path / "hooks-may-end"
        hook = one.hook.allocate(
            'NAME = "slow"\nTYPE = "state"\nRESOURCE = "VM"\nSTATE = "ACTIVE"\n'
            'LCM_STATE = "EPILOG"\nCOMMAND = "/bin/sh"\n'
            f'ARGUMENTS = "-c \'while [ ! -e {go} ]; do sleep 0.05; done\'"')
        hook_waits = f"hook {hook}: its execution record: waiting for the database"

        def end_the_hooks() -> None:
            go.touch()
            wait_for("a hook record waiting", lambda: any(
                hook_waits in line for line in list(server.log_lines)))
        for vm_id in vm_ids:
            one.vm.action("terminate-hard", vm_id)
        wait_for("every VM in EPILOG", lambda: all(
            one.vm.info(v).LCM_STATE in (11, 0) for v in vm_ids))
        outage(server, proxy, one, vm_ids, "tm.EPILOG", end_the_hooks)
        for vm_id in vm_ids:
            wait_state(one, vm_id, (DONE, 0))
        assert one.host.info(host).HOST_SHARE.RUNNING_VMS == 0
        wait_for("every hook execution recorded",
                 lambda: len(one.hook.info(hook).HOOKLOG.HOOK_EXECUTION_RECORD) == VMS)
        assert not any("handling the answer" in line for line in server.log_lines)
        assert any("database available again" in line for line in server.log_lines)
    finally:
        code = server.stop()
        proxy.close()
        drop_database(backend, url)
    assert code == 0, "".join(server.log_lines[-30:])


def test_a_commit_cut_short_is_asked_again_once_the_database_is_back(tmp_path, monkeypatch):
    """An answer's commit goes through but the core is told the database went away (the
    COMMIT's reply lost): its retry finds the answer stale, and the operation that commit
    awaits was never sent. Once the database is back the core asks for it again."""
    from contextlib import contextmanager

    from nubo.api.methods.hosts import host_allocate
    from nubo.api.methods.vm_actions import vm_deploy
    from nubo.api.methods.vms import vm_allocate
    from nubo.core.ops.call import Call
    from nubo.config import load_config
    from nubo.core.cloud import ONEADMIN
    from nubo.serve import open_core
    from nubo.store.outage import DatabaseUnavailable

    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("NUBO_DUMMY_LATENCY", "TRANSFER=0.3")
    cfg = load_config(None, data_dir=tmp_path / "data", first_dummy_host="")
    core = open_core(cfg)
    cloud, drivers, lcm = core.cloud, core.drivers, core.lifecycle
    drivers.start()
    db = cloud.db
    cut_after_commit: list[bool] = []
    real_write = db.write

    @contextmanager
    def write():
        with real_write() as conn:
            yield conn
        if cut_after_commit:  # committed, yet the core hears the database went away
            cut_after_commit.clear()
            db.outage.down(ConnectionResetError("reply lost"), write=True)
            raise DatabaseUnavailable("the COMMIT's reply was lost")
    try:
        call = Call(cloud, ONEADMIN, "test")
        host = host_allocate(call, "node-doubt", "dummy", "dummy", -1)
        vm_id = vm_allocate(call, 'NAME = "doubt"\nCPU = 0.1\nMEMORY = 64', False)
        monkeypatch.setattr(db, "write", write)
        vm_deploy(call, vm_id, host, False, -1, "")  # PROLOG: its transfer takes 0.3 s
        cut_after_commit.append(True)  # ... and its answer's commit is cut short

        def state() -> tuple[int, int]:
            with db.read() as conn:
                vm = cloud.pools.vms.get(conn, vm_id)
            return vm.state, vm.lcm_state
        wait_for("the VM RUNNING", lambda: state() == (ACTIVE, RUNNING), 15)
        assert not cut_after_commit, "the answer's commit was not cut short"
    finally:
        drivers.close()
        lcm.close()
        db.close()
