"""The scheduler's settings: default placement policies and per-cycle limits.

OpenNebula's sched.conf ``DEFAULT_SCHED = [POLICY = n, RANK = ...]`` and
``DEFAULT_DS_SCHED``: a VM without SCHED_RANK is ranked by its policy's rank.
The highest rank wins; ties go to the lowest host id.
"""
from __future__ import annotations

from dataclasses import dataclass

from nubo.expr import ExprError, check

#: Host policies by number and name -> the rank they mean.
HOST_POLICIES = {
    0: ("packing", "RUNNING_VMS"),      # fill hosts: fewest hosts in use
    1: ("striping", "-RUNNING_VMS"),    # spread VMs: most hosts in use
    2: ("load-aware", "FREE_CPU"),      # the host with the most free CPU
    3: ("custom", None),                # the configured rank
    4: ("fixed", "PRIORITY"),           # the host's PRIORITY attribute
}
DS_POLICIES = {
    0: ("packing", "-FREE_MB"),         # fill datastores
    1: ("striping", "FREE_MB"),         # the one with the most free space
    2: ("custom", None),
    3: ("fixed", "PRIORITY"),
}


def policy_number(value: int | str, table: dict[int, tuple[str, str | None]], what: str) -> int:
    """A policy given by number or name ("packing", "load-aware"...)."""
    if isinstance(value, int) and value in table:
        return value
    for number, (name, _) in table.items():
        if str(value).strip().lower() in (name, str(number)):
            return number
    names = ", ".join(f"{n} ({name})" for n, (name, _) in table.items())
    raise ValueError(f"unknown {what} policy {value!r}: use one of {names}")


@dataclass(frozen=True)
class SchedConfig:
    """What a cycle needs to know besides the hosts and VMs.

    OpenNebula's defaults are MAX_VM 5000, MAX_DISPATCH 30 and MAX_HOST 1, for a
    scheduler that runs every 15-30 s; nubo dispatches with bounded concurrency
    and runs again as soon as there is work, so its limits only bound one cycle.
    """

    policy: int = 0
    rank: str = ""            # the custom (3) policy's rank
    ds_policy: int = 0
    ds_rank: str = ""
    max_vm: int = 10000       # pending VMs considered per cycle (0: all)
    max_dispatch: int = 10000  # VMs dispatched per cycle (0: no limit)
    max_host: int = 0         # VMs dispatched to one host per cycle (0: no limit)

    def __post_init__(self) -> None:
        object.__setattr__(self, "policy", policy_number(self.policy, HOST_POLICIES, "host"))
        object.__setattr__(self, "ds_policy",
                           policy_number(self.ds_policy, DS_POLICIES, "datastore"))
        for text, name in ((self.rank, "rank"), (self.ds_rank, "ds_rank")):
            try:
                check(text, "rank")
            except ExprError as e:
                raise ValueError(f"scheduler {name}: {e}") from None
        for name in ("max_vm", "max_dispatch", "max_host"):
            if getattr(self, name) < 0:
                raise ValueError(f"scheduler {name} must be 0 or more")
        if self.policy == 3 and not self.rank.strip():
            raise ValueError("the custom (3) policy needs a rank")
        if self.ds_policy == 2 and not self.ds_rank.strip():
            raise ValueError("the custom (2) datastore policy needs a ds_rank")

    def host_rank(self, vm_rank: str) -> str:
        """The rank a VM is placed by: its SCHED_RANK, else the policy's."""
        return vm_rank if vm_rank.strip() else (HOST_POLICIES[self.policy][1] or self.rank)

    def datastore_rank(self, vm_rank: str) -> str:
        return vm_rank if vm_rank.strip() else (DS_POLICIES[self.ds_policy][1] or self.ds_rank)
