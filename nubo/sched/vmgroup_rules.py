"""VM groups (one.vmgroup.*): roles whose VMs go together or apart, and host affinity.

A VM names its group and role in ``VMGROUP = [VMGROUP_ID = 3, ROLE = "web"]``. A
role's POLICY AFFINED keeps its VMs on one host, ANTI_AFFINED on different ones;
HOST_AFFINED / HOST_ANTI_AFFINED list the hosts its VMs must / must not use; the
group's AFFINED / ANTI_AFFINED ("web, db") relate roles. Pure: the VMs' hosts come
from the caller (the VMs already running, and those placed earlier in the cycle).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from lxml import etree


@dataclass(frozen=True)
class Role:
    name: str
    policy: str = "NONE"  # AFFINED, ANTI_AFFINED or NONE
    host_affined: frozenset[int] = frozenset()
    host_anti_affined: frozenset[int] = frozenset()
    vms: frozenset[int] = frozenset()


@dataclass(frozen=True)
class VmGroup:
    id: int
    roles: dict[str, Role]
    affined: tuple[frozenset[str], ...] = ()       # role sets kept together
    anti_affined: tuple[frozenset[str], ...] = ()  # role sets kept apart


@dataclass
class GroupPlacements:
    """Where each role's VMs are, updated as the cycle places VMs."""

    groups: dict[int, VmGroup]
    #: (group id, role) -> host id -> how many of the role's VMs run there
    hosts: dict[tuple[int, str], dict[int, int]] = field(default_factory=dict)

    @classmethod
    def of(cls, groups: dict[int, VmGroup], vm_hosts: dict[int, int]) -> "GroupPlacements":
        """From the groups and the host each of their (deployed) VMs is on."""
        gp = cls(groups)
        for group in groups.values():
            for role in group.roles.values():
                for vm in role.vms:
                    hid = vm_hosts.get(vm, -1)
                    if hid >= 0:
                        gp.add((group.id, role.name), hid)
        return gp

    def add(self, key: tuple[int, str], host_id: int) -> None:
        counts = self.hosts.setdefault(key, {})
        counts[host_id] = counts.get(host_id, 0) + 1

    def role_hosts(self, group_id: int, role: str) -> set[int]:
        return set(self.hosts.get((group_id, role), {}))

    def allows(self, key: tuple[int, str] | None, host_id: int) -> bool:
        """May a VM of role ``key`` go to the host? True for VMs without a group, and
        for a group the scheduler does not know (its definition was not fetched)."""
        if key is None:
            return True
        group = self.groups.get(key[0])
        role = group.roles.get(key[1]) if group is not None else None
        if group is None or role is None:
            return True
        if role.host_affined and host_id not in role.host_affined:
            return False
        if host_id in role.host_anti_affined:
            return False
        mine = self.role_hosts(group.id, role.name)
        if role.policy == "ANTI_AFFINED" and host_id in mine:
            return False
        if role.policy == "AFFINED" and mine and host_id not in mine:
            return False
        for roles in group.affined:
            if role.name in roles:
                others = set().union(*(self.role_hosts(group.id, r) for r in roles
                                       if r != role.name))
                if others and host_id not in others:
                    return False
        for roles in group.anti_affined:
            if role.name in roles:
                if any(host_id in self.role_hosts(group.id, r) for r in roles if r != role.name):
                    return False
        return True


def _ids(text: str | None) -> frozenset[int]:
    return frozenset(int(p) for p in (text or "").replace(" ", "").split(",") if p.isdigit())


def _role_sets(template: etree._Element | None, name: str) -> tuple[frozenset[str], ...]:
    if template is None:
        return ()
    return tuple(frozenset(r.strip() for r in (el.text or "").split(",") if r.strip())
                 for el in template.findall(name))


def parse_vmgroup_pool(xml: str | bytes) -> dict[int, VmGroup]:
    """one.vmgrouppool.info's VM_GROUP_POOL (vm_group.xsd) as VmGroups by id."""
    root = etree.fromstring(xml.encode() if isinstance(xml, str) else xml)
    groups = {}
    for el in root.iter("VM_GROUP"):
        gid = int(el.findtext("ID") or -1)
        roles = {}
        for r in el.iterfind("ROLES/ROLE"):
            name = r.findtext("NAME") or ""
            roles[name] = Role(name, (r.findtext("POLICY") or "NONE").upper(),
                               _ids(r.findtext("HOST_AFFINED")),
                               _ids(r.findtext("HOST_ANTI_AFFINED")), _ids(r.findtext("VMS")))
        template = el.find("TEMPLATE")
        groups[gid] = VmGroup(gid, roles, _role_sets(template, "AFFINED"),
                              _role_sets(template, "ANTI_AFFINED"))
    return groups
