"""The shape of every command: a noun (object family) with a table of verbs.

A verb is its name, a one-line help, an example, its arguments and the
function that runs it; ``main`` builds argparse parsers, help, the one*
aliases and shell completion from these tables, so a new verb is one entry.
"""
from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from nubo.cli.kinds import Kind

Run = Callable[[Any, argparse.Namespace], "int | None"]


@dataclass(frozen=True)
class Arg:
    """One argparse argument: its flags (or positional name) and add_argument options."""

    flags: tuple[str, ...]
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def positional(self) -> bool:
        return not self.flags[0].startswith("-")


def arg(*flags: str, **options: Any) -> Arg:
    return Arg(flags, options)


def flag(*flags: str, help: str) -> Arg:  # noqa: A002 - argparse's own name
    return Arg(flags, {"action": "store_true", "help": help})


@dataclass(frozen=True)
class Verb:
    """``output``: "list" adds the table and -x/-j/--yaml options, "show" only the latter.
    ``wait``: adds --wait/--timeout (VM actions). ``{cmd}`` in the example becomes the
    command as typed (``nubo vm`` or ``onevm``)."""

    name: str
    help: str
    example: str
    run: Run
    args: tuple[Arg, ...] = ()
    aliases: tuple[str, ...] = ()
    output: str = ""
    wait: bool = False
    connects: bool = True  # False for verbs that never call the API (serve, completion)


@dataclass(frozen=True)
class Noun:
    """An object family's verbs; ``help`` and ``classic`` (onevm) come from nouns.REGISTRY."""

    name: str
    kind: Kind | None
    verbs: tuple[Verb, ...]
    help: str = ""
    classic: str = ""

    def verb(self, name: str) -> Verb:
        return next(v for v in self.verbs if v.name == name or name in v.aliases)


def ref(name: str = "id", what: str = "object") -> Arg:
    return arg(name, metavar=name.upper(), help=f"the {what}: id or name")


def refs(what: str = "objects") -> Arg:
    return arg("ids", metavar="RANGE", help=f"the {what}: ids or names, e.g. 3,5,7-9 or web-1")
