"""What the scheduler knows of hosts, system datastores and VMs: plain records.

nubo.sched.snapshot builds them from the API's XML; a cycle (nubo.sched.cycle)
works on them only. A host's *usage* (CPU, memory, VMs) changes as a cycle places
VMs on it; :class:`HostView` shows expressions the live figures, so ranks such as
RUNNING_VMS (packing) see each placement.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

Values = tuple[str, ...]

# Host states (OpenNebula's Host::HostState) a VM may be placed on.
HOST_MONITORING_MONITORED, HOST_MONITORED = 1, 2
PLACEABLE_STATES = frozenset({HOST_MONITORING_MONITORED, HOST_MONITORED})
DS_SYSTEM, DS_READY = 1, 0


@dataclass
class HostRecord:
    """A host at the start of a cycle, and its usage as the cycle goes on.

    CPU in hundredths of a core and memory in KB, as OpenNebula's HOST_SHARE.
    ``max_cpu``/``max_mem`` already take the host's RESERVED_CPU/RESERVED_MEM
    (over-commitment when negative) into account.
    """

    id: int
    name: str
    state: int
    cluster_id: int
    max_cpu: int
    max_mem: int
    cpu_usage: int = 0
    mem_usage: int = 0
    running_vms: int = 0
    #: Values an expression may name (TEMPLATE, HOST_SHARE, top level...), usage excluded.
    attrs: dict[str, Values] = field(default_factory=dict)
    #: Bumped whenever the usage changes, so stale rank entries are recognised.
    version: int = 0

    def fits(self, cpu: int, mem: int) -> bool:
        return self.cpu_usage + cpu <= self.max_cpu and self.mem_usage + mem <= self.max_mem

    def add(self, cpu: int, mem: int) -> None:
        self.cpu_usage += cpu
        self.mem_usage += mem
        self.running_vms += 1
        self.version += 1

    def remove(self, cpu: int, mem: int) -> None:
        self.cpu_usage -= cpu
        self.mem_usage -= mem
        self.running_vms -= 1
        self.version += 1


def _share(attr: str) -> Callable[[HostRecord], int]:
    return lambda h: getattr(h, attr)


#: Names whose value is the host's live usage (and what follows from it).
DYNAMIC: dict[str, Callable[[HostRecord], int]] = {
    "RUNNING_VMS": _share("running_vms"),
    "CPU_USAGE": _share("cpu_usage"),
    "MEM_USAGE": _share("mem_usage"),
    "FREE_CPU": lambda h: h.max_cpu - h.cpu_usage,
    "FREE_MEM": lambda h: h.max_mem - h.mem_usage,
    "FREE_MEMORY": lambda h: h.max_mem - h.mem_usage,
    "USED_CPU": _share("cpu_usage"),
    "USED_MEM": _share("mem_usage"),
    "USED_MEMORY": _share("mem_usage"),
    "MAX_CPU": _share("max_cpu"),
    "MAX_MEM": _share("max_mem"),
}
DYNAMIC.update({f"HOST_SHARE/{k}": v for k, v in DYNAMIC.items()
                if k in ("RUNNING_VMS", "CPU_USAGE", "MEM_USAGE", "MAX_CPU", "MAX_MEM")})
USAGE_NAMES = frozenset(DYNAMIC) - {"MAX_CPU", "MAX_MEM", "HOST_SHARE/MAX_CPU",
                                    "HOST_SHARE/MAX_MEM"}


class HostView:
    """A host as expressions read it: ``get(name)`` -> the name's values, or None.

    Bare names are searched as OpenNebula's scheduler searches a host: its
    TEMPLATE, HOST_SHARE, HOST_SHARE/DATASTORES, the capacity figures (FREE_CPU,
    USED_MEMORY...), the top level (ID, NAME, CLUSTER_ID...), its cluster's
    template; ``"HOST_SHARE/MAX_CPU"`` or ``"/HOST/TEMPLATE/X"`` name a path.
    """

    __slots__ = ("host",)

    def __init__(self, host: HostRecord) -> None:
        self.host = host

    def get(self, name: str, default: Values | None = None) -> Values | None:
        if name.startswith("/HOST/"):
            name = name[6:]
        fn = DYNAMIC.get(name)
        if fn is not None:
            return (str(fn(self.host)),)
        return self.host.attrs.get(name, default)


@dataclass
class DatastoreRecord:
    """A datastore (placement picks among the system ones); ``free_mb`` shrinks as the
    cycle places disks on it."""

    id: int
    name: str
    type: int
    state: int
    clusters: frozenset[int]
    total_mb: int
    free_mb: int
    attrs: dict[str, Values] = field(default_factory=dict)

    @property
    def monitored(self) -> bool:
        """Its size is known (until datastores are monitored, capacity is not checked)."""
        return self.total_mb > 0

    def fits(self, disk_mb: int) -> bool:
        return disk_mb == 0 or not self.monitored or disk_mb <= self.free_mb

    def get(self, name: str, default: Values | None = None) -> Values | None:
        if name.startswith("/DATASTORE/"):
            name = name[11:]
        if name in ("FREE_MB", "USED_MB"):
            used = self.total_mb - self.free_mb
            return (str(self.free_mb if name == "FREE_MB" else used),)
        return self.attrs.get(name, default)


@dataclass
class VmRecord:
    """A VM to place (PENDING) or to move (RESCHED), as the scheduler needs it."""

    id: int
    cpu: int          # hundredths of a core
    mem: int          # KB
    disk_mb: int = 0  # what it needs on its system datastore
    #: What its clones with CLONE_TARGET = SELF need in their image datastores: (ds id, MB).
    image_ds_mb: tuple[tuple[int, int], ...] = ()
    requirements: str = ""
    automatic_requirements: str = ""
    rank: str = ""
    ds_requirements: str = ""
    automatic_ds_requirements: str = ""
    ds_rank: str = ""
    priority: int = 0
    #: Values ``$`` references read: NAME, VEC/NAME (first vector), top-level fields.
    values: dict[str, str] = field(default_factory=dict)
    vmgroup: tuple[int, str] | None = None  # (VM group id, role name)
    #: Hosts a placement failed on before: tried last, not never.
    avoid: frozenset[int] = frozenset()
    host_id: int = -1  # where it runs (rescheduling)
    ds_id: int = -1
    sched_message: str = ""
    #: Why the VM's body could not be read (it is then not placed, with this message).
    error: str = ""

    def ref(self, ref: object) -> str | None:
        name, sub = getattr(ref, "name"), getattr(ref, "sub")
        return self.values.get(name if sub is None else f"{name}/{sub}")


@dataclass(frozen=True)
class Placement:
    vm_id: int
    host_id: int
    ds_id: int
