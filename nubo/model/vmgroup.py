"""VM groups (OpenNebula's one.vmgroup.*): roles of VMs and the affinity rules between them.

A VM group has ROLEs (NAME, POLICY AFFINED / ANTI_AFFINED / NONE among the role's
own VMs, HOST_AFFINED / HOST_ANTI_AFFINED host id lists, and VMS, the ids of the VMs
that joined it) and, in its TEMPLATE, role-to-role rules: ``AFFINED = "a, b"`` (the
roles' VMs share hosts) and ``ANTI_AFFINED = "a, c"`` (they never do). The checks are
oned's (VMGroup::check_consistency): every role a rule names exists, no rule is given
twice, an AFFINED rule holds no ANTI_AFFINED role, and no role is in both kinds of
rule. Pure: the API authorises and stores, the scheduler reads the bodies.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from nubo.model.parts import Lock
from nubo.model.permissions import Permissions
from nubo.model.xmlobj import xml_field
from nubo.template import SingleAttribute, Template, VectorAttribute

POLICIES = ("AFFINED", "ANTI_AFFINED", "NONE")
RULES = ("AFFINED", "ANTI_AFFINED")
#: oned's VMGroupRoles::MAX_ROLES (roles are bits of a 32-bit set in its rules).
MAX_ROLES = 32
#: What a ROLE may say; ID and VMS are the core's and are ignored when given.
_ROLE_KEYS = ("NAME", "POLICY", "HOST_AFFINED", "HOST_ANTI_AFFINED")
_SYSTEM_KEYS = ("ID", "VMS")


class VmGroupError(ValueError):
    """A VM group, role or rule that oned would refuse; the API picks the error code."""


@dataclass
class VmGroupRole:
    """A ROLE as vm_group.xsd orders it; host and VM lists are comma-separated ids."""

    host_affined: str | None = None
    host_anti_affined: str | None = None
    id: int = 0
    name: str = ""
    policy: str | None = None
    vms: str | None = None

    @property
    def vm_ids(self) -> list[int]:
        return ids_of(self.vms)


@dataclass
class VmGroup:
    id: int
    uid: int
    gid: int
    uname: str
    gname: str
    name: str
    permissions: Permissions
    lock: Lock | None
    roles: list[VmGroupRole] = xml_field("ROLE", wrap="ROLES", default_factory=list)
    template: Template = field(default_factory=Template)

    TAG = "VM_GROUP"

    def role(self, name: str) -> VmGroupRole | None:
        return next((r for r in self.roles if r.name == name), None)

    def role_by_id(self, role_id: int) -> VmGroupRole | None:
        return next((r for r in self.roles if r.id == role_id), None)

    @property
    def vm_count(self) -> int:
        return sum(len(r.vm_ids) for r in self.roles)


def ids_of(text: str | None) -> list[int]:
    """A stored id list ("3,5,8") as numbers."""
    return [int(p) for p in (text or "").split(",") if p.strip()]


def _join(ids: list[int]) -> str | None:
    return ",".join(map(str, ids)) if ids else None


def _host_list(role: str, key: str, text: str) -> list[int]:
    ids: set[int] = set()
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        if not part.isdigit():
            raise VmGroupError(f"{key} of role {role} must be a list of host ids "
                               f"(\"0, 3\"), not {text!r}")
        ids.add(int(part))
    return sorted(ids)


def parse_role(vector: VectorAttribute, role_id: int) -> VmGroupRole:
    """A new ROLE from its template vector (its ID given, its VMS empty)."""
    unknown = [k for k, _ in vector.items() if k not in _ROLE_KEYS + _SYSTEM_KEYS]
    name = (vector.get("NAME") or "").strip()
    if not name:
        raise VmGroupError("Missing NAME in VM group role")
    if unknown:
        raise VmGroupError(f"Unknown attribute {unknown[0]} in role {name}; a ROLE has "
                           + ", ".join(_ROLE_KEYS))
    if "," in name or len(name) > 128:
        raise VmGroupError(f"Invalid role name {name!r}: at most 128 characters, no commas "
                           "(rules list role names separated by commas)")
    role = VmGroupRole(id=role_id, name=name)
    _apply(role, vector)
    return role


def _apply(role: VmGroupRole, vector: VectorAttribute) -> None:
    """POLICY and host lists from a ROLE vector (those it gives; VMS is never taken)."""
    policy = vector.get("POLICY")
    if policy is not None:
        policy = policy.strip().upper()
        if policy not in POLICIES:
            raise VmGroupError(f"Invalid POLICY {policy!r} for role {role.name}; use "
                               + ", ".join(POLICIES))
        role.policy = policy
    for key, attr in (("HOST_AFFINED", "host_affined"),
                      ("HOST_ANTI_AFFINED", "host_anti_affined")):
        text = vector.get(key)
        if text is not None:
            setattr(role, attr, _join(_host_list(role.name, key, text)))
    both = set(ids_of(role.host_affined)) & set(ids_of(role.host_anti_affined))
    if both:
        raise VmGroupError(f"Role {role.name} has host {min(both)} in both HOST_AFFINED and "
                           "HOST_ANTI_AFFINED")


def check_rules(roles: list[VmGroupRole], template: Template) -> None:
    """The group-level AFFINED / ANTI_AFFINED rules are consistent with the roles."""
    by_name = {r.name: r for r in roles}
    sets: dict[str, list[frozenset[str]]] = {}
    for kind in RULES:
        sets[kind] = []
        for attr in template.get_all(kind):
            if not isinstance(attr, SingleAttribute):
                raise VmGroupError(f"{kind} must be a list of role names (\"a, b\"), not a "
                                   "vector")
            names = frozenset(n.strip() for n in attr.value.split(",") if n.strip())
            if not names or any(n not in by_name for n in names):
                raise VmGroupError(f"Some roles used in {kind} attribute ({attr.value}) are "
                                   "not defined")
            if names in sets[kind]:
                raise VmGroupError(f"Duplicated {kind} rule ({attr.value}) detected.")
            sets[kind].append(names)
    for rule in sets["AFFINED"]:
        for name in sorted(rule):
            if by_name[name].policy == "ANTI_AFFINED":
                raise VmGroupError(f"Role {name} is in an AFFINED rule but the role policy "
                                   "is ANTI_AFFINED")
    affined = frozenset().union(*sets["AFFINED"])
    anti = frozenset().union(*sets["ANTI_AFFINED"])
    if affined & anti:
        raise VmGroupError("Roles defined in AFFINED and ANTI_AFFINED rules: "
                           + " ".join(sorted(affined & anti)))


def _check_name_free(roles: list[VmGroupRole], name: str, role_id: int = -1) -> None:
    if any(r.name == name and r.id != role_id for r in roles):
        raise VmGroupError(f"Role {name} already exists")


def build(template: Template) -> tuple[str, list[VmGroupRole], Template]:
    """A new group's NAME, ROLEs and TEMPLATE (without NAME and ROLE) from its template."""
    body = template.copy()
    name = (body.get("NAME") or "").strip()
    body.remove("NAME")
    if not name:
        raise VmGroupError("No NAME in template for VM group.")
    vectors = body.get_all("ROLE")
    body.remove("ROLE")
    if any(not isinstance(v, VectorAttribute) for v in vectors):
        raise VmGroupError("ROLE must be a vector attribute: ROLE = [ NAME = ... ]")
    if not vectors:
        raise VmGroupError("A VM group needs at least one ROLE")
    if len(vectors) > MAX_ROLES:
        raise VmGroupError(f"Maximum number of roles in a VM Group reached ({MAX_ROLES})")
    roles: list[VmGroupRole] = []
    for i, vector in enumerate(vectors):
        role = parse_role(vector, i)  # type: ignore[arg-type]
        _check_name_free(roles, role.name)
        roles.append(role)
    check_rules(roles, body)
    return name, roles, body


def add_role(group: VmGroup, vector: VectorAttribute) -> VmGroupRole:
    """one.vmgroup.roleadd: the next role id (one above the highest)."""
    if len(group.roles) >= MAX_ROLES:
        raise VmGroupError(f"Maximum number of roles in a VM Group reached ({MAX_ROLES})")
    role = parse_role(vector, max((r.id for r in group.roles), default=-1) + 1)
    _check_name_free(group.roles, role.name)
    roles = [*group.roles, role]
    check_rules(roles, group.template)
    group.roles = roles
    return role


def delete_role(group: VmGroup, role_id: int) -> None:
    role = group.role_by_id(role_id)
    if role is None:
        raise VmGroupError(f"Unable to delete role {role_id}, the role doesn't exist")
    if role.vm_ids:
        raise VmGroupError(f"Unable to delete role {role_id}, the role has assigned VMs")
    if len(group.roles) == 1:
        raise VmGroupError(f"Unable to delete role {role_id}, a VM group needs at least one "
                           "role")
    roles = [r for r in group.roles if r.id != role_id]
    check_rules(roles, group.template)
    group.roles = roles


def update_role(group: VmGroup, role_id: int, vector: VectorAttribute) -> None:
    """one.vmgroup.roleupdate: merge NAME, POLICY and host lists into a role without VMs."""
    role = group.role_by_id(role_id)
    if role is None:
        raise VmGroupError(f"VMGroup {group.id} doesn't have role {role_id}")
    if role.vm_ids:
        raise VmGroupError(f"VMGroup {group.id} Role {role_id} has VMs, unable to update")
    unknown = [k for k, _ in vector.items() if k not in _ROLE_KEYS + _SYSTEM_KEYS]
    if unknown:
        raise VmGroupError(f"Unknown attribute {unknown[0]} in role {role.name}; a ROLE has "
                           + ", ".join(_ROLE_KEYS))
    new = VmGroupRole(**vars(role))
    name = (vector.get("NAME") or "").strip()
    if name and name != role.name:
        merged = VectorAttribute("ROLE", {"NAME": name})
        new.name = parse_role(merged, role_id).name
        try:
            _check_name_free(group.roles, new.name, role_id)
        except VmGroupError:
            raise VmGroupError(f"VMGroup {group.id} Role {role_id} can not update name, role "
                               f"with name {new.name} already exists") from None
    _apply(new, vector)
    roles = [new if r.id == role_id else r for r in group.roles]
    check_rules(roles, group.template)
    group.roles = roles


def add_vm(group: VmGroup, role_name: str, vm_id: int) -> None:
    role = group.role(role_name)
    if role is None:
        raise VmGroupError("Role does not exist in VM Group")
    role.vms = _join(sorted(set(role.vm_ids) | {vm_id}))


def remove_vm(group: VmGroup, role_name: str, vm_id: int) -> bool:
    """Take the VM out of its role; False if it was not there."""
    role = group.role(role_name)
    if role is None or vm_id not in role.vm_ids:
        return False
    role.vms = _join([v for v in role.vm_ids if v != vm_id])
    return True
