"""An image's SNAPSHOTS (oned's Snapshots of a persistent qcow2 image): which exist,
which is active, which have children, and what revert, delete and flatten leave.

The list is the image's raw <SNAPSHOTS> XML (kept verbatim in its body); these
functions read it and write a new one, and say in oned's words why an operation on
a snapshot is refused.
"""
from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

_PARSER = etree.XMLParser(resolve_entities=False, no_network=True)


@dataclass(frozen=True)
class Snapshot:
    id: int
    active: bool
    parent: int
    children: tuple[int, ...]


def _root(raw: str) -> etree._Element:
    return etree.fromstring(raw or "<SNAPSHOTS/>", _PARSER)


def _int(node: etree._Element, tag: str, default: int = -1) -> int:
    try:
        return int((node.findtext(tag) or "").strip())
    except ValueError:
        return default


def snapshots(raw: str) -> dict[int, Snapshot]:
    out = {}
    for node in _root(raw).findall("SNAPSHOT"):
        children = tuple(int(c) for c in (node.findtext("CHILDREN") or "").split(",")
                         if c.strip().isdigit())
        sid = _int(node, "ID")
        out[sid] = Snapshot(sid, (node.findtext("ACTIVE") or "").upper() == "YES",
                            _int(node, "PARENT"), children)
    return out


def refuse_delete(raw: str, sid: int) -> str | None:
    """Why snapshot sid can't be deleted (Snapshots::test_delete), or None."""
    snap = snapshots(raw).get(sid)
    if snap is None:
        return "Snapshot does not exist"
    if snap.active:
        return "Cannot delete the active snapshot"
    if snap.children:
        return "Cannot delete snapshot with children"
    return None


def refuse_other(raw: str, sid: int) -> str | None:
    """Why a revert or flatten to sid is refused, or None."""
    return None if sid in snapshots(raw) else "Snapshot does not exist"


def after(raw: str, action: str, sid: int) -> str:
    """The SNAPSHOTS once the driver did ``action`` (SNAP_DELETE, SNAP_REVERT,
    SNAP_FLATTEN) on snapshot sid."""
    root = _root(raw)
    nodes = {_int(n, "ID"): n for n in root.findall("SNAPSHOT")}
    if action == "SNAP_FLATTEN":
        for node in nodes.values():
            root.remove(node)
        current = root.find("CURRENT_BASE")
        if current is not None:
            current.text = "-1"
    elif action == "SNAP_DELETE" and sid in nodes:
        parent = _int(nodes[sid], "PARENT")
        root.remove(nodes.pop(sid))
        if parent in nodes:
            kids = nodes[parent].find("CHILDREN")
            if kids is not None:
                left = [c for c in (kids.text or "").split(",") if c.strip() and int(c) != sid]
                if left:
                    kids.text = ",".join(left)
                else:
                    nodes[parent].remove(kids)
    elif action == "SNAP_REVERT":
        for node_id, node in nodes.items():
            active = node.find("ACTIVE")
            if node_id == sid and active is None:
                etree.SubElement(node, "ACTIVE").text = "YES"
            elif node_id != sid and active is not None:
                node.remove(active)
    return etree.tostring(root, encoding="unicode")
