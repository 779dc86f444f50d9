"""Virtual machines: the VM body, its history records, and what vm.xsd allows in TEMPLATE.

The split of an allocate template into TEMPLATE and USER_TEMPLATE is
nubo.model.vm_template; the short pool-listing body is nubo.model.vmbody.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from nubo.lifecycle.states import LcmState, VmState
from nubo.model.parts import Lock
from nubo.model.permissions import Permissions
from nubo.model.xmlobj import RawXml, xml_field
from nubo.template import Template

# VM states as the body's plain int fields hold them: the numbers are defined once, in
# nubo.lifecycle.states (OpenNebula's VirtualMachine::VmState and LcmState).
STATE_NAMES = [s.name for s in VmState]
INIT, PENDING, HOLD, ACTIVE, STOPPED, SUSPENDED, DONE, POWEROFF, UNDEPLOYED = (int(s) for s in (
    VmState.INIT, VmState.PENDING, VmState.HOLD, VmState.ACTIVE, VmState.STOPPED,
    VmState.SUSPENDED, VmState.DONE, VmState.POWEROFF, VmState.UNDEPLOYED))
CLONING_FAILURE = int(VmState.CLONING_FAILURE)
LCM_LCM_INIT = int(LcmState.LCM_INIT)

# The attributes OpenNebula keeps in a VM's TEMPLATE, in the order its schema
# demands; everything else a user writes goes to USER_TEMPLATE.
SYSTEM_ATTRIBUTES: tuple[str, ...] = (
    "AUTOMATIC_DS_REQUIREMENTS", "AUTOMATIC_NIC_REQUIREMENTS", "AUTOMATIC_REQUIREMENTS",
    "CLONING_TEMPLATE_ID", "CONTEXT", "CPU", "CPU_COST", "DISK", "DISK_COST", "EMULATOR",
    "FEATURES", "HYPERV_OPTIONS", "GRAPHICS", "VIDEO", "IMPORTED", "INPUT", "MEMORY",
    "MEMORY_COST", "MEMORY_MAX", "MEMORY_SLOTS", "MEMORY_RESIZE_MODE", "NIC", "NIC_ALIAS",
    "NIC_DEFAULT", "NUMA_NODE", "OS", "PCI", "QEMU_GA_EXEC", "RAW", "SECURITY_GROUP_RULE",
    "SNAPSHOT", "SPICE_OPTIONS", "SUBMIT_ON_HOLD", "TEMPLATE_ID", "TM_MAD_SYSTEM", "TOPOLOGY",
    "TPM", "MEMORY_ENCRYPTION", "VCPU", "VCPU_MAX", "VMGROUP", "VMID", "VROUTER_ID",
    "VROUTER_KEEPALIVED_ID", "VROUTER_KEEPALIVED_PASSWORD",
)
_ORDER = {name: i for i, name in enumerate(SYSTEM_ATTRIBUTES)}
# Attributes that may appear more than once in TEMPLATE.
REPEATABLE = frozenset({"DISK", "NIC", "NIC_ALIAS", "PCI", "SECURITY_GROUP_RULE", "SNAPSHOT"})
# Attributes that must be vectors (the schema gives them structure).
VECTORS = frozenset({"VIDEO", "QEMU_GA_EXEC", "TPM", "MEMORY_ENCRYPTION", "NIC", "NIC_ALIAS"})
# Attributes the schema types as plain strings: a vector of one stays in USER_TEMPLATE.
SCALARS = frozenset(n for n in SYSTEM_ATTRIBUTES if n.startswith(("AUTOMATIC_", "CPU", "MEMORY", "VCPU"))
                    and n != "MEMORY_ENCRYPTION") | {
    "CLONING_TEMPLATE_ID", "DISK_COST", "EMULATOR", "IMPORTED", "SUBMIT_ON_HOLD", "TEMPLATE_ID",
    "TM_MAD_SYSTEM", "VMID", "VROUTER_ID", "VROUTER_KEEPALIVED_ID", "VROUTER_KEEPALIVED_PASSWORD"}


# Vector attributes whose parts the schema fixes: the sub-attributes allowed, in
# schema order, and those required.
STRUCTURED: dict[str, tuple[tuple[str, ...], frozenset[str]]] = {
    "VIDEO": (("TYPE", "IOMMU", "ATS", "VRAM", "RESOLUTION"), frozenset()),
    "TPM": (("MODEL",), frozenset({"MODEL"})),
    "MEMORY_ENCRYPTION": (("TYPE",), frozenset({"TYPE"})),
}
# TEMPLATE attributes only the core writes (scheduler, drivers, security
# groups); a user who writes one keeps it in USER_TEMPLATE.
DERIVED = frozenset({
    "AUTOMATIC_DS_REQUIREMENTS", "AUTOMATIC_NIC_REQUIREMENTS", "AUTOMATIC_REQUIREMENTS",
    "IMPORTED", "QEMU_GA_EXEC", "SECURITY_GROUP_RULE", "SNAPSHOT", "VMID"})

# one.vmpool.info's state filter: every state, every state but DONE.
ANY_STATE, NOT_DONE = -2, -1


def order_system_template(template: Template) -> Template:
    """Return TEMPLATE with its attributes in schema order (stable within a name)."""
    attrs = sorted(template, key=lambda a: _ORDER.get(a.name, len(_ORDER)))
    return Template(attrs)


@dataclass
class HistoryRecord:
    """One placement of a VM on a host, with the times of each of its phases."""

    oid: int
    seq: int
    hostname: str
    hid: int
    cid: int
    stime: int
    etime: int
    vm_mad: str
    tm_mad: str
    ds_id: int
    plan_id: int
    action_id: int
    pstime: int
    petime: int
    rstime: int
    retime: int
    estime: int
    eetime: int
    action: int
    uid: int
    gid: int
    request_id: str


@dataclass
class VirtualMachine:
    id: int
    uid: int
    gid: int
    uname: str
    gname: str
    name: str
    permissions: Permissions
    last_poll: int
    state: int
    lcm_state: int
    prev_state: int
    prev_lcm_state: int
    resched: int
    stime: int
    etime: int
    deploy_id: str
    lock: Lock | None
    monitoring: RawXml = xml_field("MONITORING", default=RawXml("<MONITORING/>"))
    sched_actions: list[int] = field(default_factory=list)
    template: Template = field(default_factory=Template)
    user_template: Template = field(default_factory=Template)
    history: list[HistoryRecord] = xml_field("HISTORY", wrap="HISTORY_RECORDS",
                                             default_factory=list)
    snapshots: RawXml = xml_field("SNAPSHOTS", default=RawXml(""))
    backups: RawXml = xml_field("BACKUPS", default=RawXml(
        "<BACKUPS><BACKUP_CONFIG/><BACKUP_IDS/></BACKUPS>"))

    TAG = "VM"
