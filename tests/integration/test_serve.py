"""`nubo serve` as an operator meets it: first start, credentials, restart, SIGTERM, kill -9."""
from __future__ import annotations

import os
import signal
import stat
import threading
import xmlrpc.client

import pyone
import pytest

from server import NuboServer, child_pids
from waits import wait_for


def test_first_start_writes_credentials_0600(tmp_path):
    server = NuboServer(tmp_path / "data", password="").start()
    try:
        auth = tmp_path / "data" / "one_auth"
        home_auth = tmp_path / "data" / "home" / ".one" / "one_auth"
        for f in (auth, home_auth):
            assert stat.S_IMODE(f.stat().st_mode) == 0o600
        user, password = auth.read_text().strip().split(":", 1)
        assert user == "oneadmin" and len(password) >= 16
        assert home_auth.read_text() == auth.read_text()
        one = pyone.OneServer(server.endpoint, session=f"oneadmin:{password}")
        assert one.user.info(0).NAME == "oneadmin"
        log = (tmp_path / "data" / "nubo.log").read_text()
        assert password not in log and password not in "".join(server.log_lines)
    finally:
        assert server.stop() == 0


def test_existing_home_one_auth_is_left_alone(tmp_path):
    home_auth = tmp_path / "data" / "home" / ".one" / "one_auth"
    home_auth.parent.mkdir(parents=True)
    home_auth.write_text("someone:else\n")
    server = NuboServer(tmp_path / "data").start()
    assert server.stop() == 0
    assert home_auth.read_text() == "someone:else\n"


def test_restart_keeps_state_and_password(tmp_path):
    server = NuboServer(tmp_path / "data", password="first-pw").start()
    one = pyone.OneServer(server.endpoint, session=server.session)
    uid = one.user.allocate("persisted", "pw", "", [])
    assert server.stop() == 0
    again = NuboServer(tmp_path / "data", password="ignored-second-time").start()
    try:
        one = pyone.OneServer(again.endpoint, session="oneadmin:first-pw")
        assert one.user.info(uid).NAME == "persisted"
    finally:
        assert again.stop() == 0


def test_kill_9_loses_nothing_acknowledged(tmp_path):
    """Every allocate that got an id back is there after a kill -9 and a restart."""
    server = NuboServer(tmp_path / "data").start()
    acked: list[int] = []
    stop = threading.Event()

    def burst(n: int) -> None:
        proxy = xmlrpc.client.ServerProxy(server.endpoint)
        i = 0
        while not stop.is_set():
            i += 1
            try:
                reply = proxy.one.group.allocate(server.session, f"g-{n}-{i}")
            except (OSError, xmlrpc.client.ProtocolError):
                return
            if reply[0]:
                acked.append(reply[1])

    threads = [threading.Thread(target=burst, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    while len(acked) < 40:
        if not any(t.is_alive() for t in threads):
            pytest.fail("allocations stopped early")
    os.kill(server.proc.pid, signal.SIGKILL)
    server.proc.wait()
    stop.set()
    for t in threads:
        t.join()
    again = NuboServer(tmp_path / "data").start()
    try:
        one = pyone.OneServer(again.endpoint, session=again.session)
        ids = {g.ID for g in one.grouppool.info().GROUP}
        missing = set(acked) - ids
        assert not missing, f"acknowledged groups lost by kill -9: {sorted(missing)}"
        # ids are never reused, even for a create that was in flight
        new = one.group.allocate("after-restart")
        assert new > max(ids)
    finally:
        assert again.stop() == 0


def test_the_embedded_default_runs_a_vm_out_of_the_box(tmp_path):
    # What scripts/serve gives a new user: one dummy host, monitored at once, and the
    # scheduler placing a VM on it with no deploy call.
    defaults = ('first_dummy_host = "localhost-dummy"\nscheduler = true\n'
                "host_monitoring_interval = 180\n")
    server = NuboServer(tmp_path / "data", extra_config=defaults).start()
    try:
        one = pyone.OneServer(server.endpoint, session=server.session)
        (host,) = one.hostpool.info().HOST
        assert host.NAME == "localhost-dummy" and host.IM_MAD == "dummy"
        vm = one.vm.allocate('NAME = "first"\nCPU = 0.1\nMEMORY = 64', False)
        wait_for("the first VM RUNNING on the dummy host",
                 lambda: (one.vm.info(vm).STATE, one.vm.info(vm).LCM_STATE) == (3, 3), 30)
        assert one.vm.info(vm).HISTORY_RECORDS.HISTORY[-1].HOSTNAME == "localhost-dummy"
    finally:
        assert server.stop() == 0
    again = NuboServer(tmp_path / "data", extra_config=defaults).start()
    try:  # only a new cloud gets the host
        assert len(pyone.OneServer(again.endpoint, session=again.session)
                   .hostpool.info().HOST) == 1
    finally:
        assert again.stop() == 0


def _running(pid: int) -> bool:
    """The process exists and is not a zombie waiting to be reaped."""
    try:
        stat = open(f"/proc/{pid}/stat").read()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def test_sigterm_stops_everything_without_an_error(tmp_path):
    # The scheduler child used to abort at every stop ("Fatal Python error:
    # _enter_buffered_busy ... <stdin>") from its stdin-watching thread.
    server = NuboServer(tmp_path / "data",
                        extra_config='scheduler = true\nlog_level = "DEBUG"\n').start()
    try:
        # In its loop: a call waiting for changes answered (it may be in the next one
        # when the core stops; it used to fail against the closed API).
        wait_for("the scheduler child waiting for changes",
                 lambda: any("nubo.sched.wait uid=0 ok" in line for line in server.log_lines))
        children = child_pids(server.proc.pid)
        descendants = children + [p for c in children for p in child_pids(c)]
        assert len(children) >= 2  # the scheduler and at least one driver
    finally:
        code = server.stop()
    output = "".join(server.log_lines) + (tmp_path / "data" / "nubo.log").read_text()
    assert code == 0, output[-3000:]
    for bad in ("Fatal Python error", "Traceback", "stopped with", "did not exit",
                "waiting for changes failed"):  # the scheduler stops before the API
        assert bad not in output, output[-3000:]
    wait_for("every child process gone", lambda: not any(map(_running, descendants)), 10)


def _loose_modes(data_dir) -> dict[str, str]:
    """Every file or directory under data_dir (not the test's own nubo.toml) whose mode
    is not 0600 (files) or 0700 (directories)."""
    loose = {}
    for path in data_dir.rglob("*"):
        if path.name == "nubo.toml":
            continue
        want = 0o700 if path.is_dir() else 0o600
        mode = stat.S_IMODE(path.lstat().st_mode)
        if mode != want:
            loose[str(path.relative_to(data_dir))] = oct(mode)
    return loose


@pytest.mark.parametrize("umask", [0o022, 0])
def test_every_file_nubo_creates_is_private(tmp_path, umask):
    """The database and its -wal/-shm, nubo.log, one_auth, the dummy driver's journal:
    0600 (directories 0700) even when nubo is started with a permissive umask."""
    data = tmp_path / "data"
    server = NuboServer(data, password="", umask=umask,
                        extra_config='first_dummy_host = "h0"\n').start()
    try:
        session = (data / "one_auth").read_text().strip()
        one = pyone.OneServer(server.endpoint, session=session)
        vm = one.vm.allocate('NAME = "private"\nCPU = 0.1\nMEMORY = 32', False)
        one.vm.deploy(vm, one.hostpool.info().HOST[0].ID)
        wait_for("the VM RUNNING", lambda: one.vm.info(vm).LCM_STATE == 3, 30)
        made = {p.name for p in data.rglob("*")}
        assert {"nubo.db", "nubo.db-wal", "nubo.db-shm", "nubo.log", "one_auth",
                "dummy-state", ".one"} <= made
        assert _loose_modes(data) == {}
    finally:
        assert server.stop() == 0
    assert _loose_modes(data) == {}
