"""``nubo cluster`` / ``onecluster``: clusters and their hosts, datastores and networks."""
from __future__ import annotations

import argparse

from lxml import etree

from nubo.cli.shared_verbs import delete_verb, list_verb, rename_verb, show_verb, update_verb
from nubo.cli.context import Context
from nubo.cli.kinds import CLUSTER, DATASTORE, HOST, VNET, Kind
from nubo.cli.show import ID, NAME, Section, template, text
from nubo.cli.tables import Column
from nubo.cli.verbs import Noun, Verb, arg, ref

Element = etree._Element


def _ids(path: str) -> Column:
    return Column(path, lambda e: str(len(e.findall(f"{path}/ID"))),
                  key=lambda e: len(e.findall(f"{path}/ID")), right=True)


COLUMNS = (ID, NAME, _ids("HOSTS"), _ids("VNETS"), _ids("DATASTORES"))


def _listed(el: Element, path: str) -> str:
    return ", ".join(i.text or "" for i in el.findall(f"{path}/ID"))


def sections(el: Element) -> list[Section]:
    cid = text(el, "ID")
    return [Section(f"CLUSTER {cid} INFORMATION", [("ID", cid), ("NAME", text(el, "NAME"))]),
            template(el, "TEMPLATE", "CLUSTER TEMPLATE"),
            Section("MEMBERS", [("HOSTS", _listed(el, "HOSTS")), ("VNETS", _listed(el, "VNETS")),
                                ("DATASTORES", _listed(el, "DATASTORES"))])]


def _create(ctx: Context, a: argparse.Namespace) -> None:
    ctx.created(ctx.conn.call("one.cluster.allocate", a.name))


def member(verb: str, member: Kind, what: str) -> Verb:
    """addhost/delhost, adddatastore/deldatastore, addvnet/delvnet."""
    def run(ctx: Context, a: argparse.Namespace) -> None:
        ctx.conn.call(f"one.cluster.{verb}", ctx.resolve.one(CLUSTER, a.id),
                      ctx.resolve.one(member, a.member))
    word = "add a" if verb.startswith("add") else "remove a"
    return Verb(verb, f"{word} {member.label} {'to' if word == 'add a' else 'from'} a cluster",
                f"{{cmd}} {verb} production {what}-1", run,
                (ref("id", "cluster"), arg("member", metavar=what.upper(),
                                           help=f"the {member.label}: id or name")))


NOUN = Noun("cluster", CLUSTER, (
    Verb("create", "create a cluster", "{cmd} create production", _create,
         (arg("name", help="the cluster's name"),)),
    list_verb(CLUSTER, COLUMNS), show_verb(CLUSTER, sections),
    update_verb(CLUSTER), rename_verb(CLUSTER), delete_verb(CLUSTER),
    member("addhost", HOST, "host"), member("delhost", HOST, "host"),
    member("adddatastore", DATASTORE, "datastore"), member("deldatastore", DATASTORE, "datastore"),
    member("addvnet", VNET, "vnet"), member("delvnet", VNET, "vnet"),
))
