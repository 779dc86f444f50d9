"""A cycle's decisions and messages, and the snapshot of the API's XML they start from."""
from __future__ import annotations

import pytest

from nubo.model import xmlobj
from nubo.model.infra import HostShare, Host
from nubo.model.vm_template import build_vm
from nubo.sched.cycle import run_cycle
from nubo.sched import filters as F
from nubo.sched.records import DatastoreRecord, HostRecord, VmRecord
from nubo.sched.policies import SchedConfig
from nubo.sched.snapshot import parse_hosts, parse_vms, vm_hosts
from nubo.sched.vmgroup_rules import GroupPlacements, parse_vmgroup_pool
from nubo.template import parse

GB = 1 << 20  # KB


def hosts(n: int, cpu: int = 800, mem: int = 16 * GB, **attrs: str) -> list[HostRecord]:
    return [HostRecord(i, f"node{i}", 2, 0, cpu, mem,
                       attrs={"NAME": (f"node{i}",), "ID": (str(i),), **{k: (v,) for k, v in attrs.items()}})
            for i in range(n)]


SYSTEM = [DatastoreRecord(0, "system", 1, 0, frozenset({0}), 0, 0)]


def test_packing_fills_hosts_and_striping_spreads() -> None:
    vms = [VmRecord(i, 100, GB) for i in range(12)]
    packed = run_cycle(hosts(4), SYSTEM, vms, SchedConfig(policy="packing"))
    assert {p.host_id for p in packed.placements} == {0, 1}
    striped = run_cycle(hosts(4), SYSTEM, vms, SchedConfig(policy="striping"))
    assert [p.host_id for p in striped.placements][:4] == [0, 1, 2, 3]
    loaded = run_cycle(hosts(4), SYSTEM, vms, SchedConfig(policy=2))
    assert [p.host_id for p in loaded.placements][:4] == [0, 1, 2, 3]


def test_fixed_and_custom_ranks() -> None:
    pool = hosts(3)
    pool[2].attrs["PRIORITY"] = ("9",)
    assert run_cycle(pool, SYSTEM, [VmRecord(0, 100, GB)],
                     SchedConfig(policy="fixed")).placements[0].host_id == 2
    assert run_cycle(hosts(3), SYSTEM, [VmRecord(0, 100, GB)],
                     SchedConfig(policy=3, rank="ID")).placements[0].host_id == 2
    with pytest.raises(ValueError, match="needs a rank"):
        SchedConfig(policy=3)
    with pytest.raises(ValueError, match="line 1, column"):
        SchedConfig(policy=3, rank="ID +")
    with pytest.raises(ValueError, match="unknown host policy"):
        SchedConfig(policy="greedy")


def test_messages_say_why_a_vm_stays_pending() -> None:
    pool = hosts(2, HYPERVISOR="kvm")
    pool[1].state = 4  # disabled
    vms = [VmRecord(0, 100, GB, requirements='HYPERVISOR = "lxc"'),
           VmRecord(1, 900, GB),
           VmRecord(2, 100, GB, requirements="CPUSPEED > "),
           VmRecord(3, 100, GB, ds_requirements='NAME = "fast"'),
           VmRecord(4, 100, GB, automatic_requirements="CLUSTER_ID = 7")]
    result = run_cycle(pool, SYSTEM, vms, SchedConfig())
    assert result.placements == []
    assert result.messages[0] == F.NO_REQUIREMENTS
    assert result.messages[1] == F.NO_CAPACITY
    assert result.messages[2].startswith("Error in SCHED_REQUIREMENTS: unexpected end")
    assert result.messages[3] == F.NO_DS
    assert result.messages[4] == F.NO_AUTOMATIC
    for h in pool:
        h.state = 3
    assert run_cycle(pool, SYSTEM, vms[:1], SchedConfig()).messages[0] == F.NO_HOSTS


def test_limits_leave_vms_without_a_message() -> None:
    vms = [VmRecord(i, 100, GB) for i in range(10)]
    result = run_cycle(hosts(2), SYSTEM, vms, SchedConfig(max_dispatch=3))
    assert len(result.placements) == 3 and not result.messages
    result = run_cycle(hosts(2), SYSTEM, vms, SchedConfig(max_host=2))
    assert len(result.placements) == 4 and not result.messages
    result = run_cycle(hosts(2), SYSTEM, vms, SchedConfig(max_vm=5))
    assert result.considered == 5


def test_priority_goes_first_and_avoided_hosts_are_tried_last() -> None:
    vms = [VmRecord(0, 800, GB), VmRecord(1, 800, GB, priority=5)]
    result = run_cycle(hosts(1), SYSTEM, vms, SchedConfig())
    assert [p.vm_id for p in result.placements] == [1]
    result = run_cycle(hosts(2), SYSTEM, [VmRecord(0, 100, GB, avoid=frozenset({0}))],
                       SchedConfig())
    assert result.placements[0].host_id == 1
    result = run_cycle(hosts(1), SYSTEM, [VmRecord(0, 100, GB, avoid=frozenset({0}))],
                       SchedConfig())
    assert result.placements[0].host_id == 0  # nowhere else


def test_reserved_capacity_and_datastore_space() -> None:
    xml = ("<HOST_POOL>" + xmlobj.render(Host(
        id=3, name="n3", state=2, prev_state=2, im_mad="dummy", vm_mad="dummy", cluster_id=0,
        cluster="default", host_share=HostShare(total_cpu=800, max_cpu=800, total_mem=8 * GB,
                                                max_mem=8 * GB, cpu_usage=100),
        template=parse('RESERVED_CPU = "-400"\nRESERVED_MEM = "25%"\nCPUSPEED = 2400')),
        "HOST") + "</HOST_POOL>")
    [host] = parse_hosts(xml)
    assert (host.max_cpu, host.max_mem, host.cpu_usage) == (1200, 6 * GB, 100)
    assert host.attrs["CPUSPEED"] == ("2400",) and host.attrs["CLUSTER_ID"] == ("0",)
    assert host.attrs["HOST_SHARE/TOTAL_CPU"] == ("800",)
    small = [DatastoreRecord(0, "system", 1, 0, frozenset({0}), 1000, 300)]
    vms = [VmRecord(i, 100, GB, disk_mb=200) for i in range(2)]
    result = run_cycle([host], small, vms, SchedConfig())
    assert len(result.placements) == 1 and result.messages[1] == F.NO_DS_CAPACITY


def test_vm_bodies_become_records() -> None:
    template = parse('NAME = "a"\nCPU = 0.5\nMEMORY = 512\nSCHED_REQUIREMENTS = "ID > $NIC[NETWORK_ID]"\n'
                     'SCHED_RANK = "FREE_CPU"\nUSER_PRIORITY = 3\n'
                     'DISK = [ TYPE = "fs", SIZE = 2048 ]\nDISK = [ IMAGE_ID = 4, SIZE = 10 ]\n'
                     'VMGROUP = [ VMGROUP_ID = 2, ROLE = "web" ]\nNIC = [ NETWORK_ID = 7 ]')
    vm = build_vm(5, template, uid=0, gid=0, uname="oneadmin", gname="oneadmin", now=1)
    [record] = parse_vms(f"<VM_POOL>{xmlobj.render(vm, 'VM')}</VM_POOL>", {5: {9}})
    assert (record.id, record.cpu, record.mem, record.disk_mb) == (5, 50, 512 * 1024, 2048)
    assert record.requirements == "ID > $NIC[NETWORK_ID]" and record.rank == "FREE_CPU"
    assert record.priority == 3 and record.vmgroup == (2, "web")
    assert "PUBLIC_CLOUD" in record.automatic_requirements
    # $ references read the VM's values (kept only for VMs whose expressions have some)
    assert record.values["NIC/NETWORK_ID"] == "7" and record.values["ID"] == "5"
    pool = hosts(10)
    assert run_cycle(pool, SYSTEM, [record], SchedConfig()).placements[0].host_id == 8
    assert record.avoid == frozenset({9})
    assert vm_hosts(f"<VM_POOL>{xmlobj.render(vm, 'VM')}</VM_POOL>") == {}


def test_vm_group_rules_from_the_pool() -> None:
    pool = parse_vmgroup_pool(
        "<VM_GROUP_POOL><VM_GROUP><ID>2</ID><NAME>g</NAME><ROLES>"
        "<ROLE><HOST_AFFINED>0,1</HOST_AFFINED><ID>0</ID><NAME>web</NAME>"
        "<POLICY>ANTI_AFFINED</POLICY><VMS>10</VMS></ROLE>"
        "<ROLE><HOST_ANTI_AFFINED>2</HOST_ANTI_AFFINED><ID>1</ID><NAME>db</NAME>"
        "<POLICY>AFFINED</POLICY></ROLE></ROLES>"
        "<TEMPLATE><ANTI_AFFINED>web, db</ANTI_AFFINED></TEMPLATE></VM_GROUP></VM_GROUP_POOL>")
    placements = GroupPlacements.of(pool, {10: 0})
    web, db = (2, "web"), (2, "db")
    assert not placements.allows(web, 0)   # anti-affined role: VM 10 is on host 0
    assert placements.allows(web, 1) and not placements.allows(web, 3)  # host-affined 0,1
    assert not placements.allows(db, 0)    # anti-affined with web
    assert not placements.allows(db, 2)    # host anti-affined
    placements.add(db, 4)
    assert placements.allows(db, 4) and not placements.allows(db, 5)  # affined: together
    assert placements.allows((9, "x"), 0) and placements.allows(None, 0)
    vms = [VmRecord(i, 100, GB, vmgroup=web) for i in range(3)]
    result = run_cycle(hosts(4), SYSTEM, vms, SchedConfig(), GroupPlacements.of(pool, {10: 0}))
    assert [p.host_id for p in result.placements] == [1]
    assert result.messages == {1: F.NO_AFFINITY, 2: F.NO_AFFINITY}


def test_rescheduled_vms_move_to_the_best_other_host() -> None:
    pool = hosts(3)
    pool[0].add(100, GB)
    pool[2].add(100, GB)
    pool[2].add(100, GB)
    flagged = VmRecord(7, 100, GB, host_id=0)
    result = run_cycle(pool, SYSTEM, [], SchedConfig(), resched=[flagged])
    assert result.migrations == [(7, 0, 2, 0)]   # packing: onto the fuller host
    assert [(h.cpu_usage, h.running_vms) for h in pool] == [(0, 0), (0, 0), (300, 3)]
    # Packing ranks the VM's own (flushed) host first: OpenNebula leaves it out of the
    # matches of a rescheduled VM, so the VM still moves, to the best of the others.
    pool = hosts(3)
    pool[1].add(100, GB)
    pool[1].add(100, GB)
    result = run_cycle(pool, SYSTEM, [], SchedConfig(policy="packing"),
                       resched=[VmRecord(7, 100, GB, host_id=1)])
    assert result.migrations == [(7, 1, 0, 0)]   # ties: the lowest id
    result = run_cycle(hosts(1), SYSTEM, [], SchedConfig(),
                       resched=[VmRecord(7, 100, GB, host_id=0)])
    assert result.migrations == []               # nowhere else to go: it stays


def test_a_rescheduled_vm_keeps_its_system_datastore_where_the_host_reaches_it() -> None:
    two = SYSTEM + [DatastoreRecord(5, "fast", 1, 0, frozenset({0}), 0, 0)]
    result = run_cycle(hosts(2), two, [], SchedConfig(),
                       resched=[VmRecord(7, 100, GB, host_id=0, ds_id=5)])
    assert result.migrations == [(7, 0, 1, 5)]


def test_unchanged_objects_are_not_parsed_again() -> None:
    from functools import partial
    from nubo.sched.poolcache import PoolCache
    from nubo.sched.snapshot import host_record

    def pool(cpu_usage: int, extra: str = "") -> str:
        return "<HOST_POOL>" + "".join(xmlobj.render(Host(
            id=i, name=f"n{i}", state=2, prev_state=2, im_mad="dummy", vm_mad="dummy",
            cluster_id=0, cluster="default",
            host_share=HostShare(total_cpu=800, cpu_usage=cpu_usage if i == 1 else 0),
            template=parse(extra or f"RACK = {i}")), "HOST") for i in range(3)) + "</HOST_POOL>"
    cache = PoolCache("HOST", partial(host_record, clusters={}), copy=True)
    first = cache.records(pool(0))
    assert cache.parsed == 3 and [h.id for h in first] == [0, 1, 2]
    first[0].add(100, 0)  # a cycle's change does not leak into the cache
    again = cache.records(pool(200))
    assert cache.parsed == 1 and again[0].cpu_usage == 0 and again[1].cpu_usage == 200
    assert [h.attrs["RACK"] for h in again] == [("0",), ("1",), ("2",)]
    # A template attribute named HOST makes the text split wrongly: parsed whole instead.
    tricky = cache.records(pool(0, 'HOST = "a"\nHOST = "b"'))
    assert [h.attrs["HOST"] for h in tricky] == [("a", "b")] * 3
    assert [h.id for h in tricky] == [h.id for h in parse_hosts(pool(0, 'HOST = "a"\nHOST = "b"'))]
    assert cache.records("<HOST_POOL/>") == []


def test_a_vm_that_fails_is_skipped_and_the_others_are_placed(monkeypatch) -> None:
    from nubo.sched import cycle as C
    score = C._Cycle.score

    def failing(self, group, index):  # a fault of the scheduler's own, for one rank
        if group.rank.text == "BOOM":
            raise RuntimeError("boom")
        return score(self, group, index)
    monkeypatch.setattr(C._Cycle, "score", failing)
    [broken] = parse_vms("<VM_POOL><VM><ID>4</ID><TEMPLATE><CPU>nan</CPU></TEMPLATE>"
                         "<USER_TEMPLATE/></VM></VM_POOL>")
    vms = [VmRecord(0, 100, GB, requirements="CPUSPEED > $NAME", values={"NAME": "web"}),
           VmRecord(1, 100, GB, rank="BOOM"),
           VmRecord(2, 100, GB, rank="(" * 101 + "1" + ")" * 101),
           broken,
           VmRecord(5, 100, GB)]
    result = run_cycle(hosts(2), SYSTEM, vms, SchedConfig())
    assert [p.vm_id for p in result.placements] == [5]
    assert set(result.failures) == set(result.messages) == {0, 1, 2, 4}
    assert result.messages[0] == ("Error in SCHED_REQUIREMENTS: '>' compares numbers, but "
                                  '$NAME is "web"')
    assert result.messages[1] == ("Internal error placing the VM (RuntimeError: boom); see the "
                                  "scheduler log")
    assert result.messages[2] == ("Error in SCHED_RANK: expression nested too deeply (limit "
                                  "100 levels of parentheses) at line 1, column 101")
    assert result.messages[4].startswith("Cannot read the VM's template (ValueError")
    flagged = VmRecord(7, 100, GB, host_id=0, rank="BOOM")
    result = run_cycle(hosts(2), SYSTEM, [VmRecord(8, 100, GB)], SchedConfig(), resched=[flagged])
    assert [p.vm_id for p in result.placements] == [8] and set(result.failures) == {7}
    assert [(h.cpu_usage, h.running_vms) for h in result_hosts(flagged)] == [(200, 2), (0, 0)]


def result_hosts(flagged: VmRecord) -> list[HostRecord]:
    """The hosts after a cycle whose flagged VM (on host 0) failed: its usage is still there
    (and VM 8 joined it, packing)."""
    pool = hosts(2)
    pool[0].add(flagged.cpu, flagged.mem)
    run_cycle(pool, SYSTEM, [VmRecord(8, 100, GB)], SchedConfig(), resched=[flagged])
    return pool


def test_clones_in_their_image_datastore_need_room_there() -> None:
    images = DatastoreRecord(1, "default", 0, 0, frozenset({0}), 1000, 100)
    vms = [VmRecord(i, 100, GB, image_ds_mb=((1, 60),)) for i in range(2)]
    result = run_cycle(hosts(2), SYSTEM + [images], vms, SchedConfig())
    assert [p.vm_id for p in result.placements] == [0]
    assert result.messages == {1: F.NO_IMAGE_DS} and images.free_mb == 40
    [parsed] = parse_vms(
        "<VM_POOL><VM><ID>3</ID><TEMPLATE><CPU>1</CPU><MEMORY>64</MEMORY>"
        "<DISK><IMAGE_ID>4</IMAGE_ID><CLONE>YES</CLONE><CLONE_TARGET>SELF</CLONE_TARGET>"
        "<DATASTORE_ID>1</DATASTORE_ID><SIZE>60</SIZE></DISK>"
        "<DISK><TYPE>SWAP</TYPE><SIZE>30</SIZE></DISK></TEMPLATE><USER_TEMPLATE/></VM>"
        "</VM_POOL>")
    assert (parsed.disk_mb, parsed.image_ds_mb) == (30, ((1, 60),))
