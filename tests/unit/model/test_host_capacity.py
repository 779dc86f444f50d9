"""A host's MAX_CPU / MAX_MEM after its (or its cluster's) reservations."""
from __future__ import annotations

from nubo.model.host_capacity import Capacity, capacity, fits, host_capacity, reserved
from nubo.model.infra import Cluster, Host, HostShare
from nubo.template import parse

GB = 1024 * 1024


def test_reservations_are_amounts_or_percentages() -> None:
    assert reserved("", 800) == 0 and reserved(None, 800) == 0
    assert reserved("100", 800) == 100 and reserved(" 1.5 ", 800) == 1
    assert reserved("25%", 800) == 200 and reserved("-50%", 800) == -400
    assert reserved("junk", 800) == 0 and reserved("x%", 800) == 0


def test_the_host_wins_unless_empty_and_negative_over_commits() -> None:
    assert capacity(800, 8 * GB, ("", ""), ("100", "25%")) == Capacity(700, 6 * GB)
    assert capacity(800, 8 * GB, ("-400", ""), ("100", "")) == Capacity(1200, 8 * GB)
    assert capacity(800, 8 * GB, ("", ""), ("", "")) == Capacity(800, 8 * GB)


def test_from_the_host_and_cluster_objects() -> None:
    host = Host(id=1, name="h", state=2, prev_state=2, im_mad="dummy", vm_mad="dummy",
                cluster_id=0, cluster="default",
                host_share=HostShare(total_cpu=400, total_mem=4 * GB, cpu_usage=100),
                template=parse('RESERVED_CPU = ""\nRESERVED_MEM = "1048576"'))
    cluster = Cluster(id=0, name="default", template=parse('RESERVED_CPU = "100"'))
    assert host_capacity(host, cluster) == Capacity(300, 3 * GB)
    assert host_capacity(host, None) == Capacity(400, 3 * GB)
    assert fits(host, cluster, 200, GB) and not fits(host, cluster, 201, GB)
