"""``nubo vmgroup`` / ``onevmgroup``: VM groups (affinity roles), OpenNebula's one.vmgroup.*."""
from __future__ import annotations

from lxml import etree

from nubo.cli.common import (create_from_file, delete_verb, list_verb, lock_verbs, owned,
                             show_verb, update_verb)
from nubo.cli.kinds import VMGROUP
from nubo.cli.show import GROUP, ID, NAME, USER, Section, col, owner_rows, permissions, table, \
    template, text
from nubo.cli.tables import Column
from nubo.cli.verbs import Noun

Element = etree._Element

COLUMNS = (ID, USER, GROUP, NAME,
           Column("ROLES", lambda e: ",".join(r.findtext("NAME") or "" for r in
                                             e.findall("ROLES/ROLE")), shrink=True))
_ROLES = (col("ID", "ID", right=True), col("NAME", "NAME"), col("POLICY", "POLICY"),
          col("VMS", "VMS"))


def sections(el: Element) -> list[Section]:
    gid = text(el, "ID")
    return [Section(f"VM GROUP {gid} INFORMATION", [("ID", gid), ("NAME", text(el, "NAME")),
                                                    *owner_rows(el)]),
            permissions(el), table("ROLES", el.findall("ROLES/ROLE"), _ROLES),
            template(el, "TEMPLATE", "TEMPLATE CONTENTS")]


NOUN = Noun("vmgroup", VMGROUP, (
    create_from_file(VMGROUP, example="{cmd} create web-tier.vmgroup"),
    list_verb(VMGROUP, COLUMNS), show_verb(VMGROUP, sections), update_verb(VMGROUP),
    *owned(VMGROUP), delete_verb(VMGROUP), *lock_verbs(VMGROUP),
))
