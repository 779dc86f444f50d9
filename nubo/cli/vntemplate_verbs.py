"""``nubo vntemplate`` / ``onevntemplate``: virtual network templates and instantiating them."""
from __future__ import annotations

import argparse
from dataclasses import replace

from lxml import etree

from nubo.cli.shared_verbs import (create_from_file, delete_verb, list_verb, lock_verbs, owned,
                                   read_file, show_verb, update_verb)
from nubo.cli.context import Context
from nubo.cli.kinds import VNTEMPLATE
from nubo.cli.show import Section
from nubo.cli.template_verbs import COLUMNS, sections as template_sections
from nubo.cli.verbs import Noun, Verb, arg, ref


def sections(el: etree._Element) -> list[Section]:
    """As a VM template's, titled for a network template."""
    out = template_sections(el)
    out[0] = replace(out[0], title="VIRTUAL NETWORK " + out[0].title)
    return out


def _instantiate(ctx: Context, a: argparse.Namespace) -> None:
    tid = ctx.resolve.one(VNTEMPLATE, a.id)
    extra = read_file(a.extra) if a.extra else ""
    ctx.created(ctx.conn.call("one.vntemplate.instantiate", tid, a.name or "", extra))


def _clone(ctx: Context, a: argparse.Namespace) -> None:
    ctx.created(ctx.conn.call("one.vntemplate.clone", ctx.resolve.one(VNTEMPLATE, a.id),
                              a.name))


NOUN = Noun("vntemplate", VNTEMPLATE, (
    create_from_file(VNTEMPLATE, example="{cmd} create private.vntmpl"),
    list_verb(VNTEMPLATE, COLUMNS), show_verb(VNTEMPLATE, sections),
    update_verb(VNTEMPLATE), *owned(VNTEMPLATE), delete_verb(VNTEMPLATE),
    *lock_verbs(VNTEMPLATE),
    Verb("instantiate", "create a virtual network from a template",
         "{cmd} instantiate private --name mynet", _instantiate,
         (ref("id", "virtual network template"), arg("--name", help="the network's name"),
          arg("--extra", metavar="FILE", help="a file with attributes to add"))),
    Verb("clone", "copy a template", "{cmd} clone private private-copy", _clone,
         (ref("id", "virtual network template"), arg("name", help="the copy's name"))),
))
