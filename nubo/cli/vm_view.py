"""How VMs look: ``onevm list`` columns and ``onevm show`` sections."""
from __future__ import annotations

from lxml import etree

from nubo.cli import units
from nubo.cli.show import GROUP, ID, NAME, USER, Section, col, owner_rows, permissions, \
    state_colour, table, template, text
from nubo.cli.tables import Column
from nubo.lifecycle.states import (HISTORY_ACTIONS, PLACED_STATES, LcmState, VmState, short_name,
                                   state_str)

Element = etree._Element


def short_state(el: Element) -> str:
    try:
        return short_name(int(text(el, "STATE", "0")), int(text(el, "LCM_STATE", "0")))
    except ValueError:
        return "?"


def long_state(el: Element) -> str:
    try:
        return state_str(int(text(el, "STATE", "0")), int(text(el, "LCM_STATE", "0")))
    except ValueError:
        return "?"


def host(el: Element) -> str:
    """The host a placed VM is on (its last history record)."""
    try:
        placed = VmState(int(text(el, "STATE", "0"))) in PLACED_STATES
    except ValueError:
        placed = False
    records = el.findall("HISTORY_RECORDS/HISTORY")
    return text(records[-1], "HOSTNAME") if placed and records else ""


def _kb(path: str, unit: str = "K"):
    """A size column: '-' where the size is not known (yet)."""
    return lambda e: units.size(text(e, path), unit)


def _num(path: str):
    def key(e: Element) -> float:
        try:
            return float(text(e, path, "0") or 0)
        except ValueError:
            return 0.0
    return key


def _mem_kb(e: Element) -> float:
    return _num("TEMPLATE/MEMORY")(e) * 1024


COLUMNS = (
    ID, USER, GROUP, NAME,
    Column("STAT", short_state, colour=state_colour),
    Column("CPU", lambda e: text(e, "TEMPLATE/CPU"), key=_num("TEMPLATE/CPU"), right=True),
    Column("MEM", _kb("TEMPLATE/MEMORY", "M"), key=_mem_kb, right=True),
    Column("HOST", host, shrink=True),
    Column("TIME", lambda e: units.lifetime(text(e, "STIME"), text(e, "ETIME")),
           key=_num("STIME"), right=True),
    Column("STATE", long_state, hidden=True),
    Column("UCPU", lambda e: text(e, "MONITORING/CPU", "0"), key=_num("MONITORING/CPU"),
           right=True, hidden=True),
    Column("UMEM", _kb("MONITORING/MEMORY"), key=_num("MONITORING/MEMORY"), right=True,
           hidden=True),
    Column("IP", lambda e: ",".join(n.findtext("IP") or "" for n in e.findall("TEMPLATE/NIC")
                                    if n.findtext("IP")), shrink=True, hidden=True),
)

_DISKS = (col("ID", "DISK_ID", right=True), col("DATASTORE", "DATASTORE"),
          col("TARGET", "TARGET"), col("IMAGE", "IMAGE"),
          Column("SIZE", _kb("SIZE", "M"), right=True), col("TYPE", "TYPE"))
_NICS = (col("ID", "NIC_ID", right=True), col("NETWORK", "NETWORK"), col("BRIDGE", "BRIDGE"),
         col("IP", "IP"), col("MAC", "MAC"))
_SNAPSHOTS = (col("ID", "SNAPSHOT_ID", right=True), col("NAME", "NAME"),
              Column("TIME", lambda e: units.date(text(e, "TIME", "0"))))


_SCHEDULED = (col("ID", "ID", right=True), col("ACTION", "ACTION"),
              Column("TIME", lambda e: _when(text(e, "TIME"))),
              col("REPEAT", "REPEAT"), Column("DONE", lambda e: _when(text(e, "DONE"))),
              col("MESSAGE", "MESSAGE"))


def _when(value: str) -> str:
    return value if value.startswith("+") or not value.lstrip("-").isdigit() else \
        units.date(value)


def _action(e: Element) -> str:
    try:
        return HISTORY_ACTIONS[int(text(e, "ACTION", "0"))]
    except (ValueError, IndexError):
        return text(e, "ACTION")


_HISTORY = (col("SEQ", "SEQ", right=True), col("HOST", "HOSTNAME"),
            Column("ACTION", _action), col("DS", "DS_ID", right=True),
            Column("START", lambda e: units.date(text(e, "STIME", "0"))),
            Column("TIME", lambda e: units.lifetime(text(e, "STIME"), text(e, "ETIME"))),
            Column("PROLOG", lambda e: units.lifetime(text(e, "PSTIME"), text(e, "PETIME"))))


def _monitoring(el: Element) -> Section:
    m = el.find("MONITORING")
    rows = []
    for child in (m if m is not None else []):
        value = child.text or ""
        if child.tag in ("MEMORY", "NETRX", "NETTX", "DISKRDBYTES", "DISKWRBYTES"):
            value = units.size(float(value or 0) / (1 if child.tag == "MEMORY" else 1024))
        elif child.tag == "TIMESTAMP":
            value = units.date(value)
        rows.append((child.tag, value))
    return Section("VIRTUAL MACHINE MONITORING", rows)


def sections(el: Element) -> list[Section]:
    vid = text(el, "ID")
    info = Section(f"VIRTUAL MACHINE {vid} INFORMATION", [
        ("ID", vid), ("NAME", text(el, "NAME")), *owner_rows(el),
        ("STATE", _state_name(el)), ("LCM_STATE", _lcm_name(el)), ("HOST", host(el)),
        ("LOCK", "None" if el.find("LOCK") is None else text(el, "LOCK/LOCKED")),
        ("RESCHED", "Yes" if text(el, "RESCHED") == "1" else "No"),
        ("START TIME", units.date(text(el, "STIME", "0"))),
        ("END TIME", units.date(text(el, "ETIME", "0"))),
        ("DEPLOY ID", text(el, "DEPLOY_ID") or "-")])
    return [
        info, _monitoring(el), permissions(el),
        table("VM DISKS", el.findall("TEMPLATE/DISK"), _DISKS),
        table("VM NICS", el.findall("TEMPLATE/NIC"), _NICS),
        table("SNAPSHOTS", el.findall("TEMPLATE/SNAPSHOT"), _SNAPSHOTS),
        table("SCHEDULED ACTIONS", el.findall("TEMPLATE/SCHED_ACTION"), _SCHEDULED),
        table("VIRTUAL MACHINE HISTORY", el.findall("HISTORY_RECORDS/HISTORY"), _HISTORY),
        template(el, "USER_TEMPLATE", "USER TEMPLATE"),
        template(el, "TEMPLATE", "VIRTUAL MACHINE TEMPLATE"),
    ]


def _state_name(el: Element) -> str:
    try:
        return VmState(int(text(el, "STATE", "0"))).name
    except ValueError:
        return text(el, "STATE")


def _lcm_name(el: Element) -> str:
    try:
        return LcmState(int(text(el, "LCM_STATE", "0"))).name
    except ValueError:
        return text(el, "LCM_STATE")
