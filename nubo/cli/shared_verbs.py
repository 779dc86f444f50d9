"""Verbs every object family shares: list, show, update, rename, chown, chgrp, chmod,
delete, lock and unlock. A family's module picks the ones its API has."""
from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from lxml import etree

from nubo.cli import formats, show
from nubo.cli.context import Context
from nubo.cli.error_output import CliError, UsageError
from nubo.cli.kinds import CLUSTER, GROUP, USER, Kind
from nubo.cli.live import watch
from nubo.cli.tables import Column, TableOptions
from nubo.cli.tables import render as render_table
from nubo.cli.verbs import Verb, arg, flag, ref, refs

Element = etree._Element


# -- output --------------------------------------------------------------------------------
def table_options(ctx: Context, args: argparse.Namespace) -> TableOptions:
    return TableOptions(columns=args.list.split(",") if args.list else None,
                        filters=args.filter or [], sort=args.sort, csv=args.csv,
                        header=not args.no_header, width=None if args.csv else ctx.width,
                        colour=ctx.colour and not args.csv)


def pool_text(ctx: Context, args: argparse.Namespace, pool: Element, kind: Kind,
              columns: Sequence[Column]) -> str:
    if args.format:
        return formats.render(pool, args.format)
    return render_table(list(pool.iterfind(kind.tag)), columns, table_options(ctx, args))


def emit_object(ctx: Context, args: argparse.Namespace, el: Element,
                sections: show.Sections) -> None:
    if args.format:
        ctx.out(formats.render(el, args.format))
    else:
        ctx.out(show.render(sections(el), ctx.colour))


_OWNER_FILTERS = {"a": -2, "all": -2, "m": -3, "mine": -3, "g": -1, "group": -1,
                  "G": -4, "primary": -4}


def owner_filter(ctx: Context, text: str | None) -> int:
    """OpenNebula's list filter: a(ll), m(ine), g(roup: mine and my groups'), G (primary
    group), or a user's id or name; the API's filter flag."""
    if not text:
        return -2
    if text in _OWNER_FILTERS:
        return _OWNER_FILTERS[text]
    return ctx.resolve.one(USER, text)


def list_verb(kind: Kind, columns: Sequence[Column], example: str = "{cmd} list") -> Verb:
    """``list [FILTER]``: the pool as a table (or -x/-j/--yaml), once or --watch.

    Pools of owned objects (whose pool call takes a filter flag) take OpenNebula's
    optional owner FILTER.
    """
    owned_pool = len(kind.pool_args) >= 3

    def fetch(ctx: Context, a: argparse.Namespace) -> Element:
        if owned_pool:
            flag_ = owner_filter(ctx, a.owner_filter)
            return ctx.conn.xml(kind.pool, flag_, *kind.pool_args[1:])
        return ctx.conn.xml(kind.pool, *kind.pool_args)
    args = (arg("owner_filter", nargs="?", metavar="FILTER",
                help="a (all, default), m (mine), g (mine and my groups'), G (my primary "
                "group), or a user"),) if owned_pool else ()

    def run(ctx: Context, a: argparse.Namespace) -> None:
        def frame() -> str:
            return pool_text(ctx, a, fetch(ctx, a), kind, columns)
        if a.watch:
            watch(ctx, frame, a.delay, a.count)
        else:
            ctx.out(frame())
    return Verb("list", f"list the {kind.label}s as a table", example, run, args,
                output="list")


def show_verb(kind: Kind, sections: show.Sections, example: str = "{cmd} show 3") -> Verb:
    def run(ctx: Context, a: argparse.Namespace) -> None:
        oid = ctx.resolve.one(kind, a.id)
        emit_object(ctx, a, ctx.conn.xml(kind.method("info"), oid), sections)
    return Verb("show", f"show a {kind.label} in sections (or -x/-j/--yaml)", example, run,
                (ref("id", kind.label),), output="show")


# -- files and the editor ---------------------------------------------------------------------
def read_file(path: str) -> str:
    """A template file's text ("-" is stdin); a clear error when it cannot be read."""
    if path == "-":
        return sys.stdin.read()
    try:
        return Path(path).read_text()
    except OSError as e:
        raise UsageError(f"cannot read {path}: {e.strerror}") from None
    except UnicodeDecodeError as e:
        raise UsageError(f"{path} is not UTF-8 text (byte {e.start})") from None


def edit(text: str, what: str) -> str | None:
    """Open $VISUAL/$EDITOR on ``text``; the edited text, or None if unchanged."""
    editor = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
    with tempfile.NamedTemporaryFile("w", suffix=".tmpl", prefix="nubo-", delete=False) as f:
        f.write(text)
        path = f.name
    try:
        try:
            rc = subprocess.call([*shlex.split(editor), path])
        except OSError as e:
            raise UsageError(f"cannot run the editor '{editor}': {e.strerror} "
                             "(set EDITOR, or give a file)") from None
        if rc != 0:
            raise CliError(f"the editor exited with status {rc}: {what} left unchanged")
        new = Path(path).read_text()
    finally:
        os.unlink(path)
    return None if new == text else new


def update_verb(kind: Kind, method: str = "update", path: str = "TEMPLATE",
                name: str = "update", what: str = "template") -> Verb:
    """``update ID [FILE] [--append]``: replace (or merge) a template; no FILE opens $EDITOR."""
    def run(ctx: Context, a: argparse.Namespace) -> None:
        oid = ctx.resolve.one(kind, a.id)
        if a.file:
            new = read_file(a.file)
        else:
            current = show.template_text(ctx.conn.xml(kind.method("info"), oid).find(path))
            new = edit(current, f"{kind.label} {oid}")
            if new is None:
                ctx.note(f"{kind.label} {oid}: no changes")
                return
        ctx.conn.call(kind.method(method), oid, new, 1 if a.append else 0)
    return Verb(name, f"change a {kind.label}'s {what} (opens $EDITOR without FILE)",
                f"{{cmd}} {name} 3 changes.tmpl --append", run,
                (ref("id", kind.label), arg("file", nargs="?", metavar="FILE",
                                            help="template file ('-' for stdin)"),
                 flag("-a", "--append", help="merge into the template instead of replacing it")))


# -- one call per id -------------------------------------------------------------------------
def each(kind: Kind, call: Callable[[Context, argparse.Namespace, int], None]) \
        -> Callable[[Context, argparse.Namespace], int | None]:
    """Run ``call`` for every id of ``args.ids``; one failure does not stop the others."""
    def run(ctx: Context, a: argparse.Namespace) -> int | None:
        ids = ctx.resolve.many(kind, a.ids)
        failed: list[CliError] = []
        for oid in ids:
            try:
                call(ctx, a, oid)
            except CliError as e:
                if len(ids) == 1 or e.exit_code != 1:
                    raise
                ctx.stderr.write(f"{kind.label} {oid}: {e.message}\n")
                failed.append(e)
        if failed:
            raise CliError(f"{len(failed)} of {len(ids)} {kind.label}s failed")
        return None
    return run


def simple(kind: Kind, name: str, help: str, method: str, *extra: object,  # noqa: A002
           example: str = "", args: tuple = ()) -> Verb:
    """A verb that calls ``one.<prefix>.<method>(id, *extra)`` for every id."""
    def call(ctx: Context, a: argparse.Namespace, oid: int) -> None:
        ctx.conn.call(kind.method(method), oid, *extra)
        ctx.note(f"{kind.label} {oid}: {name}")
    return Verb(name, help, example or f"{{cmd}} {name} 3,5", each(kind, call),
                (refs(f"{kind.label}s"), *args))


def rename_verb(kind: Kind) -> Verb:
    def run(ctx: Context, a: argparse.Namespace) -> None:
        ctx.conn.call(kind.method("rename"), ctx.resolve.one(kind, a.id), a.name)
    return Verb("rename", f"rename a {kind.label}", "{cmd} rename 3 web-2", run,
                (ref("id", kind.label), arg("name", help="the new name")))


def _owner(ctx: Context, a: argparse.Namespace) -> tuple[int, int]:
    uid = ctx.resolve.one(USER, a.owner) if getattr(a, "owner", None) else -1
    gid = ctx.resolve.one(GROUP, a.group) if getattr(a, "group", None) else -1
    return uid, gid


def chown_verb(kind: Kind) -> Verb:
    def call(ctx: Context, a: argparse.Namespace, oid: int) -> None:
        ctx.conn.call(kind.method("chown"), oid, *_owner(ctx, a))
    return Verb("chown", f"change the owner (and group) of {kind.label}s",
                "{cmd} chown 3,5 alice users", each(kind, call),
                (refs(f"{kind.label}s"), arg("owner", metavar="USER", help="new owner"),
                 arg("group", nargs="?", metavar="GROUP", help="new group")))


def chgrp_verb(kind: Kind) -> Verb:
    def call(ctx: Context, a: argparse.Namespace, oid: int) -> None:
        ctx.conn.call(kind.method("chown"), oid, *_owner(ctx, a))
    return Verb("chgrp", f"change the group of {kind.label}s", "{cmd} chgrp 3,5 users",
                each(kind, call), (refs(f"{kind.label}s"), arg("group", help="new group")))


def octal_bits(mode: str) -> list[int]:
    """``"640"`` -> the nine use/manage/admin bits one.*.chmod takes (pure)."""
    if len(mode) != 3 or any(ch not in "01234567" for ch in mode):
        raise UsageError(f"bad mode '{mode}': three octal digits (owner, group, other), e.g. 640")
    return [(int(d) >> shift) & 1 for d in mode for shift in (2, 1, 0)]


def chmod_verb(kind: Kind, recursive: bool = False) -> Verb:
    def call(ctx: Context, a: argparse.Namespace, oid: int) -> None:
        extra = (a.recursive,) if recursive else ()
        ctx.conn.call(kind.method("chmod"), oid, *octal_bits(a.mode), *extra)
    more = (flag("--recursive", help="also the template's images"),) if recursive else ()
    return Verb("chmod", f"change the permissions of {kind.label}s (octal: use, manage, "
                "admin bits for owner, group, other)", "{cmd} chmod 3,5 640", each(kind, call),
                (refs(f"{kind.label}s"), arg("mode", help="octal, e.g. 640"), *more))


def delete_verb(kind: Kind, *extra: tuple[str, str], method: str = "delete") -> Verb:
    """``delete RANGE``; ``extra`` are (flag, help) booleans passed on to one.*.delete."""
    def call(ctx: Context, a: argparse.Namespace, oid: int) -> None:
        values = [getattr(a, f.lstrip("-").replace("-", "_")) for f, _ in extra]
        ctx.conn.call(kind.method(method), oid, *values)
        ctx.note(f"{kind.label} {oid}: deleted")
    return Verb("delete", f"delete {kind.label}s", "{cmd} delete 3,5-7", each(kind, call),
                (refs(f"{kind.label}s"), *(flag(f, help=h) for f, h in extra)))


_LEVELS = {"use": 1, "manage": 2, "admin": 3, "all": 4}


def lock_verbs(kind: Kind) -> tuple[Verb, Verb]:
    def lock(ctx: Context, a: argparse.Namespace, oid: int) -> None:
        ctx.conn.call(kind.method("lock"), oid, _LEVELS[a.level], False)
    return (Verb("lock", f"lock {kind.label}s against changes", "{cmd} lock 3 --level manage",
                 each(kind, lock),
                 (refs(f"{kind.label}s"), arg("--level", choices=tuple(_LEVELS), default="all",
                                               help="what to lock (default: all)"))),
            simple(kind, "unlock", f"unlock {kind.label}s", "unlock"))


def owned(kind: Kind, recursive_chmod: bool = False) -> tuple[Verb, ...]:
    """rename, chown, chgrp, chmod: the verbs of objects with an owner and permissions."""
    return (rename_verb(kind), chown_verb(kind), chgrp_verb(kind),
            chmod_verb(kind, recursive_chmod))


def create_from_file(kind: Kind, method: str = "allocate", *, cluster: bool = False,
                     example: str = "{cmd} create new.tmpl") -> Verb:
    """``create FILE`` for objects defined only by a template (datastores, hooks...)."""
    def run(ctx: Context, a: argparse.Namespace) -> None:
        extra = (ctx.resolve.one(CLUSTER, a.cluster) if a.cluster else -1,) if cluster else ()
        ctx.created(ctx.conn.call(kind.method(method), read_file(a.file), *extra))
    more = (arg("-c", "--cluster", help="the cluster to add it to"),) if cluster else ()
    return Verb("create", f"create a {kind.label} from a template file", example, run,
                (arg("file", metavar="FILE", help="template file ('-' for stdin)"), *more))

