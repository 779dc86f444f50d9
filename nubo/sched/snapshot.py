"""The API's pool XML (hostpool, datastorepool, clusterpool, vmpool) as scheduler records.

Pure: text in, records out. Only what placement reads is kept, and each VM body
is walked once: 10,000 extended VM bodies are a few tens of MB.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from lxml import etree

from nubo.lifecycle.states import HISTORY_ACTION_IDS
from nubo.model.host_capacity import capacity
from nubo.model.vm_disks import image_ds_mb, system_ds_mb
from nubo.sched.records import DatastoreRecord, HostRecord, Values, VmRecord

_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)
_DELETE_RECREATE = str(HISTORY_ACTION_IDS["delete-recreate"])
# The usage figures: live in HostRecord, never frozen into the attributes.
_USAGE = frozenset({"MEM_USAGE", "CPU_USAGE", "RUNNING_VMS", "MAX_CPU", "MAX_MEM"})


def _root(xml: str | bytes) -> etree._Element:
    return etree.fromstring(xml.encode() if isinstance(xml, str) else xml, _PARSER)


def _int(text: str | None, default: int = 0) -> int:
    try:
        return int(float(text)) if text not in (None, "") else default
    except ValueError:
        return default


def _put(out: dict[str, list[str]], key: str, value: str) -> None:
    out.setdefault(key, []).append(value)


def _flatten(element: etree._Element | None, out: dict[str, list[str]], prefix: str = "",
             also_bare: bool = False) -> None:
    """Single values of ``element``'s children as NAME (with ``prefix``: PREFIX/NAME)."""
    if element is None:
        return
    for child in element:
        if not isinstance(child.tag, str):
            continue
        if len(child):
            for sub in child:
                if isinstance(sub.tag, str) and not len(sub):
                    _put(out, f"{prefix}{child.tag}/{sub.tag}", sub.text or "")
            continue
        _put(out, f"{prefix}{child.tag}", child.text or "")
        if also_bare and prefix:
            _put(out, child.tag, child.text or "")


def _merge(levels: list[dict[str, list[str]]]) -> dict[str, Values]:
    """Bare names resolve to the first level that has them (OpenNebula's search order)."""
    out: dict[str, Values] = {}
    for level in levels:
        for key, values in level.items():
            if key not in out:
                out[key] = tuple(values)
    return out


def cluster_templates(xml: str | bytes) -> dict[int, dict[str, str]]:
    """one.clusterpool.info: each cluster's TEMPLATE single values, by cluster id."""
    out = {}
    for el in _root(xml).iterchildren("CLUSTER"):
        tmpl = el.find("TEMPLATE")
        out[_int(el.findtext("ID"), -1)] = {c.tag: c.text or "" for c in (tmpl if tmpl is not None
                                                                           else ())
                                            if isinstance(c.tag, str) and not len(c)}
    return out


def parse_hosts(xml: str | bytes, clusters: dict[int, dict[str, str]] | None = None
                ) -> list[HostRecord]:
    """one.hostpool.info's HOST_POOL (host.xsd) as HostRecords, by id."""
    clusters = clusters or {}
    hosts = [host_record(el, clusters) for el in _root(xml).iterchildren("HOST")]
    hosts.sort(key=lambda h: h.id)
    return hosts


def host_record(el: etree._Element, clusters: dict[int, dict[str, str]]) -> HostRecord:
    """One HOST element (its cluster's template from ``clusters``)."""
    share = el.find("HOST_SHARE")
    template = el.find("TEMPLATE")
    cid = _int(el.findtext("CLUSTER_ID"), -1)
    cluster = clusters.get(cid, {})
    tmpl: dict[str, list[str]] = {}
    _flatten(template, tmpl)
    tshare: dict[str, list[str]] = {}
    _flatten(share, tshare)
    dss: dict[str, list[str]] = {}
    _flatten(share.find("DATASTORES") if share is not None else None, dss)
    top: dict[str, list[str]] = {}
    for child in el:
        if isinstance(child.tag, str) and not len(child):
            _put(top, child.tag, child.text or "")
    for vm_id in el.iterfind("VMS/ID"):
        _put(top, "VMS/ID", vm_id.text or "")
    paths = {f"TEMPLATE/{k}": v for k, v in tmpl.items()}
    paths.update({f"HOST_SHARE/{k}": v for k, v in tshare.items() if k not in _USAGE})
    ctmpl = {f"CLUSTER_TEMPLATE/{k}": [v] for k, v in cluster.items()}
    bare_cluster = {k: [v] for k, v in cluster.items()}
    attrs = _merge([tmpl, {k: v for k, v in tshare.items() if k not in _USAGE}, dss, top,
                    bare_cluster, paths, ctmpl])
    total_cpu = _int(share.findtext("TOTAL_CPU") if share is not None else None)
    total_mem = _int(share.findtext("TOTAL_MEM") if share is not None else None)
    room = capacity(total_cpu, total_mem,
                    ((tmpl.get("RESERVED_CPU") or [""])[0], (tmpl.get("RESERVED_MEM") or [""])[0]),
                    (cluster.get("RESERVED_CPU"), cluster.get("RESERVED_MEM")))

    def figure(name: str) -> int:
        return _int(share.findtext(name) if share is not None else None)
    return HostRecord(
        id=_int(el.findtext("ID"), -1), name=el.findtext("NAME") or "",
        state=_int(el.findtext("STATE"), -1), cluster_id=cid,
        max_cpu=room.max_cpu, max_mem=room.max_mem,
        cpu_usage=figure("CPU_USAGE"), mem_usage=figure("MEM_USAGE"),
        running_vms=figure("RUNNING_VMS"), attrs=attrs)


def parse_datastores(xml: str | bytes) -> list[DatastoreRecord]:
    """one.datastorepool.info's DATASTORE_POOL (datastore.xsd) as DatastoreRecords."""
    out = []
    for el in _root(xml).iterchildren("DATASTORE"):
        tmpl: dict[str, list[str]] = {}
        _flatten(el.find("TEMPLATE"), tmpl)
        top: dict[str, list[str]] = {}
        for child in el:
            if isinstance(child.tag, str) and not len(child):
                _put(top, child.tag, child.text or "")
        clusters = [c.text or "" for c in el.iterfind("CLUSTERS/ID")]
        top["CLUSTERS/ID"] = clusters
        attrs = _merge([tmpl, top, {f"TEMPLATE/{k}": v for k, v in tmpl.items()}])
        out.append(DatastoreRecord(
            id=_int(el.findtext("ID"), -1), name=el.findtext("NAME") or "",
            type=_int(el.findtext("TYPE"), -1), state=_int(el.findtext("STATE"), -1),
            clusters=frozenset(_int(c, -1) for c in clusters),
            total_mb=_int(el.findtext("TOTAL_MB")), free_mb=_int(el.findtext("FREE_MB")),
            attrs=attrs))
    out.sort(key=lambda d: d.id)
    return out


def _disk_mb(template: etree._Element | None) -> int:
    """What the VM's disks take on its system datastore: volatile disks, and image disks
    cloned or linked there (nubo.model.vm_disks.tm_target)."""
    if template is None:
        return 0
    return system_ds_mb(disk.findtext for disk in template.iterfind("DISK"))


def _image_ds_mb(template: etree._Element | None) -> tuple[tuple[int, int], ...]:
    """What the VM's clones made in their own image datastore (CLONE_TARGET = SELF) take."""
    if template is None:
        return ()
    return tuple(sorted(image_ds_mb(disk.findtext for disk in template.iterfind("DISK"))
                        .items()))


def _vm_values(el: etree._Element, template: etree._Element | None,
               user: etree._Element | None) -> dict[str, str]:
    """What ``$`` references read: TEMPLATE, then USER_TEMPLATE, then the top level."""
    values: dict[str, list[str]] = {}
    _flatten(user, values)
    system: dict[str, list[str]] = {}
    _flatten(template, system)
    top: dict[str, list[str]] = {}
    for child in el:
        if isinstance(child.tag, str) and not len(child):
            _put(top, child.tag, child.text or "")
    return {k: v[0] for k, v in _merge([system, values, top]).items() if v}


def parse_vms(xml: str | bytes, failed_hosts: dict[int, set[int]] | None = None
              ) -> list[VmRecord]:
    """one.vmpool.infoextended's VM_POOL as VmRecords.

    The hosts a VM was sent back from (history records closed by a
    delete-recreate), and those in ``failed_hosts``, are the ones it avoids.
    """
    return with_failed([vm_record(el) for el in _root(xml).iterchildren("VM")],
                       failed_hosts or {})


def with_failed(vms: list[VmRecord], failed_hosts: dict[int, set[int]]) -> list[VmRecord]:
    """The VMs, each also avoiding the hosts its deploys failed on (known to the caller)."""
    return [replace(v, avoid=v.avoid | frozenset(failed_hosts[v.id])) if v.id in failed_hosts
            else v for v in vms]


def vm_record(el: etree._Element) -> VmRecord:
    """One VM element (full body); one that cannot be read is a record with an error, so
    that it gets a message and the other VMs are still placed."""
    try:
        return _vm_record(el)
    except Exception as e:
        return VmRecord(id=_int(el.findtext("ID"), -1), cpu=0, mem=0,
                        error=f"Cannot read the VM's template ({type(e).__name__}: {e})",
                        sched_message=el.findtext("USER_TEMPLATE/SCHED_MESSAGE") or "")


def _vm_record(el: etree._Element) -> VmRecord:
    vid = _int(el.findtext("ID"), -1)
    template = el.find("TEMPLATE")
    user = el.find("USER_TEMPLATE")

    def text(name: str, where: tuple = (user, template)) -> str:
        for level in where:
            if level is not None:
                found = level.findtext(name)
                if found is not None:
                    return found
        return ""
    req, rank = text("SCHED_REQUIREMENTS"), text("SCHED_RANK")
    ds_req, ds_rank = text("SCHED_DS_REQUIREMENTS"), text("SCHED_DS_RANK")
    refs = "$" in req or "$" in rank or "$" in ds_req or "$" in ds_rank
    avoid = set()
    host_id = ds_id = -1
    for record in el.iterfind("HISTORY_RECORDS/HISTORY"):
        host_id = _int(record.findtext("HID"), -1)
        ds_id = _int(record.findtext("DS_ID"), -1)
        if record.findtext("ACTION") == _DELETE_RECREATE:
            avoid.add(host_id)
    group = template.find("VMGROUP") if template is not None else None
    vmgroup = None
    if group is not None and group.findtext("VMGROUP_ID"):
        vmgroup = (_int(group.findtext("VMGROUP_ID"), -1), group.findtext("ROLE") or "")
    system = (template,)
    cpu = text("CPU", system)
    return VmRecord(
        id=vid, cpu=int(round(float(cpu) * 100)) if _number(cpu) else 0,
        mem=_int(text("MEMORY", system)) * 1024, disk_mb=_disk_mb(template),
        image_ds_mb=_image_ds_mb(template),
        requirements=req, automatic_requirements=text("AUTOMATIC_REQUIREMENTS", system),
        rank=rank, ds_requirements=ds_req,
        automatic_ds_requirements=text("AUTOMATIC_DS_REQUIREMENTS", system),
        ds_rank=ds_rank, priority=_int(text("USER_PRIORITY")),
        values=_vm_values(el, template, user) if refs else {}, vmgroup=vmgroup,
        avoid=frozenset(avoid), host_id=host_id, ds_id=ds_id,
        sched_message=text("SCHED_MESSAGE", (user,)))


def _number(text: str | None) -> bool:
    try:
        float(text or "")
        return True
    except ValueError:
        return False


def vm_hosts(xml: str | bytes) -> dict[int, int]:
    """The host each VM of a (short or extended) VM_POOL is on: its last history record."""
    out = {}
    for el in _root(xml).iterchildren("VM"):
        records = el.findall("HISTORY_RECORDS/HISTORY")
        if records:
            out[_int(el.findtext("ID"), -1)] = _int(records[-1].findtext("HID"), -1)
    return out


@dataclass(frozen=True)
class VmState:
    id: int
    state: int
    lcm_state: int
    resched: bool
    placements: int  # history records


def vm_states(xml: str | bytes) -> list[VmState]:
    """Each VM's state of a (short or extended) VM_POOL."""
    return [VmState(_int(el.findtext("ID"), -1), _int(el.findtext("STATE"), -1),
                    _int(el.findtext("LCM_STATE"), -1), el.findtext("RESCHED") == "1",
                    len(el.findall("HISTORY_RECORDS/HISTORY")))
            for el in _root(xml).iterchildren("VM")]
