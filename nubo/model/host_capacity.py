"""A host's capacity for VMs: HOST_SHARE's MAX_CPU / MAX_MEM, as OpenNebula computes them.

MAX is the probed TOTAL minus RESERVED_CPU / RESERVED_MEM: the host template's value when
it is not empty, else its cluster's. A reservation is an amount (CPU in hundredths of a
core, memory in KB) or a percentage of the total ("10%"); a negative one over-commits.

Monitoring stores these figures in HOST_SHARE, the scheduler places against them and
``one.vm.deploy`` with enforce checks against them: all three through this one function,
so that none of them can disagree with the others.
"""
from __future__ import annotations

from typing import NamedTuple

from nubo.model.infra import Cluster, Host
from nubo.template import Template


class Capacity(NamedTuple):
    max_cpu: int
    max_mem: int


def _number(text: str) -> int:
    try:
        return int(float(text))
    except ValueError:
        return 0


def reserved(text: str | None, total: int) -> int:
    """One reservation: an amount, or a percentage of ``total`` ("10%"); 0 when unset."""
    text = (text or "").strip()
    if text.endswith("%"):
        try:
            return int(total * float(text[:-1]) / 100)
        except ValueError:
            return 0
    return _number(text) if text else 0


def capacity(total_cpu: int, total_mem: int, host_reserved: tuple[str | None, str | None],
             cluster_reserved: tuple[str | None, str | None] = (None, None)) -> Capacity:
    """MAX_CPU / MAX_MEM from the totals and the (RESERVED_CPU, RESERVED_MEM) of the host
    and of its cluster; the host's win unless empty."""
    cpu = host_reserved[0] or cluster_reserved[0]
    mem = host_reserved[1] or cluster_reserved[1]
    return Capacity(total_cpu - reserved(cpu, total_cpu), total_mem - reserved(mem, total_mem))


def _reservations(template: Template | None) -> tuple[str | None, str | None]:
    if template is None:
        return None, None
    return _text(template.get("RESERVED_CPU")), _text(template.get("RESERVED_MEM"))


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def host_capacity(host: Host, cluster: Cluster | None) -> Capacity:
    """The capacity of ``host`` (in ``cluster``) from its HOST_SHARE totals."""
    share = host.host_share
    return capacity(share.total_cpu, share.total_mem, _reservations(host.template),
                    _reservations(cluster.template if cluster is not None else None))


def fits(host: Host, cluster: Cluster | None, cpu: int, mem: int) -> bool:
    """Whether ``host`` can take ``cpu`` hundredths of a core and ``mem`` KB more."""
    room = host_capacity(host, cluster)
    share = host.host_share
    return share.cpu_usage + cpu <= room.max_cpu and share.mem_usage + mem <= room.max_mem
