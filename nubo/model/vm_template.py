"""A VM built from its template as one.vm.allocate builds it: the checks and the TEMPLATE split.

OpenNebula takes the whole allocate template as the VM's USER_TEMPLATE and
moves the attributes it understands into TEMPLATE, checking MEMORY, CPU and
VCPU on the way (VirtualMachine::insert). vm.xsd makes TEMPLATE a strict,
ordered sequence, so only the attributes it names, in the shape it allows,
move; everything else stays in USER_TEMPLATE. Pure: the API authorises and
stores; the benchmark builds VMs with the same functions.
"""
from __future__ import annotations

import re
import secrets
import uuid
from dataclasses import dataclass
from typing import Callable

from nubo.errors import InternalError
from nubo.model.limits import VM_NUMBERS, check_numbers
from nubo.model.permissions import Permissions, apply_umask
from nubo.model.resources import VmTemplate
from nubo.model.vm_placement import host_requirements
from nubo.model.vm import (DERIVED, HOLD, LCM_LCM_INIT, PENDING, REPEATABLE, SCALARS,
                           STRUCTURED, SYSTEM_ATTRIBUTES, VECTORS, VirtualMachine,
                           order_system_template)
from nubo.template import (Attribute, SingleAttribute, Template, TemplateValueError,
                           VectorAttribute)
from nubo.template.attributes import to_float, to_int


class VmTemplateError(InternalError):
    """A template oned would not build a VM from (INTERNAL, as oned's allocate reports it)."""


@dataclass
class Split:
    """An allocate template taken apart."""

    system: Template  # TEMPLATE, in schema order
    user: Template    # USER_TEMPLATE
    name: str         # the VM's NAME (default "<TEMPLATE_NAME or one>-<id>")
    deploy_id: str    # an imported VM's hypervisor id, else ""
    on_hold: bool     # SUBMIT_ON_HOLD asked for HOLD


# Checked and normalised on the way, with oned's messages.
_CAPACITY = frozenset({"MEMORY", "MEMORY_MAX", "CPU", "VCPU", "VCPU_MAX", "CPU_COST",
                       "MEMORY_COST", "DISK_COST"})
# anyType in vm.xsd, but oned only ever moves vectors of these.
_VECTOR_ONLY = VECTORS | {"CONTEXT", "DISK", "GRAPHICS", "NIC_DEFAULT", "OS", "PCI", "VMGROUP"}
# A single attribute of these is an error rather than a user attribute.
_WRONG_FORMAT = {"CONTEXT": "Wrong format for CONTEXT attribute.",
                 "OS": "Internal error parsing OS attribute."}
# Read by allocate and not kept as written (SUBMIT_ON_HOLD comes back as YES/NO).
_CONSUMED = frozenset({"NAME", "TEMPLATE_NAME", "VMID", "DEPLOY_ID", "SUBMIT_ON_HOLD"})
_MOVED = frozenset(SYSTEM_ATTRIBUTES) - DERIVED - _CAPACITY - _CONSUMED
_READ = _CAPACITY | _CONSUMED
_ONE_VM = re.compile(r"one-[0-9]+")
_TRUE = ("YES", "TRUE")


def _fits(attr: Attribute, name: str) -> bool:
    """Has attr the shape vm.xsd (and oned) want for it in TEMPLATE?"""
    if name in SCALARS:
        return isinstance(attr, SingleAttribute)
    return isinstance(attr, VectorAttribute) or name not in _VECTOR_ONLY


def _firsts(template: Template) -> dict[str, str]:
    """The first single value of each name oned reads with get(); one scan of the template."""
    found: dict[str, str] = {}
    for attr in template:
        if attr.name in _READ and isinstance(attr, SingleAttribute):
            found.setdefault(attr.name, attr.value)
    return found


def _number(found: dict[str, str], name: str, conv: Callable[[str, str], float]) -> float | None:
    value = found.get(name)
    if value is None:
        return None
    try:
        return conv(value, name)
    except TemplateValueError:
        return None


def _g(value: float) -> str:
    """A float as oned prints it (C++ stream defaults: 6 significant digits)."""
    return f"{value:g}"


def _capacity(found: dict[str, str]) -> list[SingleAttribute]:
    """MEMORY, CPU, VCPU and their companions, checked as VirtualMachine::insert does.

    Returns what TEMPLATE gets; an attribute not returned stays in USER_TEMPLATE.
    """
    out: list[SingleAttribute] = []
    memory = _number(found, "MEMORY", to_int)
    if memory is None or memory <= 0:
        raise VmTemplateError("MEMORY attribute must be a positive integer value.")
    out.append(SingleAttribute("MEMORY", str(memory)))
    cpu = _number(found, "CPU", to_float)
    if cpu is None or cpu <= 0:
        raise VmTemplateError("CPU attribute must be a positive float or integer value.")
    out.append(SingleAttribute("CPU", _g(cpu)))
    if found.get("VCPU"):
        vcpu = _number(found, "VCPU", to_int)
        if vcpu is None or vcpu <= 0:
            raise VmTemplateError("VCPU attribute must be a positive integer value.")
        out.append(SingleAttribute("VCPU", str(vcpu)))
    for name in ("MEMORY_MAX", "VCPU_MAX"):
        limit = _number(found, name, to_int)
        if limit is not None and limit > 0:
            out.append(SingleAttribute(name, str(limit)))
    for name in ("CPU_COST", "MEMORY_COST", "DISK_COST"):
        cost = _number(found, name, to_float)
        if cost is not None:
            if cost < 0:
                raise VmTemplateError(f"{name} attribute must be a positive float or integer "
                                      "value.")
            out.append(SingleAttribute(name, _g(cost)))
    return out


def _take_known(template: Template, gone: set[str]) -> tuple[Template, dict[str, list[Attribute]]]:
    """Copy the attributes apart in one pass: those TEMPLATE takes, the user's, and the gone."""
    keep: list[Attribute] = []
    moved: dict[str, list[Attribute]] = {}
    for attr in template:
        name = attr.name
        if name in gone:
            continue
        if name in _MOVED and _fits(attr, name):
            moved.setdefault(name, []).append(attr.copy())
        elif name in _WRONG_FORMAT:
            raise VmTemplateError(_WRONG_FORMAT[name])
        else:
            keep.append(attr.copy())
    for name, attrs in moved.items():
        if len(attrs) > 1 and name not in REPEATABLE:
            raise VmTemplateError(f"Only one {name} attribute can be defined.")
    return Template(keep), moved


def _structured(attr: VectorAttribute) -> VectorAttribute:
    """VIDEO, TPM, MEMORY_ENCRYPTION: only the parts vm.xsd knows, in its order."""
    order, required = STRUCTURED[attr.name]
    unknown = [k for k, _ in attr.items() if k not in order]
    if unknown:
        raise VmTemplateError(f"Unknown attribute {unknown[0]} in {attr.name}.")
    missing = [k for k in order if k in required and not attr.get(k)]
    if missing:
        raise VmTemplateError(f"{attr.name} attribute needs {missing[0]}.")
    if attr.get("VRAM") is not None:
        try:
            to_int(attr.get("VRAM") or "", "VRAM")
        except TemplateValueError:
            raise VmTemplateError(f"Wrong VRAM value in {attr.name} attribute.") from None
    return VectorAttribute(attr.name, {k: attr.get(k) or "" for k in order if k in attr})


def _graphics(graphics: VectorAttribute) -> None:
    port = graphics.get("PORT")
    if port:
        try:
            number = to_int(port, "PORT")
        except TemplateValueError:
            number = -1
        if not 0 <= number <= 65535:
            raise VmTemplateError("Wrong PORT number in GRAPHICS attribute")
    if (graphics.get("RANDOM_PASSWD") or "").upper() in _TRUE and not graphics.get("PASSWD"):
        graphics.set("PASSWD", secrets.token_hex(8))


def _number_nics(nics: list[VectorAttribute], aliases: list[VectorAttribute]) -> None:
    """NIC_ID and NAME for each NIC; aliases get theirs after, linked to their PARENT."""
    parents: dict[str, tuple[VectorAttribute, list[int]]] = {}
    for i, nic in enumerate(nics):
        nic.set("NIC_ID", str(i))
        if not nic.get("NAME"):
            nic.set("NAME", f"NIC{i}")
        parents.setdefault(nic.get("NAME") or "", (nic, []))
    for nic_id, alias in enumerate(aliases, start=len(nics)):
        parent_name = alias.get("PARENT") or ""
        if parent_name not in parents:
            raise VmTemplateError(f"NIC named {parent_name} not found for alias")
        parent, ids = parents[parent_name]
        pid = parent.get("NIC_ID") or ""
        alias.set("NIC_ID", str(nic_id))
        alias.set("PARENT_ID", pid)
        alias.set("ALIAS_ID", str(len(ids)))
        alias.set("NAME", f"NIC{pid}_ALIAS{len(ids)}")
        ids.append(nic_id)
    for parent, ids in parents.values():
        if ids:
            parent.set("ALIAS_IDS", ",".join(map(str, ids)))


def _vectors(moved: dict[str, list[Attribute]], name: str) -> list[VectorAttribute]:
    return [a for a in moved.get(name, ()) if isinstance(a, VectorAttribute)]


def _automatic_requirements(moved: dict[str, list[Attribute]]) -> str:
    """Where the scheduler may place the VM before its resources are known (the clusters
    of its DISKs and NICs are added when they are taken: nubo.model.vm_placement)."""
    policy = next((t.get("PIN_POLICY") for t in _vectors(moved, "TOPOLOGY")), None)
    return host_requirements((), (policy or "NONE").upper() != "NONE")


def split(template: Template, oid: int) -> Split:
    """Check an allocate template and split it into TEMPLATE and USER_TEMPLATE.

    The input is not changed. Raises VmTemplateError with oned's message.
    """
    found = _firsts(template)
    deploy_id = found.get("DEPLOY_ID", "")
    if deploy_id and _ONE_VM.fullmatch(deploy_id):
        raise VmTemplateError("Trying to import an OpenNebula VM: 'one-*'.")
    system: list[Attribute] = list(_capacity(found))
    check_numbers(template, VM_NUMBERS, oid)  # after _capacity: oned's words for what it checks
    on_hold = False
    if "SUBMIT_ON_HOLD" in found:
        on_hold = found["SUBMIT_ON_HOLD"].strip().upper() in _TRUE
        system.append(SingleAttribute("SUBMIT_ON_HOLD", "YES" if on_hold else "NO"))
    user, moved = _take_known(template, _CONSUMED | {a.name for a in system})
    if "OS" not in moved:
        moved["OS"] = [VectorAttribute("OS")]
    for os_ in _vectors(moved, "OS"):
        if not os_.get("UUID"):
            os_.set("UUID", str(uuid.uuid4()))
    for vector in STRUCTURED:
        if vector in moved:
            moved[vector] = [_structured(a) for a in _vectors(moved, vector)]
    for graphics in _vectors(moved, "GRAPHICS"):
        _graphics(graphics)
    for kind in ("DISK", "PCI"):
        for i, attr in enumerate(_vectors(moved, kind)):
            attr.set(f"{kind}_ID", str(i))
    _number_nics(_vectors(moved, "NIC"), _vectors(moved, "NIC_ALIAS"))
    system += [a for attrs in moved.values() for a in attrs]
    system.append(SingleAttribute("VMID", str(oid)))
    system.append(SingleAttribute("AUTOMATIC_REQUIREMENTS", _automatic_requirements(moved)))
    if "TM_MAD_SYSTEM" not in moved:
        system.append(SingleAttribute("TM_MAD_SYSTEM", ""))  # vm.xsd requires it
    if deploy_id:
        system.append(SingleAttribute("IMPORTED", "YES"))
    name = found.get("NAME") or f"{found.get('TEMPLATE_NAME') or 'one'}-{oid}"
    return Split(order_system_template(Template(system)), user, name, deploy_id, on_hold)


def build_vm(oid: int, template: Template, *, uid: int, gid: int, uname: str, gname: str,
             now: int, hold: bool = False,
             permissions: Permissions | None = None) -> VirtualMachine:
    """A new VM as one.vm.allocate stores it: PENDING, or HOLD if asked (or SUBMIT_ON_HOLD)."""
    parts = split(template, oid)
    state = HOLD if hold or parts.on_hold else PENDING
    return VirtualMachine(
        id=oid, uid=uid, gid=gid, uname=uname, gname=gname, name=parts.name,
        permissions=permissions or apply_umask(uid=uid, gid=gid), last_poll=0, state=state,
        lcm_state=LCM_LCM_INIT, prev_state=state, prev_lcm_state=LCM_LCM_INIT, resched=0,
        stime=now, etime=0, deploy_id=parts.deploy_id, lock=None, template=parts.system,
        user_template=parts.user)


def build_vm_template(oid: int, template: Template, *, uid: int, gid: int, uname: str,
                      gname: str, now: int, permissions: Permissions | None = None) -> VmTemplate:
    """A new VM template as one.template.allocate stores it: NAME leaves the body."""
    body = template.copy()
    name = body.get("NAME") or ""
    body.remove("NAME")
    return VmTemplate(id=oid, uid=uid, gid=gid, uname=uname, gname=gname, name=name, lock=None,
                      permissions=permissions or apply_umask(uid=uid, gid=gid), regtime=now,
                      template=body)


def instance_template(source: VmTemplate, extra: Template | None, name: str) -> Template:
    """What one.template.instantiate allocates: the template, the extra merged in, its origin.

    Names in ``extra`` replace the template's (a DISK there replaces every DISK).
    """
    merged = source.template.copy()
    if extra is not None:
        merged.merge(extra)
    for attr in ("NAME", "TEMPLATE_NAME", "TEMPLATE_ID"):
        merged.remove(attr)
    merged.add(SingleAttribute("TEMPLATE_NAME", source.name))
    merged.add(SingleAttribute("TEMPLATE_ID", str(source.id)))
    if name:
        merged.add(SingleAttribute("NAME", name))
    return merged


@dataclass(frozen=True)
class Ref:
    """A DISK's image or a NIC's network: by id, or by name and owner (uid or user name)."""

    oid: int | None
    name: str
    uid: int | None
    uname: str


def reference(attr: VectorAttribute, what: str) -> Ref | None:
    """The image (what="IMAGE") or network ("NETWORK") one DISK/NIC points at, if any;
    TemplateValueError if its {what}_ID or {what}_UID is not a number, or not an id."""
    check_numbers(Template([attr]), VM_NUMBERS)
    oid = attr.get_int(f"{what}_ID")
    uid = attr.get_int(f"{what}_UID")
    name = attr.get(what) or ""
    if oid is None and not name:
        return None
    return Ref(oid, name, uid, attr.get(f"{what}_UNAME") or "")


def references(template: Template, vectors: tuple[str, ...], what: str) -> list[Ref]:
    """The images (what="IMAGE") or networks ("NETWORK") the given vectors point at
    (malformed references are skipped: whoever takes them refuses them)."""
    refs = []
    for vector in vectors:
        for attr in template.get_vectors(vector):
            try:
                ref = reference(attr, what)
            except TemplateValueError:
                continue
            if ref is not None:
                refs.append(ref)
    return refs
