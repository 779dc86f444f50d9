"""Property tests of placement: capacity, requirements and anti-affinity always hold, and
the optimised cycle places exactly as a naive one-VM-at-a-time matchmaker would."""
from __future__ import annotations

import copy

from hypothesis import given, settings
from hypothesis import strategies as st

from nubo.expr import rank, requirements
from nubo.sched.cycle import run_cycle
from nubo.sched.records import DatastoreRecord, HostRecord, HostView, VmRecord
from nubo.sched.policies import SchedConfig
from nubo.sched.vmgroup_rules import GroupPlacements, Role, VmGroup

CLAUSES = ['HYPERVISOR = "kvm"', 'HYPERVISOR = "lxc"', "CPUSPEED > 2000", "CPUSPEED < 3000",
           'NAME = "h1*"', "!(ZONE = 1)", "ZONE = 2", "RUNNING_VMS < 3", 'TIER @> "gold"']
RANKS = ["", "RUNNING_VMS", "-RUNNING_VMS", "FREE_CPU", "CPUSPEED / 100", "PRIORITY - FREE_MEM"]


@st.composite
def host_lists(draw) -> list[HostRecord]:
    n = draw(st.integers(1, 14))
    hosts = []
    for i in range(n):
        max_cpu = draw(st.sampled_from([100, 200, 400, 800]))
        max_mem = draw(st.sampled_from([1 << 20, 2 << 20, 4 << 20]))
        attrs = {"NAME": (f"h{i}",), "HYPERVISOR": (draw(st.sampled_from(["kvm", "lxc"])),),
                 "CPUSPEED": (str(draw(st.integers(1000, 4000))),),
                 "PRIORITY": (str(draw(st.integers(0, 5))),),
                 "TIER": tuple(draw(st.lists(st.sampled_from(["gold", "silver"]), max_size=2)))}
        if draw(st.booleans()):
            attrs["ZONE"] = (str(draw(st.integers(1, 2))),)
        used_cpu = draw(st.integers(0, max_cpu // 100)) * 50
        hosts.append(HostRecord(i, f"h{i}", draw(st.sampled_from([2, 2, 2, 4, 3])),
                                draw(st.sampled_from([0, 0, 100])), max_cpu, max_mem,
                                cpu_usage=used_cpu, running_vms=used_cpu // 50, attrs=attrs))
    return hosts


@st.composite
def vm_lists(draw) -> list[VmRecord]:
    vms = []
    for i in range(draw(st.integers(0, 40))):
        clauses = draw(st.lists(st.sampled_from(CLAUSES), max_size=3))
        joiner = draw(st.sampled_from([" & ", " | "]))
        group = draw(st.sampled_from([None, None, (1, "web"), (1, "db")]))
        vms.append(VmRecord(
            i, draw(st.sampled_from([50, 100, 200])), draw(st.sampled_from([256, 512, 1024])) * 1024,
            requirements=joiner.join(clauses), rank=draw(st.sampled_from(RANKS)),
            priority=draw(st.integers(0, 2)), vmgroup=group,
            avoid=frozenset(draw(st.lists(st.integers(0, 13), max_size=2)))))
    return vms


DATASTORES = [DatastoreRecord(0, "system", 1, 0, frozenset({0, 100}), 0, 0)]
GROUPS = {1: VmGroup(1, {"web": Role("web", "ANTI_AFFINED"), "db": Role("db", "NONE")},
                     anti_affined=(frozenset({"web", "db"}),))}
configs = st.builds(SchedConfig, policy=st.sampled_from([0, 1, 2]),
                    max_host=st.sampled_from([0, 0, 2]))


def placed(hosts, vms, config):
    work = copy.deepcopy(hosts)
    result = run_cycle(work, copy.deepcopy(DATASTORES), vms, config,
                       GroupPlacements.of(GROUPS, {}))
    return work, result


@settings(max_examples=100, deadline=None)
@given(host_lists(), vm_lists(), configs)
def test_no_host_is_ever_over_capacity(hosts, vms, config) -> None:
    _, result = placed(hosts, vms, config)
    size = {v.id: v for v in vms}
    for h in hosts:
        mine = [size[p.vm_id] for p in result.placements if p.host_id == h.id]
        assert h.cpu_usage + sum(v.cpu for v in mine) <= h.max_cpu
        assert h.mem_usage + sum(v.mem for v in mine) <= h.max_mem
        if config.max_host:
            assert len(mine) <= config.max_host


@settings(max_examples=100, deadline=None)
@given(host_lists(), vm_lists(), configs)
def test_requirements_and_state_are_always_honoured(hosts, vms, config) -> None:
    _, result = placed(hosts, vms, config)
    by_id = {h.id: h for h in hosts}
    vm = {v.id: v for v in vms}
    for p in result.placements:
        host = by_id[p.host_id]
        assert host.state == 2
        # Requirements read the figures of the cycle's start (RUNNING_VMS < 3).
        assert requirements(vm[p.vm_id].requirements).matches(HostView(host))
        assert vm[p.vm_id].id not in result.messages


@settings(max_examples=100, deadline=None)
@given(host_lists(), vm_lists(), configs)
def test_anti_affine_vms_never_share_a_host(hosts, vms, config) -> None:
    _, result = placed(hosts, vms, config)
    group = {v.id: v.vmgroup for v in vms}
    web = [p.host_id for p in result.placements if group[p.vm_id] == (1, "web")]
    db = {p.host_id for p in result.placements if group[p.vm_id] == (1, "db")}
    assert len(web) == len(set(web))
    assert not set(web) & db


def naive(hosts: list[HostRecord], vms: list[VmRecord], config: SchedConfig):
    """One VM at a time, every host checked and ranked from scratch."""
    hosts = copy.deepcopy(hosts)
    start = {h.id: HostView(copy.deepcopy(h)) for h in hosts}
    roles: dict[str, set[int]] = {"web": set(), "db": set()}
    per_host: dict[int, int] = {}
    out = []
    for vm in sorted(vms, key=lambda v: (-v.priority, v.id)):
        if config.max_dispatch and len(out) >= config.max_dispatch:
            break
        req = requirements(vm.requirements)
        score = rank(config.host_rank(vm.rank))
        fits = []
        for h in hosts:
            if h.state != 2 or not req.matches(start[h.id]) or not h.fits(vm.cpu, vm.mem):
                continue
            if config.max_host and per_host.get(h.id, 0) >= config.max_host:
                continue
            if vm.vmgroup is not None:
                role = vm.vmgroup[1]
                if h.id in roles["web"] and role in ("web", "db"):
                    continue
                if role == "web" and h.id in roles["db"]:
                    continue
            fits.append(h)
        preferred = [h for h in fits if h.id not in vm.avoid] or fits
        if not preferred:
            continue
        best = max(preferred, key=lambda h: (score.score(HostView(h)), -h.id))
        best.add(vm.cpu, vm.mem)
        per_host[best.id] = per_host.get(best.id, 0) + 1
        if vm.vmgroup is not None:
            roles[vm.vmgroup[1]].add(best.id)
        out.append((vm.id, best.id))
    return out


@settings(max_examples=150, deadline=None)
@given(host_lists(), vm_lists(), configs)
def test_the_cycle_places_as_a_naive_matchmaker(hosts, vms, config) -> None:
    _, result = placed(hosts, vms, config)
    assert [(p.vm_id, p.host_id) for p in result.placements] == naive(hosts, vms, config)
