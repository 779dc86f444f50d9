"""Hosts probed through their information driver: MONITORED with their capacity, or ERROR."""
from __future__ import annotations

import pyone
import pytest

from server import NuboServer
from waits import wait_for
from xsd import assert_valid, raw_call

MONITORED, ERROR = 2, 3


@pytest.fixture(scope="module")
def monitored(tmp_path_factory):
    server = NuboServer(tmp_path_factory.mktemp("monitoring") / "data",
                        extra_config="host_monitoring_interval = 1\n").start()
    yield server
    assert server.stop() == 0


def host_state(one, hid: int) -> int:
    return one.host.info(hid).STATE


def test_a_dummy_host_becomes_monitored_with_its_capacity(monitored):
    one = pyone.OneServer(monitored.endpoint, session=monitored.session)
    hid = one.host.allocate("probed", "dummy", "dummy", -1)
    one.host.update(hid, 'DUMMY_TOTALCPU = "1600"', 1)
    wait_for("host MONITORED", lambda: host_state(one, hid) == MONITORED)
    wait_for("the template's capacity", lambda: one.host.info(hid).HOST_SHARE.TOTAL_CPU == 1600)
    host = one.host.info(hid)
    assert host.HOST_SHARE.MAX_CPU == 1600 and host.HOST_SHARE.TOTAL_MEM == 16 * 1024 * 1024
    assert host.TEMPLATE["HYPERVISOR"] == "dummy"
    assert host.MONITORING.TIMESTAMP > 0 and host.MONITORING.CAPACITY.FREE_CPU == 1600
    assert_valid(raw_call(monitored.endpoint, "one.host.info", monitored.session, hid)[1],
                 "host.xsd")


def test_a_failing_probe_puts_the_host_in_error(monitored):
    one = pyone.OneServer(monitored.endpoint, session=monitored.session)
    unknown = one.host.allocate("no-such-driver", "kvm", "kvm", -1)
    failing = one.host.allocate("failing", "dummy", "dummy", -1)
    one.host.update(failing, 'DUMMY_FAIL = "MONITOR"', 1)
    for hid in (unknown, failing):
        wait_for(f"host {hid} in ERROR", lambda h=hid: host_state(one, h) == ERROR)
    assert "no driver named 'kvm'" in one.host.info(unknown).TEMPLATE["ERROR"]
    one.host.update(failing, 'DUMMY_FAIL = ""', 1)
    wait_for("host back to MONITORED", lambda: host_state(one, failing) == MONITORED)
    assert "ERROR" not in one.host.info(failing).TEMPLATE
    assert_valid(raw_call(monitored.endpoint, "one.host.info", monitored.session, unknown)[1],
                 "host.xsd")


def test_an_enforced_deploy_needs_room_on_the_host(monitored):
    one = pyone.OneServer(monitored.endpoint, session=monitored.session)
    hid = one.host.allocate("small", "dummy", "dummy", -1)
    one.host.update(hid, 'DUMMY_TOTALCPU = "100"', 1)
    wait_for("the host's capacity", lambda: one.host.info(hid).HOST_SHARE.MAX_CPU == 100)
    big = one.vm.allocate('NAME = "big"\nCPU = 2\nMEMORY = 64', False)
    with pytest.raises(pyone.OneActionException, match=f"Host {hid} does not have enough"):
        one.vm.deploy(big, hid, True)
    assert one.vm.info(big).STATE == 1  # still PENDING
    fits = one.vm.allocate('NAME = "fits"\nCPU = 1\nMEMORY = 64', False)
    assert one.vm.deploy(fits, hid, True) == fits
    one.vm.deploy(big, hid, False)  # without enforce the host is overcommitted
    wait_for("both counted", lambda: one.host.info(hid).HOST_SHARE.RUNNING_VMS == 2)


def test_a_new_or_re_enabled_host_is_probed_at_once(tmp_path):
    # Rounds an hour apart: only the probe on creation and on enable can be seen here.
    server = NuboServer(tmp_path / "data", extra_config="host_monitoring_interval = 3600\n")
    server.start()
    try:
        one = pyone.OneServer(server.endpoint, session=server.session)
        hid = one.host.allocate("eager", "dummy", "dummy", -1)
        wait_for("new host MONITORED", lambda: host_state(one, hid) == MONITORED, timeout=10)
        one.host.status(hid, 1)  # disable
        assert host_state(one, hid) == 4
        one.host.status(hid, 0)  # enable: INIT, then probed
        wait_for("re-enabled host MONITORED", lambda: host_state(one, hid) == MONITORED,
                 timeout=10)
    finally:
        assert server.stop() == 0


def test_datastores_are_monitored_through_the_datastore_driver(monitored):
    one = pyone.OneServer(monitored.endpoint, session=monitored.session)
    ds = one.datastore.allocate('NAME = "probed-ds"\nTYPE = "SYSTEM_DS"\nTM_MAD = "dummy"\n'
                                'DUMMY_TOTAL_MB = "2048"\nDUMMY_USED_MB = "512"', -1)
    wait_for("the datastore's figures", lambda: one.datastore.info(ds).TOTAL_MB == 2048)
    info = one.datastore.info(ds)
    assert (info.FREE_MB, info.USED_MB) == (1536, 512)
    # ssh: a real directory (DATASTORE_LOCATION/0), monitored from its filesystem
    wait_for("the system datastore's figures", lambda: one.datastore.info(0).TOTAL_MB > 0)
    assert_valid(raw_call(monitored.endpoint, "one.datastore.info", monitored.session, ds)[1],
                 "datastore.xsd")


def test_a_driver_s_absurd_capacity_is_stored_within_int64(monitored):
    """The dummy reports DUMMY_TOTALMEMORY as TOTALMEMORY as is: 10**30 KB must not reach
    a stored figure (typed clients could no longer read the host pool)."""
    one = pyone.OneServer(monitored.endpoint, session=monitored.session)
    hid = one.host.allocate("absurd", "dummy", "dummy", -1)
    one.host.update(hid, f"DUMMY_TOTALMEMORY = {10**30}\nDUMMY_TOTALCPU = {10**25}", 1)
    share = wait_for("the host's probed capacity",
                     lambda: (s := one.host.info(hid).HOST_SHARE).MAX_MEM > 16 * 1024**2 and s)
    assert share.MAX_MEM == share.TOTAL_MEM == 2**62 and share.MAX_CPU == 2**62
    for host in one.hostpool.info().HOST:
        s = host.HOST_SHARE
        assert all(abs(v) < 2**63 for v in (s.MEM_USAGE, s.CPU_USAGE, s.MAX_MEM, s.MAX_CPU,
                                            s.TOTAL_MEM, s.TOTAL_CPU))
    assert_valid(raw_call(monitored.endpoint, "one.host.info", monitored.session, hid)[1],
                 "host.xsd")


def test_monitoring_the_scheduler_and_an_enforced_deploy_agree_on_reservations(monitored):
    """MAX_CPU / MAX_MEM are TOTAL minus RESERVED (the host's, else its cluster's) in
    HOST_SHARE, in the scheduler's view and for one.vm.deploy with enforce alike."""
    from nubo.sched.snapshot import cluster_templates, parse_hosts
    one = pyone.OneServer(monitored.endpoint, session=monitored.session)
    cid = one.cluster.allocate("reserving")
    one.cluster.update(cid, 'RESERVED_MEM = "50%"', 1)
    hid = one.host.allocate("reserved", "dummy", "dummy", cid)
    one.host.update(hid, 'DUMMY_TOTALCPU = "400"\nRESERVED_CPU = "150"', 1)
    total_mem = 16 * 1024 * 1024
    wait_for("the host's capacity after its reservations",
             lambda: one.host.info(hid).HOST_SHARE.MAX_CPU == 250)
    share = one.host.info(hid).HOST_SHARE
    assert (share.TOTAL_CPU, share.TOTAL_MEM, share.MAX_MEM) == (400, total_mem, total_mem // 2)
    hosts = raw_call(monitored.endpoint, "one.hostpool.info", monitored.session)[1]
    clusters = raw_call(monitored.endpoint, "one.clusterpool.info", monitored.session)[1]
    [record] = [h for h in parse_hosts(hosts, cluster_templates(clusters)) if h.id == hid]
    assert (record.max_cpu, record.max_mem) == (250, total_mem // 2)
    too_big = one.vm.allocate('NAME = "too-big"\nCPU = 3\nMEMORY = 64', False)
    assert not record.fits(300, 64 * 1024)
    with pytest.raises(pyone.OneActionException, match=f"Host {hid} does not have enough"):
        one.vm.deploy(too_big, hid, True)
    fits = one.vm.allocate('NAME = "fits-reserved"\nCPU = 2.5\nMEMORY = 64', False)
    assert record.fits(250, 64 * 1024)
    assert one.vm.deploy(fits, hid, True) == fits
