"""``nubo image`` / ``oneimage``: disk images in image datastores."""
from __future__ import annotations

import argparse

from lxml import etree

from nubo.cli import units
from nubo.cli.build import DESCRIPTION, FILE, memory_mb, parse_file
from nubo.cli.shared_verbs import (delete_verb, list_verb, lock_verbs, owned, read_file, show_verb,
                             simple, update_verb)
from nubo.cli.context import Context
from nubo.cli.error_output import UsageError
from nubo.cli.kinds import DATASTORE, IMAGE
from nubo.cli.show import GROUP, ID, NAME, USER, Section, owner_rows, permissions, state_colour, \
    template, text
from nubo.cli.tables import Column
from nubo.cli.verbs import Noun, Verb, arg, flag, ref

Element = etree._Element

# Image::ImageType, ImageState and the OCA's short names.
TYPES = ("OS", "CDROM", "DATABLOCK", "KERNEL", "RAMDISK", "CONTEXT")
SHORT_TYPES = ("OS", "CD", "DB", "KL", "RD", "CX")
STATES = ("INIT", "READY", "USED", "DISABLED", "LOCKED", "ERROR", "CLONE", "DELETE",
          "USED_PERS", "LOCKED_USED", "LOCKED_USED_PERS")
SHORT = ("init", "rdy", "used", "disa", "lock", "err", "clon", "dele", "used", "lock", "lock")


def _pick(names: tuple[str, ...], el: Element, path: str) -> str:
    try:
        return names[int(text(el, path, "0"))]
    except (ValueError, IndexError):
        return text(el, path)


COLUMNS = (
    ID, USER, GROUP, NAME, Column("DATASTORE", lambda e: text(e, "DATASTORE"), shrink=True),
    Column("SIZE", lambda e: units.size(text(e, "SIZE", "0") or "0", "M"),
           key=lambda e: float(text(e, "SIZE", "0") or 0) * 1024, right=True),
    Column("TYPE", lambda e: _pick(SHORT_TYPES, e, "TYPE")),
    Column("PER", lambda e: "Yes" if text(e, "PERSISTENT") == "1" else "No"),
    Column("STAT", lambda e: _pick(SHORT, e, "STATE"), colour=state_colour),
    Column("RVMS", lambda e: text(e, "RUNNING_VMS", "0"), right=True),
)


def sections(el: Element) -> list[Section]:
    iid = text(el, "ID")
    return [
        Section(f"IMAGE {iid} INFORMATION", [
            ("ID", iid), ("NAME", text(el, "NAME")), *owner_rows(el),
            ("DATASTORE", text(el, "DATASTORE")), ("TYPE", _pick(TYPES, el, "TYPE")),
            ("REGISTER TIME", units.date(text(el, "REGTIME", "0"))),
            ("PERSISTENT", "Yes" if text(el, "PERSISTENT") == "1" else "No"),
            ("SOURCE", text(el, "SOURCE")), ("PATH", text(el, "PATH")),
            ("SIZE", units.size(text(el, "SIZE", "0") or "0", "M")),
            ("STATE", _pick(STATES, el, "STATE")), ("RUNNING_VMS", text(el, "RUNNING_VMS"))]),
        permissions(el),
        template(el, "TEMPLATE", "IMAGE TEMPLATE"),
        Section("VIRTUAL MACHINES", [("IDS", ", ".join(i.text or "" for i in
                                                      el.findall("VMS/ID")))]
                if el.findall("VMS/ID") else []),
    ]


def _create(ctx: Context, a: argparse.Namespace) -> None:
    tmpl = parse_file(a.file, read_file(a.file) if a.file else None)
    for name, value in (("NAME", a.name), ("TYPE", a.type and a.type.upper()),
                        ("SIZE", a.size and memory_mb(a.size, "--size")), ("PATH", a.path),
                        ("DESCRIPTION", a.description), ("DEV_PREFIX", a.prefix),
                        ("FORMAT", a.format), ("PERSISTENT", "YES" if a.persistent else None)):
        if value:
            tmpl.set(name, value)
    if "NAME" not in tmpl:
        raise UsageError("an image needs a name: --name or NAME in the file")
    ds = ctx.resolve.one(DATASTORE, a.datastore)
    ctx.created(ctx.conn.call("one.image.allocate", tmpl.render(), ds, a.no_check_capacity))


def _clone(ctx: Context, a: argparse.Namespace) -> None:
    ds = ctx.resolve.one(DATASTORE, a.datastore) if a.datastore else -1
    ctx.created(ctx.conn.call("one.image.clone", ctx.resolve.one(IMAGE, a.id), a.name, ds))


def _chtype(ctx: Context, a: argparse.Namespace) -> None:
    ctx.conn.call("one.image.chtype", ctx.resolve.one(IMAGE, a.id), a.type.upper())


def _snapshot_verb(what: str, help: str) -> Verb:  # noqa: A002
    """oneimage snapshot-delete/-revert/-flatten IMAGE SNAPSHOT_ID."""
    def run(ctx: Context, a: argparse.Namespace) -> None:
        ctx.conn.call(f"one.image.snapshot{what}", ctx.resolve.one(IMAGE, a.id), a.snapshot)
    return Verb(f"snapshot-{what}", help, f"{{cmd}} snapshot-{what} 3 0", run,
                (ref("id", "image"), arg("snapshot", type=int, help="the snapshot's id")))


NOUN = Noun("image", IMAGE, (
    Verb("create", "register an image in a datastore",
         "{cmd} create --name data --type DATABLOCK --size 10G -d default", _create,
         (FILE, arg("-d", "--datastore", required=True, help="the image datastore (id or name)"),
          arg("--name", help="the image's name"),
          arg("--type", type=str.upper, choices=TYPES, help="OS, CDROM, DATABLOCK, ..."),
          arg("--size", help="size of a DATABLOCK: 100 (MB), 100M, 10G"),
          arg("--path", help="where to copy it from (file or URL)"),
          DESCRIPTION, arg("--prefix", help="device prefix: hd, sd, vd"),
          arg("--format", help="disk format, e.g. raw, qcow2"),
          flag("--persistent", help="the image is persistent"),
          flag("--no-check-capacity", help="do not check the datastore's free space"))),
    list_verb(IMAGE, COLUMNS), show_verb(IMAGE, sections),
    update_verb(IMAGE), *owned(IMAGE),
    delete_verb(IMAGE, ("--force", "delete even if it has snapshots or is in use")),
    *lock_verbs(IMAGE),
    simple(IMAGE, "enable", "enable images", "enable", True),
    simple(IMAGE, "disable", "disable images: no new VMs may use them", "enable", False),
    simple(IMAGE, "persistent", "make images persistent", "persistent", True),
    simple(IMAGE, "nonpersistent", "make images non-persistent", "persistent", False),
    Verb("clone", "copy an image", "{cmd} clone ubuntu ubuntu-copy -d default", _clone,
         (ref("id", "image"), arg("name", help="the copy's name"),
          arg("-d", "--datastore", help="the datastore of the copy (default: the same)"))),
    Verb("chtype", "change an image's type", "{cmd} chtype 3 DATABLOCK", _chtype,
         (ref("id", "image"), arg("type", type=str.upper, choices=TYPES, help="the new type"))),
    _snapshot_verb("delete", "delete a snapshot of a (qcow2) image"),
    _snapshot_verb("revert", "make a snapshot the image's current state"),
    _snapshot_verb("flatten", "make a snapshot the whole image, its snapshots gone"),
))
