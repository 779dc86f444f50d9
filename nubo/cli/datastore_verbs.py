"""``nubo datastore`` / ``onedatastore``: image, system and file datastores."""
from __future__ import annotations

from lxml import etree

from nubo.cli import units
from nubo.cli.shared_verbs import (create_from_file, delete_verb, list_verb, owned, show_verb, simple,
                             update_verb)
from nubo.cli.kinds import DATASTORE
from nubo.cli.show import GROUP, ID, NAME, USER, Section, col, owner_rows, permissions, \
    state_colour, template, text
from nubo.cli.tables import Column
from nubo.cli.verbs import Noun

Element = etree._Element

TYPES = ("img", "sys", "fil")
TYPE_NAMES = ("IMAGE_DS", "SYSTEM_DS", "FILE_DS")
STATES = ("on", "off")


def _pick(names: tuple[str, ...], el: Element, path: str) -> str:
    try:
        return names[int(text(el, path, "0"))]
    except (ValueError, IndexError):
        return text(el, path)


def _mb(name: str, path: str) -> Column:
    return Column(name, lambda e: units.size(text(e, path, "0") or "0", "M"),
                  key=lambda e: float(text(e, path, "0") or 0) * 1024, right=True)


COLUMNS = (
    ID, USER, GROUP, NAME, _mb("SIZE", "TOTAL_MB"), _mb("AVAIL", "FREE_MB"),
    Column("CLUSTERS", lambda e: ",".join(i.text or "" for i in e.findall("CLUSTERS/ID"))),
    Column("IMAGES", lambda e: str(len(e.findall("IMAGES/ID"))), right=True),
    Column("TYPE", lambda e: _pick(TYPES, e, "TYPE")),
    col("DS", "DS_MAD"), col("TM", "TM_MAD"),
    Column("STAT", lambda e: _pick(STATES, e, "STATE"), colour=state_colour),
)


def sections(el: Element) -> list[Section]:
    did = text(el, "ID")
    return [
        Section(f"DATASTORE {did} INFORMATION", [
            ("ID", did), ("NAME", text(el, "NAME")), *owner_rows(el),
            ("CLUSTERS", ",".join(i.text or "" for i in el.findall("CLUSTERS/ID"))),
            ("TYPE", _pick(TYPE_NAMES, el, "TYPE")), ("DS_MAD", text(el, "DS_MAD")),
            ("TM_MAD", text(el, "TM_MAD")), ("BASE PATH", text(el, "BASE_PATH")),
            ("STATE", "READY" if text(el, "STATE") == "0" else "DISABLED")]),
        Section("DATASTORE CAPACITY", [
            ("TOTAL", units.size(text(el, "TOTAL_MB", "0") or "0", "M")),
            ("FREE", units.size(text(el, "FREE_MB", "0") or "0", "M")),
            ("USED", units.size(text(el, "USED_MB", "0") or "0", "M"))]),
        permissions(el),
        template(el, "TEMPLATE", "DATASTORE TEMPLATE"),
        Section("IMAGES", [("IDS", ", ".join(i.text or "" for i in el.findall("IMAGES/ID")))]
                if el.findall("IMAGES/ID") else []),
    ]


NOUN = Noun("datastore", DATASTORE, (
    create_from_file(DATASTORE, cluster=True, example="{cmd} create ds.tmpl -c production"),
    list_verb(DATASTORE, COLUMNS), show_verb(DATASTORE, sections),
    update_verb(DATASTORE), *owned(DATASTORE), delete_verb(DATASTORE),
    simple(DATASTORE, "enable", "enable datastores", "enable", True),
    simple(DATASTORE, "disable", "disable datastores: no new images or VMs", "enable", False),
))
