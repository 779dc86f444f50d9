"""``nubo vmgroup`` / ``onevmgroup``: VM groups (affinity roles), OpenNebula's one.vmgroup.*."""
from __future__ import annotations

import argparse

from lxml import etree

from nubo.cli.shared_verbs import (create_from_file, delete_verb, edit, list_verb, lock_verbs, owned,
                             read_file, show_verb, update_verb)
from nubo.cli.context import Context
from nubo.cli.kinds import VMGROUP
from nubo.cli.show import GROUP, ID, NAME, USER, Section, col, owner_rows, permissions, table, \
    template, text
from nubo.cli.tables import Column
from nubo.cli.verbs import Noun, Verb, arg, ref

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


def _role_add(ctx: Context, a: argparse.Namespace) -> None:
    ctx.conn.call("one.vmgroup.roleadd", ctx.resolve.one(VMGROUP, a.id), _role_text(a))


def _role_text(a: argparse.Namespace, current: str = "") -> str:
    """The ROLE=[...] to send: from FILE, else edited in $EDITOR."""
    if a.file:
        return read_file(a.file)
    new = edit(current or "ROLE=[\n  NAME=\"\",\n  POLICY=\"NONE\" ]\n", "the role")
    return new if new is not None else current


def _role_update(ctx: Context, a: argparse.Namespace) -> None:
    gid = ctx.resolve.one(VMGROUP, a.id)
    current = ""
    if not a.file:
        for role in ctx.conn.xml("one.vmgroup.info", gid).findall("ROLES/ROLE"):
            if role.findtext("ID") == str(a.role_id):
                pairs = ", ".join(f'{c.tag}="{c.text or ""}"' for c in role if c.tag != "ID")
                current = f"ROLE=[{pairs}]\n"
    ctx.conn.call("one.vmgroup.roleupdate", gid, a.role_id, _role_text(a, current))


def _role_delete(ctx: Context, a: argparse.Namespace) -> None:
    ctx.conn.call("one.vmgroup.roledelete", ctx.resolve.one(VMGROUP, a.id), a.role_id)


_ROLE_ID = arg("role_id", type=int, metavar="ROLE_ID", help="the role's id")
_ROLE_FILE = arg("file", nargs="?", metavar="FILE",
                 help="a file with ROLE=[NAME=..., POLICY=...] (default: $EDITOR)")

NOUN = Noun("vmgroup", VMGROUP, (
    create_from_file(VMGROUP, example="{cmd} create web-tier.vmgroup"),
    list_verb(VMGROUP, COLUMNS), show_verb(VMGROUP, sections), update_verb(VMGROUP),
    *owned(VMGROUP), delete_verb(VMGROUP), *lock_verbs(VMGROUP),
    Verb("role-add", "add a role to a VM group", "{cmd} role-add web-tier role.tmpl", _role_add,
         (ref("id", "VM group"), _ROLE_FILE)),
    Verb("role-update", "change a role of a VM group", "{cmd} role-update web-tier 0 role.tmpl",
         _role_update, (ref("id", "VM group"), _ROLE_ID, _ROLE_FILE)),
    Verb("role-delete", "remove a role from a VM group", "{cmd} role-delete web-tier 1",
         _role_delete, (ref("id", "VM group"), _ROLE_ID)),
))
