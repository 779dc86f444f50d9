"""The short VM body one.vmpool.info returns (vm_pool.xsd), derived from the full one.

It is VirtualMachine::to_xml_short: identity and state, a TEMPLATE with CPU,
MEMORY, a few keys of each DISK and NIC and the GRAPHICS, the USER_TEMPLATE
keys Sunstone and the scheduler read, and only the last history record. It is
rendered whenever the VM is stored, so a pool listing only joins stored text.
"""
from __future__ import annotations

from nubo.model.vm import VirtualMachine
from nubo.model.xmlobj import escape
from nubo.template import Template, VectorAttribute
from nubo.template.xml_render import cdata

# VirtualMachineDisk::to_xml_short: always written, empty when unset.
_DISK = ("DISK_ID", "DATASTORE", "DATASTORE_ID", "IMAGE", "IMAGE_ID", "SIZE", "TYPE", "CLONE",
         "CLONE_TARGET", "LN_TARGET", "DISK_SNAPSHOT_TOTAL_SIZE")
# VirtualMachineNic::to_xml_short: the first written only when set, the rest always.
_NIC_IF_SET = ("IP", "EXTERNAL_IP", "IP6", "IP6_ULA", "IP6_LINK", "IP6_GLOBAL", "NETWORK_MODE",
               "SCHED_REQUIREMENTS", "SCHED_RANK")
_NIC = ("MAC", "NETWORK", "NETWORK_ID", "NIC_ID", "SECURITY_GROUPS")
# VirtualMachineTemplate::to_xml_short: LABELS, ERROR, SCHED_MESSAGE when not empty,
# the scheduler's keys when present, then PUBLIC_CLOUD and SCHED_ACTION vectors.
_USER_IF_NOT_EMPTY = ("LABELS", "ERROR", "SCHED_MESSAGE")
_USER_IF_SET = ("SCHED_RANK", "SCHED_DS_RANK", "SCHED_REQUIREMENTS", "SCHED_DS_REQUIREMENTS",
                "USER_PRIORITY")
_USER_VECTORS = ("PUBLIC_CLOUD", "SCHED_ACTION")
_HISTORY = ("oid", "seq", "hostname", "hid", "cid", "ds_id", "vm_mad", "tm_mad", "action")


def _element(tag: str, value: str) -> str:
    return f"<{tag}>{escape(value)}</{tag}>"


def _vector_xml(attr: VectorAttribute) -> str:
    inner = "".join(f"<{k}>{cdata(v)}</{k}>" for k, v in attr.items())
    return f"<{attr.name}>{inner}</{attr.name}>"


def _short_template(template: Template) -> str:
    out = ["<TEMPLATE>", _element("CPU", template.get("CPU") or ""),
           _element("MEMORY", template.get("MEMORY") or "")]
    for disk in template.get_vectors("DISK"):
        out.append("<DISK>" + "".join(_element(k, disk.get(k) or "") for k in _DISK) + "</DISK>")
    for nic in template.get_vectors("NIC") + template.get_vectors("NIC_ALIAS"):
        out.append("<NIC>")
        out.extend(_element(k, nic.get(k) or "") for k in _NIC_IF_SET if nic.get(k))
        out.extend(_element(k, nic.get(k) or "") for k in _NIC)
        out.append("</NIC>")
    graphics = template.get_vector("GRAPHICS")
    if graphics is not None:
        out.append(_vector_xml(graphics))
    out.append("</TEMPLATE>")
    return "".join(out)


def _short_user_template(user: Template) -> str:
    if not len(user):
        return "<USER_TEMPLATE/>"
    out = ["<USER_TEMPLATE>"]
    out.extend(_element(k, user.get(k) or "") for k in _USER_IF_NOT_EMPTY if user.get(k))
    out.extend(_element(k, user.get(k) or "") for k in _USER_IF_SET if user.get(k) is not None)
    for name in _USER_VECTORS:
        out.extend(_vector_xml(a) for a in user.get_vectors(name))
    out.append("</USER_TEMPLATE>")
    return "".join(out)


def short_body(vm: VirtualMachine) -> str:
    """Render the pool-listing form of a VM."""
    out = [f"<VM><ID>{vm.id}</ID><UID>{vm.uid}</UID><GID>{vm.gid}</GID>",
           _element("UNAME", vm.uname), _element("GNAME", vm.gname), _element("NAME", vm.name),
           f"<LAST_POLL>{vm.last_poll}</LAST_POLL><STATE>{vm.state}</STATE>"
           f"<LCM_STATE>{vm.lcm_state}</LCM_STATE><RESCHED>{vm.resched}</RESCHED>"
           f"<STIME>{vm.stime}</STIME><ETIME>{vm.etime}</ETIME>",
           _element("DEPLOY_ID", vm.deploy_id)]
    if vm.lock is not None and vm.lock.locked:
        out.append(f"<LOCK><LOCKED>{vm.lock.locked}</LOCKED></LOCK>")
    out.append(_short_template(vm.template))
    out.append(vm.monitoring)
    out.append(_short_user_template(vm.user_template))
    if vm.history:
        last = vm.history[-1]
        out.append("<HISTORY_RECORDS><HISTORY>" + "".join(
            _element(f.upper(), str(getattr(last, f))) for f in _HISTORY)
            + "</HISTORY></HISTORY_RECORDS>")
    else:
        out.append("<HISTORY_RECORDS/>")
    out.append("</VM>")
    return "".join(out)

