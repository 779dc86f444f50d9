"""Random sequences of VM actions through the API (pyone, a real ``nubo serve``, the
dummy drivers), checking after every step what must always hold:

- a refused action changes nothing;
- a VM is on at most one host, and on exactly the host of its newest history record
  while it holds one (ACTIVE, SUSPENDED, POWEROFF);
- a host's RUNNING_VMS, CPU_USAGE and MEM_USAGE are the sum of the VMs it lists;
- a VM holds its network lease and its image until it is DONE, then neither:
  leases and image users are freed exactly once.
"""
from __future__ import annotations

import uuid

import pyone
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from server import NuboServer
from waits import wait_for

PENDING, HOLD, ACTIVE, STOPPED, SUSPENDED, DONE, POWEROFF, UNDEPLOYED = 1, 2, 3, 4, 5, 6, 8, 9
RUNNING = 3
#: STATEs with no operation in flight (ACTIVE only when RUNNING).
_SETTLED = {PENDING, HOLD, STOPPED, SUSPENDED, DONE, POWEROFF, UNDEPLOYED}
#: STATEs in which a VM holds capacity on its host.
_ON_HOST = {ACTIVE, SUSPENDED, POWEROFF}
VMS, HOSTS = 3, 3
CPU, MEMORY = 0.25, 32

ACTIONS = ("terminate", "terminate-hard", "undeploy", "undeploy-hard", "hold", "release",
           "stop", "suspend", "resume", "reboot", "reboot-hard", "poweroff", "poweroff-hard",
           "resched", "unresched")
steps = st.lists(st.one_of(
    st.tuples(st.just("action"), st.integers(0, VMS - 1), st.sampled_from(ACTIONS)),
    st.tuples(st.just("deploy"), st.integers(0, VMS - 1), st.integers(0, HOSTS - 1)),
    st.tuples(st.just("migrate"), st.integers(0, VMS - 1), st.integers(0, HOSTS - 1),
              st.booleans())), min_size=1, max_size=12)


@pytest.fixture(scope="module")
def cloud(tmp_path_factory):
    base = tmp_path_factory.mktemp("lcm-props")
    srv = NuboServer(base / "data").start()
    source = base / "prop-img"  # a real file: the transfer driver copies it at PROLOG
    with source.open("wb") as f:
        f.truncate(1024 * 1024)
    one = pyone.OneServer(srv.endpoint, session=srv.session)
    hosts = [one.host.allocate(f"prop-{i}", "dummy", "dummy", -1) for i in range(HOSTS)]
    net = one.vn.allocate('NAME = "prop-net"\nVN_MAD = "dummy"\nBRIDGE = "br0"\n'
                          'AR = [ TYPE = "IP4", IP = "198.18.0.1", SIZE = "250" ]', -1)
    image = one.image.allocate('NAME = "prop-img"\nTYPE = "DATABLOCK"\nSIZE = 1\n'
                               f'SOURCE = "{source}"\nFORMAT = "raw"', 1)
    yield one, hosts, net, image
    assert srv.stop() == 0


def settled(one, vm_id: int) -> tuple[int, int]:
    def probe():
        vm = one.vm.info(vm_id)
        pair = (vm.STATE, vm.LCM_STATE)
        return pair if vm.STATE in _SETTLED or pair == (ACTIVE, RUNNING) else None
    return wait_for(f"VM {vm_id} settled", probe)


def check_invariants(one, hosts: list[int], net: int, image: int, vm_ids: list[int]) -> None:
    vms = {v: one.vm.info(v) for v in vm_ids}
    listed: dict[int, int] = {}
    for hid in hosts:
        host = one.host.info(hid)
        on_it = list(host.VMS.ID) if host.VMS is not None and host.VMS.ID else []
        for v in on_it:
            assert v not in listed, f"VM {v} is on hosts {listed[v]} and {hid}"
            listed[v] = hid
        ours = [vms[v] for v in on_it if v in vms]
        share = host.HOST_SHARE
        assert share.RUNNING_VMS == len(on_it)
        if len(ours) == len(on_it):  # only VMs of this example: the sums are known
            assert share.CPU_USAGE == round(CPU * 100) * len(ours)
            assert share.MEM_USAGE == MEMORY * 1024 * len(ours)
    for v, vm in vms.items():
        if vm.STATE in _ON_HOST:
            assert listed.get(v) == vm.HISTORY_RECORDS.HISTORY[-1].HID, (v, vm.STATE)
        else:
            assert v not in listed, f"VM {v} in STATE {vm.STATE} still counted on a host"
    ar = one.vn.info(net).AR_POOL.AR[0]
    leased = sorted(lease.VM for lease in (ar.LEASES.LEASE if ar.LEASES else []))
    alive = sorted(v for v, vm in vms.items() if vm.STATE != DONE)
    assert [v for v in leased if v in vms] == alive
    img = one.image.info(image)
    users = sorted(img.VMS.ID) if img.VMS is not None and img.VMS.ID else []
    assert [v for v in users if v in vms] == alive


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(steps)
def test_random_action_sequences_keep_the_invariants(cloud, sequence):
    one, hosts, net, image = cloud
    vm_ids = [one.vm.allocate(
        f'NAME = "p-{uuid.uuid4().hex[:8]}"\nCPU = {CPU}\nMEMORY = {MEMORY}\n'
        f'NIC = [ NETWORK_ID = {net} ]\nDISK = [ IMAGE_ID = {image} ]', False)
        for _ in range(VMS)]
    try:
        for step in sequence:
            vm_id = vm_ids[step[1]]
            before = one.vm.info(vm_id)
            try:
                if step[0] == "action":
                    one.vm.action(step[2], vm_id)
                elif step[0] == "deploy":
                    one.vm.deploy(vm_id, hosts[step[2]], False, -1)
                else:
                    one.vm.migrate(vm_id, hosts[step[2]], step[3], False, -1, 0)
            except pyone.OneActionException:
                after = one.vm.info(vm_id)
                assert (after.STATE, after.LCM_STATE, len(after.HISTORY_RECORDS.HISTORY or [])) \
                    == (before.STATE, before.LCM_STATE,
                        len(before.HISTORY_RECORDS.HISTORY or [])), f"refused {step} moved it"
            for v in vm_ids:
                settled(one, v)
            check_invariants(one, hosts, net, image, vm_ids)
    finally:
        for v in vm_ids:
            if settled(one, v)[0] != DONE:
                one.vm.action("terminate-hard", v)
        for v in vm_ids:
            wait_for(f"VM {v} DONE", lambda v=v: one.vm.info(v).STATE == DONE)
    check_invariants(one, hosts, net, image, vm_ids)
    for hid in hosts:
        share = one.host.info(hid).HOST_SHARE
        assert (share.RUNNING_VMS, share.CPU_USAGE, share.MEM_USAGE) == (0, 0, 0)
