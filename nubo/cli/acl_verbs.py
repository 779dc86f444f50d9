"""``nubo acl`` / ``oneacl``: ACL rules, written as OpenNebula writes them."""
from __future__ import annotations

import argparse

from lxml import etree

from nubo.auth.acl import parse_rule_string
from nubo.cli.shared_verbs import delete_verb, list_verb
from nubo.cli.context import Context
from nubo.cli.error_output import UsageError
from nubo.cli.kinds import ACL
from nubo.cli.show import ID, text
from nubo.cli.tables import Column
from nubo.cli.verbs import Noun, Verb, arg
from nubo.errors import NuboError

Element = etree._Element


def _part(i: int):
    """The i-th piece of the rule's text: user, resources, resource id, rights, zone."""
    def get(el: Element) -> str:
        words = text(el, "STRING").split()
        if len(words) < 3:
            return ""
        resources, _, rid = words[1].partition("/")
        pieces = [words[0], resources, rid, words[2], words[3] if len(words) > 3 else ""]
        return pieces[i]
    return get


COLUMNS = (ID, Column("USER", _part(0)), Column("RESOURCES", _part(1), shrink=True),
           Column("RID", _part(2)), Column("RIGHTS", _part(3)), Column("ZONE", _part(4)),
           Column("STRING", lambda e: text(e, "STRING"), hidden=True))


def _create(ctx: Context, a: argparse.Namespace) -> None:
    try:
        parts = parse_rule_string(" ".join(a.rule))
    except NuboError as e:
        raise UsageError(f"bad rule '{' '.join(a.rule)}': {e.message} "
                         "(expected e.g. \"#5 VM+IMAGE/@1 USE+MANAGE\")") from None
    ctx.created(ctx.conn.call("one.acl.addrule", *parts))


NOUN = Noun("acl", ACL, (
    Verb("create", "add an ACL rule: USER RESOURCES/ID RIGHTS [ZONE]",
         '{cmd} create "@1 VM+IMAGE/* CREATE"', _create,
         (arg("rule", nargs="+", metavar="RULE",
              help='the rule, e.g. "#5 HOST+VM/@12 USE+MANAGE #0"'),)),
    list_verb(ACL, COLUMNS), delete_verb(ACL, method="delrule"),
))
