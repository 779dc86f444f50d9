"""argparse parsers built from the verb tables: ``nubo NOUN VERB`` and ``onevm VERB``."""
from __future__ import annotations

import argparse
from collections.abc import Sequence

from nubo.cli.formats import FORMATS
from nubo.cli.nouns import Entry
from nubo.cli.verbs import Noun, Verb

_FMT = argparse.RawDescriptionHelpFormatter


def connection_options(p: argparse.ArgumentParser, suppress: bool) -> None:
    """--endpoint, --user, --password, --verbose; on a verb, given only when typed."""
    d = {"default": argparse.SUPPRESS} if suppress else {}
    g = p.add_argument_group("connection")
    # dests of their own: verbs have arguments called user and password (oneuser passwd)
    g.add_argument("--endpoint", dest="conn_endpoint", metavar="URL", help="XML-RPC endpoint "
                   "(default: $ONE_XMLRPC or http://localhost:2633/RPC2)", **d)
    g.add_argument("--user", dest="conn_user", metavar="USER",
                   help="user name (default: from $ONE_AUTH, ~/.one/one_auth)", **d)
    g.add_argument("--password", dest="conn_password", metavar="PASSWORD",
                   help="the user's password or login token", **d)
    taken = "-v" in p._option_string_actions  # onehost create -v is --vm, as OpenNebula's
    g.add_argument(*(["--verbose"] if taken else ["-v", "--verbose"]), action="store_true",
                   help="say what was done, on stderr", **d)


def _output_options(p: argparse.ArgumentParser, table: bool) -> None:
    g = p.add_argument_group("output")
    for flags, fmt in ((("-x", "--xml"), "xml"), (("-j", "--json"), "json"),
                       (("--yaml",), "yaml")):
        g.add_argument(*flags, dest="format", action="store_const", const=fmt,
                       help=f"print the API's answer as {fmt.upper()}")
    if not table:
        return
    g.add_argument("-l", "--list", metavar="COL,...", help="columns to show, in this order")
    g.add_argument("--filter", action="append", metavar="COL=VALUE",
                   help="keep rows where COL matches (=, !=, <, >, <=, >=, ~ contains); "
                   "repeat or comma-separate to AND them, e.g. STAT=runn")
    g.add_argument("--sort", metavar="COL", help="sort by a column (-COL: descending)")
    g.add_argument("--csv", action="store_true", help="comma-separated values")
    g.add_argument("--no-header", "--noheader", dest="no_header", action="store_true",
                   help="leave the header line out")
    g.add_argument("--watch", action="store_true", help="refresh every --delay seconds")
    g.add_argument("--delay", type=float, default=2.0, metavar="SECONDS",
                   help="refresh interval for --watch (default 2)")
    g.add_argument("--count", type=int, metavar="N", help="with --watch: stop after N frames")


def _wait_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("waiting")
    g.add_argument("--wait", action="store_true",
                   help="wait until the VM has settled (e.g. RUNNING, POWEROFF, DONE)")
    g.add_argument("--timeout", type=float, default=300, metavar="SECONDS",
                   help="with --wait: give up after this long (default 300)")


def example(verb: Verb, cmd: str) -> str:
    return verb.example.format(cmd=cmd)


def add_verb(sub: argparse._SubParsersAction, verb: Verb, cmd: str) -> None:
    p = sub.add_parser(verb.name, aliases=list(verb.aliases), help=verb.help,
                       description=verb.help[:1].upper() + verb.help[1:] + ".",
                       epilog=f"example:\n  {example(verb, cmd)}", formatter_class=_FMT)
    for a in verb.args:
        p.add_argument(*a.flags, **a.options)
    if verb.output:
        _output_options(p, verb.output == "list")
    if verb.wait:
        _wait_options(p)
    if verb.connects:
        connection_options(p, suppress=True)
    p.set_defaults(run=verb.run, verb=verb.name)


def add_noun(sub: argparse._SubParsersAction, noun: Noun, cmd: str) -> argparse.ArgumentParser:
    p = sub.add_parser(noun.name, help=noun.help, description=f"{noun.help.capitalize()}.",
                       epilog=f"example:\n  {example(_showcase(noun), cmd)}",
                       formatter_class=_FMT)
    fill_verbs(p, noun, cmd)
    return p


def _showcase(noun: Noun) -> Verb:
    return next((v for v in noun.verbs if v.name == "list"), noun.verbs[0])


def fill_verbs(p: argparse.ArgumentParser, noun: Noun, cmd: str) -> None:
    verbs = p.add_subparsers(dest="verb_name", required=True, metavar="VERB")
    for verb in noun.verbs:
        add_verb(verbs, verb, cmd)


def classic_parser(noun: Noun) -> argparse.ArgumentParser:
    """``onevm VERB ...``: the same verbs, under OpenNebula's command name."""
    p = argparse.ArgumentParser(prog=noun.classic, formatter_class=_FMT,
                                description=f"{noun.help.capitalize()} (nubo's "
                                f"{noun.classic}, same as 'nubo {noun.name}').",
                                epilog=f"example:\n  {noun.classic} list")
    fill_verbs(p, noun, noun.classic)
    return p


def top_parser(nouns: Sequence[Noun | Entry], extra: Sequence[Verb],
               sched: bool = True) -> argparse.ArgumentParser:
    """``nouns`` loaded (with their verbs) or registry entries (listed, verbs not built);
    ``sched`` adds ``nubo sched`` (left out when the command is about a noun)."""
    p = argparse.ArgumentParser(
        prog="nubo", formatter_class=_FMT,
        description="nubo, a virtual infrastructure manager with an OpenNebula-compatible "
        "XML-RPC API. Every command is a client of that API: it works against any nubo, "
        "and against OpenNebula.",
        epilog="examples:\n  nubo vm list --filter STAT=runn\n  nubo vm deploy web-1 host-3 "
        "--wait\n  nubo host create host-3 --im dummy --vm dummy\n\n"
        "exit codes: 0 ok, 1 API error, 2 usage, 3 connection or authentication")
    connection_options(p, suppress=False)
    sub = p.add_subparsers(dest="noun_name", required=True, metavar="COMMAND")
    for noun in nouns:
        if isinstance(noun, Noun):
            add_noun(sub, noun, f"nubo {noun.name}")
        else:
            sub.add_parser(noun.name, help=noun.help)
    for verb in extra:
        add_verb(sub, verb, "nubo")
    if sched:
        _add_sched(sub)
    return p


def _add_sched(sub: argparse._SubParsersAction) -> None:
    """``nubo sched`` (the scheduler, nubo/sched/cli.py) brings its own parser, if present."""
    try:
        from nubo.sched import cli as sched_cli
    except ImportError:
        return
    sched_cli.add_parser(sub)
    sub.choices["sched"].set_defaults(run=lambda _ctx, args: sched_cli.run(args),
                                      verb="sched")


__all__ = ["FORMATS", "add_noun", "add_verb", "classic_parser", "connection_options",
           "top_parser"]
