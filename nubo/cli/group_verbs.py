"""``nubo group`` / ``onegroup``: groups and their administrators."""
from __future__ import annotations

import argparse

from lxml import etree

from nubo.cli.shared_verbs import delete_verb, list_verb, show_verb, update_verb
from nubo.cli.context import Context
from nubo.cli.kinds import GROUP, USER
from nubo.cli.show import ID, NAME, Section, template, text
from nubo.cli.tables import Column
from nubo.cli.verbs import Noun, Verb, arg, ref

Element = etree._Element


def _ids(el: Element, path: str) -> str:
    return ",".join(i.text or "" for i in el.findall(f"{path}/ID"))


COLUMNS = (ID, NAME, Column("USERS", lambda e: str(len(e.findall("USERS/ID"))),
                            key=lambda e: len(e.findall("USERS/ID")), right=True))


def sections(el: Element) -> list[Section]:
    gid = text(el, "ID")
    return [Section(f"GROUP {gid} INFORMATION", [
                ("ID", gid), ("NAME", text(el, "NAME")), ("USERS", _ids(el, "USERS")),
                ("ADMINS", _ids(el, "ADMINS"))]),
            template(el, "TEMPLATE", "GROUP TEMPLATE")]


def _create(ctx: Context, a: argparse.Namespace) -> None:
    ctx.created(ctx.conn.call("one.group.allocate", a.name))


def _admin(verb: str) -> Verb:
    def run(ctx: Context, a: argparse.Namespace) -> None:
        ctx.conn.call(f"one.group.{verb}", ctx.resolve.one(GROUP, a.id),
                      ctx.resolve.one(USER, a.user))
    what = "make a user an administrator of" if verb == "addadmin" else \
        "remove an administrator from"
    return Verb(verb, f"{what} a group", f"{{cmd}} {verb} developers alice", run,
                (ref("id", "group"), arg("user", help="the user: id or name")))


NOUN = Noun("group", GROUP, (
    Verb("create", "create a group", "{cmd} create developers", _create,
         (arg("name", help="the group's name"),)),
    list_verb(GROUP, COLUMNS), show_verb(GROUP, sections), update_verb(GROUP),
    delete_verb(GROUP), _admin("addadmin"), _admin("deladmin"),
))
