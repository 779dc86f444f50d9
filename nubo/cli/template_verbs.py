"""``nubo template`` / ``onetemplate``: VM templates and instantiating them."""
from __future__ import annotations

import argparse

from lxml import etree

from nubo.cli import build, units
from nubo.cli.shared_verbs import (delete_verb, list_verb, lock_verbs, owned, read_file, show_verb,
                             update_verb)
from nubo.cli.context import Context
from nubo.cli.kinds import TEMPLATE
from nubo.cli.show import GROUP, ID, NAME, USER, Section, owner_rows, permissions, template, \
    text
from nubo.cli.tables import Column
from nubo.cli.verbs import Noun, Verb, arg, flag, ref

Element = etree._Element

COLUMNS = (ID, USER, GROUP, NAME,
           Column("REGTIME", lambda e: units.date(text(e, "REGTIME", "0")),
                  key=lambda e: int(text(e, "REGTIME", "0") or 0)))


def sections(el: Element) -> list[Section]:
    tid = text(el, "ID")
    return [Section(f"TEMPLATE {tid} INFORMATION", [
                ("ID", tid), ("NAME", text(el, "NAME")), *owner_rows(el),
                ("REGISTER TIME", units.date(text(el, "REGTIME", "0")))]),
            permissions(el), template(el, "TEMPLATE", "TEMPLATE CONTENTS")]


def _create(ctx: Context, a: argparse.Namespace) -> None:
    text_ = build.vm_template(a, read_file(a.file) if a.file else None)
    ctx.created(ctx.conn.call("one.template.allocate", text_))


def _instantiate(ctx: Context, a: argparse.Namespace) -> None:
    tid = ctx.resolve.one(TEMPLATE, a.id)
    extra = read_file(a.extra) if a.extra else ""
    for i in range(a.multiple):
        name = (a.name or "").replace("%i", str(i))
        vm_id = ctx.conn.call("one.template.instantiate", tid, name, a.hold, extra,
                              a.persistent)
        ctx.created(vm_id)
        if a.wait:
            from nubo.cli.wait import settle
            settle(ctx, vm_id, a.timeout)


def _clone(ctx: Context, a: argparse.Namespace) -> None:
    ctx.created(ctx.conn.call("one.template.clone", ctx.resolve.one(TEMPLATE, a.id), a.name,
                              a.recursive))


RECURSIVE = ("--recursive", "also its images")

NOUN = Noun("template", TEMPLATE, (
    Verb("create", "create a template from a file and/or options",
         "{cmd} create --name small --cpu 1 --memory 512M --disk ubuntu", _create,
         (build.FILE, *build.VM_OPTIONS)),
    list_verb(TEMPLATE, COLUMNS), show_verb(TEMPLATE, sections),
    update_verb(TEMPLATE), *owned(TEMPLATE, recursive_chmod=True),
    delete_verb(TEMPLATE, RECURSIVE), *lock_verbs(TEMPLATE),
    Verb("instantiate", "create VMs from a template",
         "{cmd} instantiate small --name web-%i --multiple 3", _instantiate,
         (ref("id", "template"), arg("--name", help="the VMs' name (%%i: 0..N-1)"),
          build.HOLD, arg("-m", "--multiple", type=int, default=1, metavar="N",
                          help="create N VMs"),
          flag("--persistent", help="make persistent copies of the images"),
          arg("--extra", metavar="FILE", help="a file with attributes to add")), wait=True),
    Verb("clone", "copy a template", "{cmd} clone small small-copy", _clone,
         (ref("id", "template"), arg("name", help="the copy's name"),
          flag("--recursive", help="also copy its images"))),
))
