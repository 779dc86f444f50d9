"""``nubo hook`` / ``onehook``: hooks and their execution log."""
from __future__ import annotations

import argparse

from lxml import etree

from nubo.cli import units
from nubo.cli.shared_verbs import (create_from_file, delete_verb, list_verb, lock_verbs, rename_verb,
                             show_verb, update_verb)
from nubo.cli.context import Context
from nubo.cli.kinds import HOOK
from nubo.cli.show import ID, NAME, Section, col, table, template, text
from nubo.cli.tables import Column
from nubo.cli.verbs import Noun, Verb, arg, ref

Element = etree._Element

COLUMNS = (ID, NAME, col("TYPE", "TYPE"))
_LOG = (col("ID", "EXECUTION_ID", right=True),
        Column("TIMESTAMP", lambda e: units.date(text(e, "TIMESTAMP", "0"))),
        col("RC", "EXECUTION/CODE", right=True),
        Column("EXECUTION", lambda e: "SUCCESS" if text(e, "EXECUTION/CODE") == "0"
               else "ERROR"))


def sections(el: Element) -> list[Section]:
    hid = text(el, "ID")
    return [Section(f"HOOK {hid} INFORMATION", [("ID", hid), ("NAME", text(el, "NAME")),
                                                ("TYPE", text(el, "TYPE"))]),
            template(el, "TEMPLATE", "HOOK TEMPLATE"),
            table("EXECUTION LOG", el.findall("HOOKLOG/HOOK_EXECUTION_RECORD"), _LOG)]


def _retry(ctx: Context, a: argparse.Namespace) -> None:
    ctx.conn.call("one.hook.retry", ctx.resolve.one(HOOK, a.id), a.execution)


NOUN = Noun("hook", HOOK, (
    create_from_file(HOOK, example="{cmd} create on-running.hook"),
    list_verb(HOOK, COLUMNS), show_verb(HOOK, sections), update_verb(HOOK),
    rename_verb(HOOK), delete_verb(HOOK), *lock_verbs(HOOK),
    Verb("retry", "run a hook execution again", "{cmd} retry 0 3", _retry,
         (ref("id", "hook"), arg("execution", type=int, metavar="EXECUTION_ID",
                                 help="the execution to retry"))),
))
