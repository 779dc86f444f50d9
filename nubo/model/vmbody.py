"""The short VM body that one.vmpool.info returns (vm_pool.xsd), derived from the full one."""
from __future__ import annotations

from nubo.model.vm import VirtualMachine
from nubo.model.xmlobj import escape, render

_SHORT_TEMPLATE = ("CPU", "MEMORY", "VCPU", "DISK", "NIC", "GRAPHICS")
_ORDER = {name: i for i, name in enumerate(_SHORT_TEMPLATE)}
_SHORT_HISTORY = ("oid", "seq", "hostname", "hid", "cid", "ds_id", "vm_mad", "tm_mad", "action")


def short_body(vm: VirtualMachine) -> str:
    """Render the pool-listing form of a VM: identity, state and the key template parts."""
    out = [f"<VM><ID>{vm.id}</ID><UID>{vm.uid}</UID><GID>{vm.gid}</GID>"
           f"<UNAME>{escape(vm.uname)}</UNAME><GNAME>{escape(vm.gname)}</GNAME>"
           f"<NAME>{escape(vm.name)}</NAME><LAST_POLL>{vm.last_poll}</LAST_POLL>"
           f"<STATE>{vm.state}</STATE><LCM_STATE>{vm.lcm_state}</LCM_STATE>"
           f"<RESCHED>{vm.resched}</RESCHED><STIME>{vm.stime}</STIME><ETIME>{vm.etime}</ETIME>"
           f"<DEPLOY_ID>{escape(vm.deploy_id)}</DEPLOY_ID>"]
    if vm.lock is not None:
        out.append(render(vm.lock, "LOCK"))
    short = type(vm.template)(sorted((a for a in vm.template if a.name in _ORDER),
                                     key=lambda a: _ORDER[a.name]))
    out.append(short.to_xml(root="TEMPLATE"))
    out.append(vm.monitoring)
    out.append(vm.user_template.to_xml(root="USER_TEMPLATE"))
    out.append("<HISTORY_RECORDS>")
    for h in vm.history:
        out.append("<HISTORY>" + "".join(
            f"<{f.upper()}>{escape(str(getattr(h, f)))}</{f.upper()}>" for f in _SHORT_HISTORY)
            + "</HISTORY>")
    out.append("</HISTORY_RECORDS></VM>")
    return "".join(out)

