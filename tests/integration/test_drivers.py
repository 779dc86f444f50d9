"""The driver manager with real driver processes: the dummy, a misbehaving script, a shell driver.

Every manager a test makes is closed at teardown and every driver process it
started must be gone by then.
"""
from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from nubo.drivers import DriverManager, DriverResult, DriverSpec
from nubo.template import parse

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "drivers"
DUMMY = (sys.executable, "-m", "nubo.drivers.dummy")
SCRIPTED = (sys.executable, str(FIXTURES / "scripted.py"))


def wait_for(cond: Callable[[], object], timeout: float = 10.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while not (value := cond()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.005)
    return value


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture
def make():
    """make(*specs, **kw) -> a started (and ready) manager, closed and checked at teardown."""
    made: list[DriverManager] = []

    def factory(*specs: DriverSpec, ready: bool = True, **kw) -> DriverManager:
        manager = DriverManager(specs, **kw)
        made.append(manager)
        manager.start()
        if ready:
            assert manager.wait_ready(15), manager.stats()
        return manager

    yield factory
    for manager in made:
        pids = [pid for name in manager.names if (pid := manager.pid(name))]
        manager.close(drain_timeout=0)
        for pid in pids:  # earlier incarnations were reaped when they died
            assert not alive(pid), f"driver process {pid} survived close()"


def dummy(name: str = "dummy", roles: str = "vmm,im,tm", *args: str, **kw) -> DriverSpec:
    return DriverSpec(name, DUMMY + (roles, *args), **kw)


def scripted(*args: str, **kw) -> DriverSpec:
    return DriverSpec(kw.pop("name", "scripted"), SCRIPTED + args, **kw)


VM = "<VM><ID>{oid}</ID><TEMPLATE><CPU>1</CPU><MEMORY>512</MEMORY></TEMPLATE>" \
     "<USER_TEMPLATE>{extra}</USER_TEMPLATE></VM>"


def vm(oid: int, extra: str = "") -> str:
    return VM.format(oid=oid, extra=extra)


# ---------------------------------------------------------------------------- the dummy

def test_deploy_poll_monitor_shutdown(make, caplog):
    caplog.set_level(logging.INFO, "nubo.drivers.actions")
    m = make(dummy())
    r = m.run("dummy", "DEPLOY", 5, "host1", vm(5, "<SECRET>hunter2</SECRET>"))
    assert (r.success, r.info, r.origin, r.host) == (True, "one-5", "driver", "host1")
    assert m.run("dummy", "POLL", 5, "host1").info.startswith("STATE=a CPU=100 MEMORY=524288")
    mon = m.run("dummy", "MONITOR", 0, "host1")
    tmpl = parse(mon.info_bytes().decode())
    assert [v.get("ID") for v in tmpl.get_vectors("VM")] == ["5"]
    assert tmpl.get("USEDMEMORY") == "524288"
    assert m.run("dummy", "SHUTDOWN", 5, "host1").success
    assert m.run("dummy", "POLL", 5, "host1").info == "STATE=d"
    logged = [r.getMessage() for r in caplog.records if r.name == "nubo.drivers.actions"]
    assert any("dummy DEPLOY id=5 host=host1 SUCCESS" in line for line in logged)
    assert "hunter2" not in caplog.text  # payloads are never logged


def test_fault_injection(make):
    m = make(dummy())
    doomed = vm(8, "<DUMMY_FAIL>DEPLOY,SHUTDOWN</DUMMY_FAIL>")
    r = m.run("dummy", "DEPLOY", 8, "h", doomed)
    assert (r.success, r.origin) == (False, "driver") and "DUMMY_FAIL" in r.info
    assert m.run("dummy", "DEPLOY", 8, "h", vm(8)).success
    assert not m.run("dummy", "SHUTDOWN", 8, "h", doomed).success
    assert m.run("dummy", "POLL", 8, "h", doomed).info.startswith("STATE=a")
    assert not m.run("dummy", "MONITOR", 1, "h", 'DUMMY_FAIL = "MONITOR"').success


def test_state_file_lets_vms_outlive_the_driver(make, tmp_path):
    state = str(tmp_path / "dummy.state")
    m = make(dummy("d", "vmm,im", "--state", state))
    assert m.run("d", "DEPLOY", 1, "h", vm(1)).success
    old = m.pid("d")
    os.kill(old, signal.SIGKILL)
    wait_for(lambda: m.pid("d") not in (None, old) and m.wait_ready(0), what="restart")
    assert m.run("d", "POLL", 1, "h").info.startswith("STATE=a")


# ---------------------------------------------------------------------------- failures

def test_timeouts_per_action(make, caplog):
    m = make(scripted(timeouts={"HANG": 0.2, "SLOW": 0.3}))
    r = m.run("scripted", "HANG", 1, "h")
    assert (r.success, r.origin) == (False, "timeout") and "within 0.2s" in r.info
    assert 0.2 <= r.duration < 2
    r = m.run("scripted", "ECHO", 1, "h", timeout=5)
    assert (r.success, r.info) == (True, "h")
    # a late answer to a timed-out action is recognised, not taken for a newer one
    caplog.set_level(logging.INFO, "nubo.drivers")
    slow = m.run("scripted", "SLOW", 2, "h", "0.6")
    assert slow.origin == "timeout"
    wait_for(lambda: "late answer to timed-out SLOW 2" in caplog.text, what="late answer")
    assert m.stats()["scripted"].timeouts == 2


def test_sigkill_mid_action_fails_in_flight_and_restarts(make):
    m = make(dummy("d", "vmm", "--latency", "DEPLOY=30", concurrency=5))
    deploys = [m.submit("d", "DEPLOY", i, "h", vm(i)) for i in range(5)]
    polls = [m.submit("d", "POLL", i, "h") for i in range(2)]  # queued behind the limit
    wait_for(lambda: m.stats()["d"].in_flight == 5, what="5 in flight")
    assert m.stats()["d"].queued == 2
    old = m.pid("d")
    os.kill(old, signal.SIGKILL)
    for f in deploys:
        r = f.result(10)
        assert (r.success, r.origin) == (False, "crash")
        assert "died (killed by SIGKILL)" in r.info and "DEPLOY" in r.info
    for f in polls:  # never sent to the dead one: they run on the new one
        assert f.result(10).success
    assert m.pid("d") not in (None, old)
    assert m.run("d", "POLL", 1, "h").success
    s = m.stats()["d"]
    assert (s.starts, s.crashed, s.state) == (2, 5, "running")


def test_exit_and_restart(make):
    m = make(scripted())
    r = m.run("scripted", "EXIT", 1, "h")
    assert (r.success, r.origin) == (False, "crash") and "exit code 3" in r.info
    assert m.run("scripted", "ECHO", 2, "h", timeout=10).success


def test_garbage_output_fails_the_action_not_the_core(make, caplog):
    m = make(scripted(timeouts={"WRONGID": 0.3}))
    r = m.run("scripted", "GARBAGE", 4, "h", timeout=10)
    assert (r.success, r.origin) == (False, "protocol")
    assert "malformed answer: result must be SUCCESS or FAILURE" in r.info
    assert m.stats()["scripted"].protocol_errors == 3
    assert "this is not the protocol" in caplog.text
    r = m.run("scripted", "WRONGID", 4, "h")
    assert r.origin == "timeout"
    assert "answer to WRONGID 1004, which is not in flight" in caplog.text
    assert m.run("scripted", "BIG", 4, "h").info == "x" * (1 << 20)
    assert m.run("scripted", "ECHO", 4, "h").success
    assert m.stats()["scripted"].starts == 1


def test_logs_and_stderr(make, caplog):
    got: list[tuple] = []
    m = make(scripted(), on_log=lambda *a: got.append(a))
    assert m.run("scripted", "LOGS", 6, "h").success
    assert got == [("scripted", "I", 6, "hello from the driver"),
                   ("scripted", "E", None, "a driver-wide complaint")]
    assert m.run("scripted", "STDERR", 6, "h").success
    wait_for(lambda: "stderr: something on stderr" in caplog.text, what="stderr logged")


@pytest.mark.parametrize("args", [("--exit-at-init",), ("--init-failure",), ("--no-init",)])
def test_driver_that_cannot_start_becomes_unavailable(make, args):
    m = make(scripted(*args, init_timeout=0.3, restart_initial=0.01), ready=False)
    f = m.submit("scripted", "ECHO", 1, "h", timeout=30)
    r = f.result(15)
    assert (r.success, r.origin) == (False, "unavailable")
    assert "3 failed starts" in r.info
    r = m.run("scripted", "ECHO", 1, "h")  # fails at once, or at its next failed start
    assert (r.success, r.origin) == (False, "unavailable")


def test_missing_command_and_unknown_driver(make):
    m = make(DriverSpec("ghost", ["/nonexistent/driver"], restart_initial=0.01), ready=False)
    r = m.submit("ghost", "DEPLOY", 1, "h").result(10)
    assert r.origin == "unavailable" and "cannot start" in r.info
    r = m.run("kvm", "DEPLOY", 1, "h")
    assert (r.success, r.origin) == (False, "unavailable") and "no driver named 'kvm'" in r.info
    with pytest.raises(ValueError):
        m.submit("ghost", "deploy", 1, "h")
    with pytest.raises(ValueError):
        m.submit("kvm", "DEPLOY", 1, "two words")


# ---------------------------------------------------------------------------- concurrency

def test_a_thousand_actions_in_flight(make):
    m = make(dummy("d", "vmm,im", "--latency", "DEPLOY=1.5", concurrency=1000))
    futures = [m.submit("d", "DEPLOY", i, f"host{i % 100}", vm(i)) for i in range(1000)]
    wait_for(lambda: m.stats()["d"].in_flight == 1000, what="1000 in flight")
    results = [f.result(30) for f in futures]
    assert all(r.success for r in results)
    assert sorted(r.oid for r in results) == list(range(1000))
    mon = parse(m.run("d", "MONITOR", 0, "host7").info_bytes().decode())
    assert sorted(int(v.get("ID")) for v in mon.get_vectors("VM")) == list(range(7, 1000, 100))


def test_concurrency_is_bounded_and_the_rest_queues(make):
    m = make(dummy("d", "vmm", "--latency", "POLL=0.01", concurrency=50))
    seen: list[int] = []
    futures = [m.submit("d", "POLL", i, "h") for i in range(1000)]
    while not all(f.done() for f in futures):  # sample while they run
        seen.append(m.stats()["d"].in_flight)
        time.sleep(0.001)
    assert max(seen) <= 50 and all(f.result().success for f in futures)


def test_results_are_delivered_exactly_once_when_answers_race_timeouts(make):
    m = make(scripted())
    counts: Counter[int] = Counter()
    results: list[DriverResult] = []
    lock = threading.Lock()
    all_in = threading.Event()

    def callback(r: DriverResult) -> None:
        with lock:
            counts[r.oid] += 1
            results.append(r)
            if len(results) == 300:
                all_in.set()

    for i in range(300):  # answers after 0.1s, timeout at 0.1s: both paths race
        m.submit_callback("scripted", "SLOW", i, "h", "0.1", callback, timeout=0.1)
    assert all_in.wait(20)
    time.sleep(0.3)  # a second delivery would come from late answers within this window
    assert set(counts.values()) == {1} and len(counts) == 300
    assert {r.origin for r in results} <= {"driver", "timeout"}


def test_callbacks_may_submit_more(make):
    m = make(dummy())
    done = threading.Event()

    def chain(r: DriverResult) -> None:
        if r.oid < 50:
            m.submit_callback("dummy", "POLL", r.oid + 1, "h", "", chain)
        else:
            done.set()

    m.submit_callback("dummy", "POLL", 0, "h", "", chain)
    assert done.wait(10)


# ---------------------------------------------------------------------------- shutdown

def test_close_fails_in_flight_and_ends_processes(make):
    m = make(scripted())
    pid = m.pid("scripted")
    hung = m.submit("scripted", "HANG", 1, "h")
    m.close(drain_timeout=0.1)
    r = hung.result(5)
    assert (r.success, r.origin) == (False, "shutdown")
    assert not alive(pid)
    r = m.run("scripted", "ECHO", 1, "h")
    assert (r.success, r.origin) == (False, "shutdown")


def test_close_waits_for_in_flight_actions(make):
    m = make(dummy("d", "vmm", "--latency", "DEPLOY=0.3"))
    f = m.submit("d", "DEPLOY", 1, "h")
    m.close(drain_timeout=10)
    assert f.result(0).success


def test_close_kills_a_driver_that_ignores_finalize_and_sigterm(make):
    stubborn = ["sh", "-c", 'trap "" TERM; read l; echo "INIT SUCCESS"; '
                'while :; do sleep 1; done']
    m = make(DriverSpec("stubborn", stubborn, finalize_grace=0.2))
    pid = m.pid("stubborn")
    start = time.monotonic()
    m.close()
    assert not alive(pid) and time.monotonic() - start < 5

    def group_gone() -> bool:  # its children (the sleep) went with it, once init reaps them
        try:
            os.killpg(pid, 0)
        except ProcessLookupError:
            return True
        return False
    wait_for(group_gone, what="the driver's process group to vanish")


def test_shell_driver_from_the_docs(make):
    got: list[tuple] = []
    m = make(DriverSpec("sh", ["sh", str(FIXTURES / "echo.sh")]), on_log=lambda *a: got.append(a))
    r = m.run("sh", "DEPLOY", 3, "node1", b"<VM/>")
    assert (r.success, r.info) == (True, "sh-3")
    assert got == [("sh", "I", 3, "deploying on node1")]
    assert m.run("sh", "POLL", 3, "node1").success


def test_restarts_leave_no_threads_behind(make):
    m = make(scripted())
    before = threading.active_count()
    for i in range(3):
        assert m.run("scripted", "EXIT", i, "h").origin == "crash"
        assert m.wait_ready(10)
    wait_for(lambda: threading.active_count() <= before, what="old runs' threads to end")


# ------------------------------------------------------------------ lanes, limits, cancel

def test_a_host_whose_deploy_hangs_is_still_probed_on_time(make):
    """Deploys filling every slot of the driver do not delay monitoring: MONITOR runs
    in the probe lane."""
    m = make(dummy("d", "vmm,im", "--latency", "DEPLOY=30", concurrency=4))
    hung = [m.submit("d", "DEPLOY", i, "h1", vm(i)) for i in range(6)]
    wait_for(lambda: m.stats()["d"].in_flight == 4, what="4 deploys in flight")
    started = time.monotonic()
    probe = m.run("d", "MONITOR", 1, "h1", "", timeout=5)
    assert probe.success and time.monotonic() - started < 2
    assert parse(probe.info_bytes().decode()).get("HOSTNAME") == "h1"
    assert not any(f.done() for f in hung) and m.stats()["d"].queued == 2


def test_actions_in_flight_per_host_are_limited(make):
    """host_concurrency: a host's further actions wait in the core, in order, while
    other hosts' go ahead; each one freed lets the next through."""
    m = make(dummy("d", "vmm", "--latency", "DEPLOY=0.5", host_concurrency=2))
    busy = [m.submit("d", "DEPLOY", i, "h1", vm(i)) for i in range(5)]
    wait_for(lambda: m.stats()["d"].in_flight == 2, what="2 in flight on h1")
    assert m.stats()["d"].queued == 3
    other = m.run("d", "DEPLOY", 10, "h2", vm(10), timeout=5)
    assert other.success and other.duration < 1.5
    results = [f.result(10) for f in busy]
    assert all(r.success for r in results)
    # in pairs: the last ones waited for two rounds of the first ones
    assert results[4].duration >= 1.0 > results[0].duration
    assert m.stats()["d"].in_flight == m.stats()["d"].queued == 0


def test_a_timed_out_action_is_cancelled_in_the_driver(make, caplog):
    """cancel_on_timeout: the core fails the action and tells the driver, which drops it
    (no late answer comes)."""
    caplog.set_level(logging.INFO, "nubo.drivers")
    m = make(dummy("d", "vmm", "--latency", "DEPLOY=1", cancel_on_timeout=True,
                   timeouts={"DEPLOY": 0.3}))
    r = m.run("d", "DEPLOY", 3, "h", vm(3))
    assert (r.success, r.origin) == (False, "timeout") and "DRIVER_CANCEL sent" in r.info
    wait_for(lambda: "DRIVER_CANCEL 3 SUCCESS" in caplog.text, what="the cancel's answer")
    time.sleep(1.0)
    assert "late answer" not in caplog.text
    assert m.run("d", "POLL", 3, "h").info == "STATE=d"  # it never ran


def test_a_driver_declares_its_capabilities_in_its_init_answer(make):
    """``INIT SUCCESS CAPABILITIES=...``: what a driver can do, unless its spec says."""
    script = ('read l; echo "INIT SUCCESS CAPABILITIES=live-resize,snapshots"; '
              'while read a i h p; do [ "$a" = FINALIZE ] && exit 0; '
              'echo "$a SUCCESS $i -"; done')
    m = make(DriverSpec("sh", ["sh", "-c", script]),
             DriverSpec("told", ["sh", "-c", script], capabilities=["save-restore"]))
    assert m.capabilities("sh") == {"live-resize", "snapshots"}
    assert m.capabilities("told") == {"save-restore"}
    assert m.capabilities("nope") is None
