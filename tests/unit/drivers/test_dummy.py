"""The dummy drivers in-process: actions, fault injection, state journal, the I/O loop."""
from __future__ import annotations

import base64
import os
import threading

import pytest

from nubo.drivers import protocol as p
from nubo.drivers.dummy.simulation import DummyDriver, check_roles
from nubo.drivers.dummy.down import DownHosts
from nubo.drivers.dummy.loop import Latency, serve
from nubo.drivers.dummy.payload import Doc
from nubo.drivers.dummy.state import DummyState
from nubo.template import parse

VM_XML = (b"<VM><ID>7</ID><MONITORING><CPU>99</CPU><MEMORY>1</MEMORY></MONITORING>"
          b"<TEMPLATE><CPU><![CDATA[0.5]]></CPU><MEMORY>256</MEMORY></TEMPLATE>"
          b"<USER_TEMPLATE>%s</USER_TEMPLATE></VM>")


def vm_xml(user: bytes = b"") -> bytes:
    return VM_XML % user


@pytest.fixture
def driver() -> DummyDriver:
    return DummyDriver(["vmm", "im", "tm"], DummyState())


def run(driver: DummyDriver, action: str, oid: int, host: str | None, payload: bytes = b""):
    return driver.handle(p.Request(action, oid, host, payload))


def monitor(driver: DummyDriver, host: str, payload: bytes = b"") -> dict:
    ok, info = run(driver, "MONITOR", 0, host, payload)
    assert ok, info
    tmpl = parse(base64.b64decode(info).decode())
    return {"tmpl": tmpl, "vms": {int(v.get("ID")): v for v in tmpl.get_vectors("VM")}}


def test_deploy_poll_monitor_shutdown(driver):
    assert run(driver, "DEPLOY", 7, "h1", vm_xml()) == (True, "one-7")
    assert run(driver, "POLL", 7, "h1") == (True, "STATE=a CPU=50 MEMORY=262144 NETRX=0 NETTX=0")
    m = monitor(driver, "h1")
    assert m["tmpl"].get("USEDMEMORY") == "262144" and m["tmpl"].get("RUNNING_VMS") == "1"
    assert m["tmpl"].get("TOTALCPU") == "800" and m["tmpl"].get("FREECPU") == "750"
    assert m["vms"][7].get("POLL").startswith("STATE=a")
    assert run(driver, "SHUTDOWN", 7, "h1") == (True, "")
    assert run(driver, "POLL", 7, "h1") == (True, "STATE=d")
    assert monitor(driver, "h1")["vms"] == {}
    assert run(driver, "SHUTDOWN", 7, "h1") == (True, "")  # idempotent, for recovery


def test_text_template_payload_and_defaults(driver):
    assert run(driver, "DEPLOY", 1, "h", b'CPU = "2"\nMEMORY = 1024\n')[0]
    assert run(driver, "DEPLOY", 2, "h", b"")[0]
    vms = driver.state.hosts["h"].vms
    assert (vms[1].cpu, vms[1].memory) == (200, 1024 * 1024)
    assert (vms[2].cpu, vms[2].memory) == (100, 128 * 1024)


@pytest.mark.parametrize("user, failing", [
    (b"<DUMMY_FAIL>DEPLOY,SHUTDOWN</DUMMY_FAIL>", {"DEPLOY", "SHUTDOWN"}),
    (b"<DUMMY_FAIL><![CDATA[ shutdown ]]></DUMMY_FAIL>", {"SHUTDOWN"}),
    (b"<DUMMY_FAIL>*</DUMMY_FAIL>", {"DEPLOY", "SHUTDOWN", "POLL", "REBOOT"}),
    (b"", set()),
])
def test_fault_injection(driver, user, failing):
    doc = vm_xml(user)
    driver.state.place(7, "h1", 100, 1024, "one-7")  # running, whatever DEPLOY says
    for action in ("DEPLOY", "REBOOT", "POLL", "SHUTDOWN"):
        ok, info = run(driver, action, 7, "h1", doc)
        if action in failing:
            assert not ok and info == f"DUMMY_FAIL: injected failure of {action}"
        else:
            assert ok, info


def test_fault_injection_in_text_template_and_tm(driver):
    ok, info = run(driver, "CLONE", 3, "h1", b'DUMMY_FAIL = "CLONE"')
    assert not ok and "CLONE" in info
    assert run(driver, "LN", 3, "h1", b'DUMMY_FAIL = "CLONE"') == (True, "")


def test_host_capacity_and_failure_from_host_template(driver):
    host = b"<HOST><TEMPLATE><DUMMY_TOTALCPU>1600</DUMMY_TOTALCPU>" \
           b"<DUMMY_TOTALMEMORY>1048576</DUMMY_TOTALMEMORY></TEMPLATE></HOST>"
    t = monitor(driver, "big", host)["tmpl"]
    assert (t.get("TOTALCPU"), t.get("TOTALMEMORY")) == ("1600", "1048576")
    assert monitor(driver, "big")["tmpl"].get("TOTALCPU") == "1600"  # remembered
    ok, info = run(driver, "MONITOR", 3, "sick", b'DUMMY_FAIL = "MONITOR"')
    assert not ok and "MONITOR" in info


def test_vm_actions_need_a_running_vm(driver):
    ok, info = run(driver, "REBOOT", 9, "h1")
    assert not ok and "not running" in info
    run(driver, "DEPLOY", 9, "h1", vm_xml())
    assert run(driver, "REBOOT", 9, "h1") == (True, "")
    assert not run(driver, "REBOOT", 9, "h2")[0]
    assert run(driver, "SNAPSHOTCREATE", 9, "h1") == (True, "dummy-snap-1")
    # sent to the source host; the destination is the VM's newest history record
    moved = (b"<VM><ID>9</ID><HISTORY_RECORDS><HISTORY><HOSTNAME>h1</HOSTNAME></HISTORY>"
             b"<HISTORY><HOSTNAME>h2</HOSTNAME></HISTORY></HISTORY_RECORDS></VM>")
    assert not run(driver, "MIGRATE", 9, "h1")[0]  # no destination in the payload
    assert run(driver, "MIGRATE", 9, "h1", moved)[0]
    assert run(driver, "POLL", 9, "h1") == (True, "STATE=d")
    assert run(driver, "POLL", 9, "h2")[1].startswith("STATE=a")
    assert 9 not in driver.state.hosts["h1"].vms


def test_dummy_destroy_makes_a_vm_vanish(driver):
    run(driver, "DEPLOY", 4, "h1", vm_xml())
    assert run(driver, "DUMMY_DESTROY", 4, "h1") == (True, "")
    assert run(driver, "POLL", 4, "h1") == (True, "STATE=d")


def test_unsupported_action_and_roles():
    ds = DummyDriver(["ds"], DummyState())
    ok, info = ds.handle(p.Request("DEPLOY", 1, "h", b""))
    assert not ok and "unsupported action DEPLOY" in info
    assert ds.handle(p.Request("CP", 5, None, b"<IMAGE><SIZE>20</SIZE></IMAGE>")) == \
        (True, "dummy_path/5 raw 20")
    ok, info = ds.handle(p.Request("MONITOR", 1, None, b""))
    assert ok and b"TOTAL_MB=" in base64.b64decode(info)
    with pytest.raises(ValueError, match="separate processes"):
        check_roles(["im", "ds"])
    with pytest.raises(ValueError, match="unknown role"):
        check_roles(["kvm"])


def test_unreadable_payload_reads_as_empty():
    doc = Doc(b"<VM><TEMPLATE><CPU>1</CPU>")
    assert doc.get("CPU") is None and "unreadable" in doc.error
    assert Doc(b'CPU = "1').get("CPU") is None
    assert Doc(b"<!DOCTYPE x [<!ENTITY e SYSTEM 'file:///etc/passwd'>]>"
               b"<TEMPLATE><CPU>&e;</CPU></TEMPLATE>").get("CPU") in (None, "")


def test_state_journal_survives_restart(tmp_path):
    path = tmp_path / "dummy.state"
    state = DummyState(journal=path)
    d = DummyDriver(["vmm", "im"], state)
    for oid in range(5):
        d.handle(p.Request("DEPLOY", oid, f"h{oid % 2}", vm_xml()))
    d.handle(p.Request("SHUTDOWN", 3, "h1", b""))
    d.handle(p.Request("MIGRATE", 0, "h0", b"<VM><HISTORY_RECORDS><HISTORY><HOSTNAME>h9"
                                         b"</HOSTNAME></HISTORY></HISTORY_RECORDS></VM>"))
    state.set_capacity("h1", 400, 1000)
    state.flush()
    with open(path, "a") as f:
        f.write("+ 99 torn")  # a torn last line after a crash
    again = DummyState(journal=path)
    assert sorted(again.vms) == [0, 1, 2, 4]
    assert again.vms[0].host == "h9" and again.hosts["h1"].total_cpu == 400
    assert sorted(again.hosts["h0"].vms) == [2, 4]


def test_journal_compacts(tmp_path):
    path = tmp_path / "s"
    state = DummyState(journal=path)
    for i in range(6000):
        state.place(1, "h", 100, 1, "one-1")
        state.remove(1)
        state.flush()
    assert len(path.read_text().splitlines()) < 11_000


def test_latency_parse():
    lat = Latency.parse(["0.5,DEPLOY=2", "poll=0"])
    assert (lat.of("DEPLOY"), lat.of("POLL"), lat.of("SHUTDOWN")) == (2.0, 0.0, 0.5)
    with pytest.raises(ValueError):
        Latency.parse(["-1"])
    with pytest.raises(ValueError):
        Latency.parse(["DEPLOY=soon"])


def test_loop_over_pipes_with_latency_and_garbage():
    d = DummyDriver(["vmm"], DummyState())
    in_r, in_w = os.pipe()
    out_r, out_w = os.pipe()
    status = []
    t = threading.Thread(target=lambda: status.append(
        serve(d.handle, Latency({"DEPLOY": 0.2}), infd=in_r, outfd=out_w)))
    t.start()
    lines = [p.INIT_LINE, p.encode_request("DEPLOY", 1, "h", b""),
             p.encode_request("POLL", 2, "h"), b"NOT A REQUEST\n", b"POLL 5 h !!\n",
             b"\xff\xfe\n"]
    # split a line across writes: the loop must join partial reads
    data = b"".join(lines)
    os.write(in_w, data[:7])
    os.write(in_w, data[7:])
    with os.fdopen(out_r, "rb") as out:
        got = [out.readline() for _ in range(6)]
        assert got[0] == b"INIT SUCCESS -\n"
        assert got[1].startswith(b"POLL SUCCESS 2 STATE=d")
        assert got[2].startswith(b"LOG E - malformed request")
        assert got[3].startswith(b"POLL FAILURE 5 malformed request: payload is not base64")
        assert got[4].startswith(b"LOG E - malformed request")
        assert got[5] == b"DEPLOY SUCCESS 1 one-1\n"  # after its latency, last
        os.write(in_w, p.FINALIZE_LINE)
        t.join(5)
    assert status == [0]
    for fd in (in_r, in_w, out_w):
        os.close(fd)


def test_a_host_switched_down_is_unreachable_and_keeps_its_vms(tmp_path, monkeypatch):
    monkeypatch.setattr("nubo.drivers.dummy.down.RECHECK", 0.0)
    switch = tmp_path / "down"
    d = DummyDriver(["vmm", "im", "tm"], DummyState(), DownHosts(switch))
    assert run(d, "DEPLOY", 7, "h1", vm_xml())[0]
    switch.write_text("h1\n")
    ok, info = run(d, "MONITOR", 0, "h1")
    assert not ok and "h1 is unreachable" in info
    assert not run(d, "CANCEL", 7, "h1")[0]
    assert run(d, "DEPLOY", 8, "h2", vm_xml())[0]  # other hosts are up
    assert d.state.find(7, "h1") is not None  # still running there
    switch.write_text("")
    assert 7 in monitor(d, "h1")["vms"]


def test_a_stray_copys_cancel_spares_the_vm_elsewhere(driver):
    assert run(driver, "DEPLOY", 7, "h1", vm_xml())[0]
    assert run(driver, "CANCEL", 7, "h2") == (True, "")
    assert driver.state.find(7, "h1") is not None


def test_an_action_under_way_waits_for_its_host_to_come_back(tmp_path, monkeypatch):
    """A DEPLOY sent before its host was cut off answers SUCCESS once the host is back;
    an action sent while it is down fails at once."""
    monkeypatch.setattr("nubo.drivers.dummy.down.RECHECK", 0.0)
    switch = tmp_path / "down"
    d = DummyDriver(["vmm", "im"], DummyState(), DownHosts(switch))
    in_r, in_w = os.pipe()
    out_r, out_w = os.pipe()
    status = []
    t = threading.Thread(target=lambda: status.append(
        serve(d.handle, Latency({"DEPLOY": 0.3}), infd=in_r, outfd=out_w, held=d.held)))
    t.start()
    with os.fdopen(out_r, "rb") as out:
        os.write(in_w, p.INIT_LINE + p.encode_request("DEPLOY", 1, "h", b""))
        assert out.readline() == b"INIT SUCCESS -\n"
        switch.write_text("h\n")
        os.write(in_w, p.encode_request("DEPLOY", 2, "h", b""))
        assert out.readline().startswith(b"DEPLOY FAILURE 2 host h is unreachable")
        ready = threading.Event()
        threading.Timer(0.6, lambda: (ready.set(), switch.write_text(""))).start()
        assert out.readline() == b"DEPLOY SUCCESS 1 one-1\n"
        assert ready.is_set()  # not before the host came back
        os.write(in_w, p.FINALIZE_LINE)
        t.join(5)
    assert status == [0]
    assert d.state.find(1, "h") is not None and d.state.find(2, "h") is None
    for fd in (in_r, in_w, out_w):
        os.close(fd)


def test_a_host_switched_off_loses_its_vms_and_comes_back_empty(tmp_path, monkeypatch):
    monkeypatch.setattr("nubo.drivers.dummy.down.RECHECK", 0.0)
    switch = tmp_path / "down"
    d = DummyDriver(["vmm", "im"], DummyState(), DownHosts(switch))
    assert run(d, "DEPLOY", 7, "h1", vm_xml())[0] and run(d, "DEPLOY", 8, "h2", vm_xml())[0]
    switch.write_text("h1 off\n")
    assert not run(d, "MONITOR", 0, "h1")[0]
    assert d.state.find(7, None) is None and d.state.find(8, "h2") is not None
    switch.write_text("")
    assert monitor(d, "h1")["vms"] == {}
