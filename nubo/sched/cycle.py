"""One matchmaking cycle, a pure function: (hosts, datastores, VMs, config) -> placements.

As OpenNebula's matchmaker: VMs are taken by USER_PRIORITY (highest first), then
id; for each, the hosts that are MONITORED, meet its requirements (AUTOMATIC_
and SCHED_REQUIREMENTS), have room for it (CPU, memory) and a system datastore of
their cluster that meets SCHED_DS_REQUIREMENTS with room for its disks, and
respect its VM group's rules; the best rank wins (ties: the lowest host id), and
the host's and datastore's usage grow by the VM before the next VM is placed.

What makes 10,000 VMs x 2,500 hosts cheap:

- VMs with the same (requirements, rank, size) -- after ``$`` substitution --
  form one *group*; its hosts are found once, as a bit mask from per-comparison
  masks shared by all groups (nubo.expr.Table);
- each group keeps its candidate hosts in a heap by rank. A host that cannot take
  the group's size (or has no datastore left for it) is dropped for good, since
  usage only grows within a cycle. When a placement changes a host's usage, the
  groups whose rank reads usage (RUNNING_VMS, FREE_CPU...) get a fresh entry for
  it before they next pick (from the cycle's change log); the old one is recognised
  as stale by the host's version;
- a rank's score is computed once per (rank, host version).

Requirements are evaluated once per cycle (as OpenNebula does), ranks whenever
the usage they read changes (OpenNebula keeps the figures of the cycle's start,
which with striping would pile a cycle's VMs on one host).

Each VM is placed on its own: one whose expressions cannot be used, or whose
placement fails in any other way, is skipped with a message saying why (and kept
in ``failures`` for the log); the others are placed in the same cycle.
"""
from __future__ import annotations

import heapq
from collections import Counter
from dataclasses import dataclass, field, replace

from nubo.expr import ExprError, Rank, Requirements, Table, rank, requirements
from nubo.sched import filters as F
from nubo.sched.records import (DS_READY, DS_SYSTEM, USAGE_NAMES, DatastoreRecord, HostRecord,
                              HostView, Placement, VmRecord)
from nubo.sched.policies import SchedConfig
from nubo.sched.vmgroup_rules import GroupPlacements

Entry = tuple[float, int, int, int]  # (-score, host id, host version, host index)


@dataclass
class CycleResult:
    placements: list[Placement] = field(default_factory=list)
    #: Why a VM stays PENDING (VMs left out by the per-cycle limits have none).
    messages: dict[int, str] = field(default_factory=dict)
    #: VMs skipped because something about them failed: vm id -> the error (a VmError
    #: for what the VM's owner can fix, anything else is a fault of the scheduler).
    failures: dict[int, Exception] = field(default_factory=dict)
    #: Moves of VMs flagged for rescheduling: (vm id, from host, to host, datastore).
    migrations: list[tuple[int, int, int, int]] = field(default_factory=list)
    considered: int = 0
    groups: int = 0


@dataclass
class _Group:
    """VMs that are alike for placement, and their candidate hosts."""

    mask: int
    rank: Rank
    dynamic: bool
    cpu: int
    mem: int
    disk: int
    ds_rank: Rank
    datastores: list[DatastoreRecord]
    scores: dict[int, tuple[int, float]]  # host index -> (version, score), per rank
    empty_reason: str | None = None
    heap: list[Entry] | None = None
    dropped: set[str] = field(default_factory=set)
    seen: int = 0  # how much of the cycle's change log this group's heap reflects


def _bits(mask: int) -> list[int]:
    out = []
    while mask:
        low = mask & -mask
        out.append(low.bit_length() - 1)
        mask ^= low
    return out


class VmError(Exception):
    """Why one VM cannot be placed (its SCHED_MESSAGE): an expression that cannot be used,
    a body that cannot be read."""


def failure_message(e: Exception) -> str:
    """The SCHED_MESSAGE of a VM whose placement failed with ``e``."""
    if isinstance(e, VmError):
        return str(e)
    return f"Internal error placing the VM ({type(e).__name__}: {e}); see the scheduler log"


class _Cycle:
    def __init__(self, hosts: list[HostRecord], datastores: list[DatastoreRecord],
                 config: SchedConfig, groups: GroupPlacements | None) -> None:
        self.hosts = hosts
        self.views = [HostView(h) for h in hosts]
        # Requirements read the figures of the cycle's start: the table sees copies.
        self.table = Table([HostView(replace(h)) for h in hosts])
        self.placeable = sum(1 << i for i, h in enumerate(hosts) if F.placeable(h))
        self.system_ds = [d for d in datastores if d.type == DS_SYSTEM and d.state == DS_READY]
        self.ds_table = Table(self.system_ds)
        self.image_ds = {d.id: d for d in datastores if d.type != DS_SYSTEM}
        self.config = config
        self.vmgroups = groups or GroupPlacements({})
        self.groups: dict[tuple, _Group] = {}
        #: Indexes of the hosts placed on, in order: groups whose rank reads usage catch
        #: up on it before they pick (several changes to one host make one fresh entry).
        self.changes: list[int] = []
        self.rank_scores: dict[object, dict[int, tuple[int, float]]] = {}
        self.per_host: Counter[int] = Counter()
        self.no_image_room: set[int] = set()
        self.result = CycleResult()

    # -- groups ------------------------------------------------------------------
    def _compile(self, vm: VmRecord) -> tuple[Requirements, ...]:
        """The VM's bound expressions; VmError names the one that cannot be used."""
        compiled = []
        for attribute, text, kind in (
                ("SCHED_REQUIREMENTS", vm.requirements, requirements),
                ("AUTOMATIC_REQUIREMENTS", vm.automatic_requirements, requirements),
                ("SCHED_RANK", self.config.host_rank(vm.rank), rank),
                ("SCHED_DS_REQUIREMENTS", vm.ds_requirements, requirements),
                ("AUTOMATIC_DS_REQUIREMENTS", vm.automatic_ds_requirements, requirements),
                ("SCHED_DS_RANK", self.config.datastore_rank(vm.ds_rank), rank)):
            try:
                compiled.append(kind(text).bind(vm.ref))
            except ExprError as e:
                raise VmError(f"Error in {attribute}: {e}") from None
        return tuple(compiled)

    def group_of(self, vm: VmRecord) -> _Group:
        """The VM's group (made on its first VM); raises VmError."""
        if vm.error:
            raise VmError(vm.error)
        compiled = self._compile(vm)
        req, auto, host_rank, ds_req, ds_auto, ds_rank = compiled
        key = (req.tree, auto.tree, host_rank.tree, ds_req.tree, ds_auto.tree, ds_rank.tree,
               vm.cpu, vm.mem, vm.disk_mb)
        group = self.groups.get(key)
        if group is None:
            group = self.groups[key] = self._new_group(vm, *compiled)
        return group

    def _new_group(self, vm: VmRecord, req: Requirements, auto: Requirements, host_rank: Rank,
                   ds_req: Requirements, ds_auto: Requirements, ds_rank: Rank) -> _Group:
        ds_mask = ds_req.mask(self.ds_table) & ds_auto.mask(self.ds_table)
        datastores = [self.system_ds[i] for i in _bits(ds_mask)]
        mask = self.placeable
        reason = None
        if not mask:
            reason = F.NO_HOSTS
        else:
            mask &= auto.mask(self.table)
            if not mask:
                reason = F.NO_AUTOMATIC
            else:
                mask &= req.mask(self.table)
                if not mask:
                    reason = F.NO_REQUIREMENTS
        if reason is None and not datastores:
            reason, mask = F.NO_DS, 0
        dynamic = bool(host_rank.names & USAGE_NAMES)
        group = _Group(mask, host_rank, dynamic, vm.cpu, vm.mem, vm.disk_mb, ds_rank,
                       datastores, self.rank_scores.setdefault(host_rank.tree, {}), reason)
        return group

    def score(self, group: _Group, index: int) -> float:
        host = self.hosts[index]
        cached = group.scores.get(index)
        if cached is not None and cached[0] == host.version:
            return cached[1]
        value = float(group.rank.score(self.views[index]))
        group.scores[index] = (host.version, value)
        return value

    def heap(self, group: _Group) -> list[Entry]:
        if group.heap is None:
            group.heap = [(-self.score(group, i), self.hosts[i].id, self.hosts[i].version, i)
                          for i in _bits(group.mask)]
            heapq.heapify(group.heap)
            group.seen = len(self.changes)
        elif group.dynamic and group.seen < len(self.changes):
            for index in set(self.changes[group.seen:]):
                if group.mask >> index & 1:
                    host = self.hosts[index]
                    heapq.heappush(group.heap, (-self.score(group, index), host.id,
                                                host.version, index))
            group.seen = len(self.changes)
        return group.heap

    # -- placing -------------------------------------------------------------------
    def datastore(self, group: _Group, host: HostRecord) -> DatastoreRecord | None:
        best, best_score = None, 0.0
        for ds in group.datastores:
            if F.datastore_takes(ds, host, group.disk):
                s = float(group.ds_rank.score(ds))
                if best is None or s > best_score:
                    best, best_score = ds, s
        return best

    def place(self, vm: VmRecord, group: _Group) -> Placement | None:
        if vm.image_ds_mb and not F.images_fit(self.image_ds, vm.image_ds_mb):
            self.no_image_room.add(vm.id)  # the VM's own: its group's hosts stay
            return None
        heap = self.heap(group)
        aside: list[tuple[Entry, DatastoreRecord, bool]] = []
        chosen: tuple[Entry, DatastoreRecord] | None = None
        max_host = self.config.max_host
        while heap:
            entry = heap[0]
            host = self.hosts[entry[3]]
            if group.dynamic and entry[2] != host.version:
                heapq.heappop(heap)  # a fresh entry for this host is in the heap
                continue
            if not F.has_room(host, group.cpu, group.mem):
                heapq.heappop(heap)
                group.dropped.add(F.NO_CAPACITY)
                continue
            if not F.under_limit(self.per_host[host.id], max_host):
                heapq.heappop(heap)
                group.dropped.add("limit")
                continue
            ds = self.datastore(group, host)
            if ds is None:
                heapq.heappop(heap)
                group.dropped.add(F.NO_DS_CAPACITY)
                continue
            heapq.heappop(heap)
            allowed = self.vmgroups.allows(vm.vmgroup, host.id)
            if not allowed or host.id in vm.avoid:
                aside.append((entry, ds, allowed))
                continue
            chosen = (entry, ds)
            break
        if chosen is None:  # hosts tried before are tried last rather than never
            chosen = next(((e, d) for e, d, allowed in aside if allowed), None)
        for entry, _, _ in aside:
            if chosen is None or entry is not chosen[0]:
                heapq.heappush(heap, entry)
        if chosen is None:
            return None
        entry, ds = chosen
        host = self.hosts[entry[3]]
        host.add(group.cpu, group.mem)
        if ds.monitored:
            ds.free_mb -= group.disk
        for ds_id, mb in vm.image_ds_mb:
            image_ds = self.image_ds.get(ds_id)
            if image_ds is not None and image_ds.monitored:
                image_ds.free_mb -= mb
        self.per_host[host.id] += 1
        if vm.vmgroup is not None:
            self.vmgroups.add(vm.vmgroup, host.id)
        self._rerank(group, entry)
        return Placement(vm.id, host.id, ds.id)

    def _rerank(self, group: _Group, entry: Entry) -> None:
        """The placed-on host goes back in its group's heap (with a fresh rank if the rank
        reads usage); other groups catch up from the change log when they next pick."""
        index = entry[3]
        host = self.hosts[index]
        self.changes.append(index)
        if group.dynamic:
            heapq.heappush(group.heap, (-self.score(group, index), host.id,  # type: ignore
                                        host.version, index))
            group.seen = len(self.changes)
        else:
            heapq.heappush(group.heap, entry)  # type: ignore[arg-type]

    def message(self, vm: VmRecord, group: _Group) -> str | None:
        if group.empty_reason is not None:
            return group.empty_reason
        if vm.id in self.no_image_room:
            return F.NO_IMAGE_DS
        if "limit" in group.dropped:
            return None  # it may fit on those hosts in the next cycle
        if vm.vmgroup is not None and group.heap:
            return F.NO_AFFINITY
        return next((r for r in F.REASONS if r in group.dropped), F.NO_CAPACITY)


def run_cycle(hosts: list[HostRecord], datastores: list[DatastoreRecord], vms: list[VmRecord],
              config: SchedConfig, groups: GroupPlacements | None = None,
              resched: list[VmRecord] | None = None) -> CycleResult:
    """Place ``vms`` (PENDING) and move ``resched`` ones where better; see the module doc.

    Mutates the hosts' and datastores' usage (the caller's snapshot of this cycle).
    """
    cycle = _Cycle(hosts, datastores, config, groups)
    result = cycle.result
    ordered = sorted(vms, key=lambda v: (-v.priority, v.id))
    if config.max_vm:
        ordered = ordered[:config.max_vm]
    for vm in ordered:
        if config.max_dispatch and len(result.placements) >= config.max_dispatch:
            break
        result.considered += 1
        try:
            group = cycle.group_of(vm)
            placement = cycle.place(vm, group)
            message = None if placement is not None else cycle.message(vm, group)
        except Exception as e:  # this VM's fault or a bug: the others are still placed
            result.failures[vm.id] = e
            result.messages[vm.id] = failure_message(e)
            continue
        if placement is not None:
            result.placements.append(placement)
        elif message is not None:
            result.messages[vm.id] = message
    result.groups = len(cycle.groups)
    for vm in resched or ():
        if config.max_dispatch and len(result.placements) + len(result.migrations) \
                >= config.max_dispatch:
            break
        try:
            move = _better_host(cycle, vm)
        except Exception as e:  # it stays where it is
            result.failures[vm.id] = e
            continue
        if move is not None:
            result.migrations.append(move)
    return result


def _better_host(cycle: _Cycle, vm: VmRecord) -> tuple[int, int, int, int] | None:
    """Where a VM flagged for rescheduling goes: the best host other than its own, as
    OpenNebula's scheduler filters the current host out of a rescheduled VM's matches
    (under packing its own host would always rank first). None if no other host fits."""
    index = next((i for i, h in enumerate(cycle.hosts) if h.id == vm.host_id), None)
    if index is None:
        return None
    group = cycle.group_of(vm)
    best = _best_other(cycle, vm, group, index)
    if best is None:
        return None
    current = cycle.hosts[index]
    target = next(h for h in cycle.hosts if h.id == best[1])
    current.remove(vm.cpu, vm.mem)
    target.add(vm.cpu, vm.mem)
    return vm.id, current.id, target.id, best[2].id


def _best_other(cycle: _Cycle, vm: VmRecord, group: _Group, index: int
                ) -> tuple[float, int, DatastoreRecord] | None:
    """The best-ranked host but host ``index`` with room for ``vm``: (score, host id,
    datastore). The VM keeps its system datastore when the host's cluster reaches it."""
    best: tuple[float, int, DatastoreRecord] | None = None
    for i in _bits(group.mask & ~(1 << index)):
        host = cycle.hosts[i]
        if not F.has_room(host, vm.cpu, vm.mem) or not cycle.vmgroups.allows(vm.vmgroup, host.id):
            continue
        s = cycle.score(group, i)
        if best is not None and (s, -host.id) <= (best[0], -best[1]):
            continue
        own = next((d for d in group.datastores
                    if d.id == vm.ds_id and host.cluster_id in d.clusters), None)
        ds = own or cycle.datastore(group, host)
        if ds is not None:
            best = (s, host.id, ds)
    return best
