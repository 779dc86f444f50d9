"""``nubo user`` / ``oneuser``: users, passwords, login tokens and groups."""
from __future__ import annotations

import argparse
import os
from pathlib import Path

from lxml import etree

from nubo.cli.shared_verbs import delete_verb, list_verb, show_verb, simple, update_verb
from nubo.cli.context import Context
from nubo.cli.kinds import GROUP, USER
from nubo.cli.show import ID, NAME, Section, col, template, text
from nubo.cli.tables import Column
from nubo.cli.verbs import Noun, Verb, arg, flag, ref

Element = etree._Element

COLUMNS = (ID, NAME, col("GROUP", "GNAME", shrink=True), col("AUTH", "AUTH_DRIVER"),
           Column("ENABLED", lambda e: "Yes" if text(e, "ENABLED") == "1" else "No"))


def sections(el: Element) -> list[Section]:
    uid = text(el, "ID")
    tokens = [(text(t, "TOKEN")[:12] + "…", f"expires {text(t, 'EXPIRATION_TIME')}")
              for t in el.findall("LOGIN_TOKEN")]
    return [Section(f"USER {uid} INFORMATION", [
                ("ID", uid), ("NAME", text(el, "NAME")), ("GROUP", text(el, "GNAME")),
                ("SECONDARY GROUPS", ",".join(g.text or "" for g in el.findall("GROUPS/ID"))),
                ("AUTH_DRIVER", text(el, "AUTH_DRIVER")),
                ("ENABLED", "Yes" if text(el, "ENABLED") == "1" else "No")]),
            Section("LOGIN TOKENS", tokens),
            template(el, "TEMPLATE", "USER TEMPLATE")]


def _create(ctx: Context, a: argparse.Namespace) -> None:
    groups = [ctx.resolve.one(GROUP, g) for g in a.group.split(",")] if a.group else []
    ctx.created(ctx.conn.call("one.user.allocate", a.name, a.password, a.driver, groups))


def _passwd(ctx: Context, a: argparse.Namespace) -> None:
    ctx.conn.call("one.user.passwd", ctx.resolve.one(USER, a.id), a.password)


def _chauth(ctx: Context, a: argparse.Namespace) -> None:
    ctx.conn.call("one.user.chauth", ctx.resolve.one(USER, a.id), a.driver, a.password or "")


def _login(ctx: Context, a: argparse.Namespace) -> None:
    egid = ctx.resolve.one(GROUP, a.group) if a.group else -1
    token = ctx.conn.call("one.user.login", a.name, "", a.time, egid)
    if a.save:
        path = Path(os.environ.get("ONE_AUTH") or Path.home() / ".one/one_auth")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"{a.name}:{token}\n")
        path.chmod(0o600)
        ctx.note(f"token saved in {path}")
    ctx.out(token)


def _group_verb(name: str, help: str, method: str) -> Verb:  # noqa: A002
    def run(ctx: Context, a: argparse.Namespace) -> None:
        ctx.conn.call(f"one.user.{method}", ctx.resolve.one(USER, a.id),
                      ctx.resolve.one(GROUP, a.group))
    return Verb(name, help, f"{{cmd}} {name} alice developers", run,
                (ref("id", "user"), arg("group", help="the group: id or name")))


NOUN = Noun("user", USER, (
    Verb("create", "create a user", "{cmd} create alice s3cret --group users", _create,
         (arg("name", help="the user name"), arg("password", help="the password"),
          arg("--driver", default="core", help="authentication driver (default core)"),
          arg("--group", help="primary (then secondary) groups: developers,testers"))),
    list_verb(USER, COLUMNS), show_verb(USER, sections), update_verb(USER),
    delete_verb(USER),
    Verb("passwd", "change a user's password", "{cmd} passwd alice n3w-s3cret", _passwd,
         (ref("id", "user"), arg("password", help="the new password"))),
    Verb("chauth", "change a user's authentication driver", "{cmd} chauth alice core", _chauth,
         (ref("id", "user"), arg("driver", help="the driver"),
          arg("password", nargs="?", help="a new password"))),
    Verb("login", "get a login token (to use instead of the password)",
         "{cmd} login alice --time 3600 --save", _login,
         (arg("name", help="the user name (the session's user, or oneadmin)"),
          arg("--time", type=int, default=36000, metavar="SECONDS",
              help="how long it is valid (default 36000; 0 revokes, -1 never expires)"),
          arg("--group", help="the group the token acts in"),
          flag("--save", help="write user:token to $ONE_AUTH (~/.one/one_auth)"))),
    _group_verb("chgrp", "change a user's primary group", "chgrp"),
    _group_verb("addgroup", "add a user to a secondary group", "addgroup"),
    _group_verb("delgroup", "remove a user from a secondary group", "delgroup"),
    simple(USER, "enable", "enable users", "enable", True),
    simple(USER, "disable", "disable users: they cannot log in", "enable", False),
))

