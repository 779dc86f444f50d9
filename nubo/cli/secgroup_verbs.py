"""``nubo secgroup`` / ``onesecgroup``: security groups, OpenNebula's one.secgroup.*,
and the VM side (``attach`` / ``detach`` a group on a VM NIC: one.vm.attachsg/detachsg)."""
from __future__ import annotations

import argparse

from lxml import etree

from nubo.cli.context import Context
from nubo.cli.kinds import SECGROUP, VM
from nubo.cli.shared_verbs import (create_from_file, delete_verb, list_verb, owned, show_verb,
                                   update_verb)
from nubo.cli.show import GROUP, ID, NAME, USER, Section, col, owner_rows, permissions, table, \
    template, text
from nubo.cli.tables import Column
from nubo.cli.verbs import Noun, Verb, arg, flag, ref

Element = etree._Element


def _ids(el: Element, path: str) -> str:
    return ",".join(i.text or "" for i in el.findall(f"{path}/ID"))


COLUMNS = (ID, USER, GROUP, NAME,
           Column("UPDATED", lambda e: _ids(e, "UPDATED_VMS"), shrink=True),
           Column("OUTDATED", lambda e: _ids(e, "OUTDATED_VMS"), shrink=True),
           Column("ERROR", lambda e: _ids(e, "ERROR_VMS"), shrink=True))
_RULES = (col("TYPE", "RULE_TYPE"), col("PROTOCOL", "PROTOCOL"), col("RANGE", "RANGE"),
          col("IP", "IP"), col("SIZE", "SIZE", right=True), col("NETWORK", "NETWORK_ID"),
          col("ICMP", "ICMP_TYPE"))


def sections(el: Element) -> list[Section]:
    gid = text(el, "ID")
    vms = [(name, _ids(el, path) or "-") for name, path in (
        ("UPDATED", "UPDATED_VMS"), ("OUTDATED", "OUTDATED_VMS"),
        ("UPDATING", "UPDATING_VMS"), ("ERROR", "ERROR_VMS"))]
    return [Section(f"SECURITY GROUP {gid} INFORMATION",
                    [("ID", gid), ("NAME", text(el, "NAME")), *owner_rows(el)]),
            permissions(el), Section("VIRTUAL MACHINES", vms),
            table("RULES", el.findall("TEMPLATE/RULE"), _RULES),
            template(el, "TEMPLATE", "TEMPLATE CONTENTS")]


def _clone(ctx: Context, a: argparse.Namespace) -> None:
    ctx.created(ctx.conn.call("one.secgroup.clone", ctx.resolve.one(SECGROUP, a.id), a.name))


def _commit(ctx: Context, a: argparse.Namespace) -> None:
    gid = ctx.resolve.one(SECGROUP, a.id)
    ctx.conn.call("one.secgroup.commit", gid, a.recover)
    ctx.note(f"security group {gid}: rules sent to its VMs")


def _on_nic(method: str, done: str):
    def run(ctx: Context, a: argparse.Namespace) -> None:
        vm_id = ctx.resolve.one(VM, a.vm)
        gid = ctx.resolve.one(SECGROUP, a.id)
        ctx.conn.call(method, vm_id, a.nic_id, gid)
        ctx.note(f"VM {vm_id} NIC {a.nic_id}: security group {gid} {done}")
    return run


_NIC = (ref("vm", "VM"), arg("nic_id", type=int, metavar="NIC_ID", help="the NIC's id"),
        ref("id", "security group"))

NOUN = Noun("secgroup", SECGROUP, (
    create_from_file(SECGROUP, example="{cmd} create web.sg"),
    list_verb(SECGROUP, COLUMNS), show_verb(SECGROUP, sections), update_verb(SECGROUP),
    *owned(SECGROUP), delete_verb(SECGROUP),
    Verb("clone", "copy a security group", "{cmd} clone web web-copy", _clone,
         (ref("id", "security group"), arg("name", help="the copy's name"))),
    Verb("commit", "send the group's rules to its VMs again",
         "{cmd} commit web --recover", _commit,
         (ref("id", "security group"),
          flag("--recover", help="only the VMs not UPDATED (outdated, updating, error)"))),
    Verb("attach", "add the group to a VM's NIC", "{cmd} attach web-1 0 web",
         _on_nic("one.vm.attachsg", "attached"), _NIC),
    Verb("detach", "take the group from a VM's NIC", "{cmd} detach web-1 0 web",
         _on_nic("one.vm.detachsg", "detached"), _NIC),
))
