"""``nubo vnet`` / ``onevnet``: virtual networks, address ranges and leases."""
from __future__ import annotations

import argparse

from lxml import etree

from nubo.cli.shared_verbs import (create_from_file, delete_verb, list_verb, lock_verbs, owned,
                             read_file, show_verb, update_verb)
from nubo.cli.context import Context
from nubo.cli.error_output import UsageError
from nubo.cli.kinds import VNET
from nubo.cli.show import GROUP, ID, NAME, USER, Section, col, owner_rows, permissions, table, \
    template, text
from nubo.cli.tables import Column
from nubo.cli.verbs import Noun, Verb, arg, flag, ref
from nubo.model.resources import VNET_RECOVER_OPERATIONS, VNET_STATE_NAMES

Element = etree._Element


def _leases(e: Element) -> int:
    try:
        return int(text(e, "USED_LEASES", "0") or 0)
    except ValueError:
        return 0


COLUMNS = (
    ID, USER, GROUP, NAME,
    Column("CLUSTERS", lambda e: ",".join(i.text or "" for i in e.findall("CLUSTERS/ID"))),
    col("BRIDGE", "BRIDGE", shrink=True),
    Column("LEASES", lambda e: str(_leases(e)), key=_leases, right=True),
    col("VN_MAD", "VN_MAD", hidden=True),
)

_ARS = (col("AR", "AR_ID", right=True), col("TYPE", "TYPE"), col("SIZE", "SIZE", right=True),
        col("USED", "USED_LEASES", right=True), col("IP", "IP"), col("IP_END", "IP_END"),
        col("MAC", "MAC"))
_LEASE_COLS = (col("AR", "AR_ID", right=True), col("VM", "VM", right=True), col("IP", "IP"),
               col("MAC", "MAC"))


def _all_leases(el: Element) -> list[Element]:
    out = []
    for ar in el.findall("AR_POOL/AR"):
        for lease in ar.findall("LEASES/LEASE"):
            copy = etree.fromstring(etree.tostring(lease))
            etree.SubElement(copy, "AR_ID").text = text(ar, "AR_ID")
            out.append(copy)
    return out


def sections(el: Element) -> list[Section]:
    nid = text(el, "ID")
    return [
        Section(f"VIRTUAL NETWORK {nid} INFORMATION", [
            ("ID", nid), ("NAME", text(el, "NAME")), *owner_rows(el),
            ("CLUSTERS", ",".join(i.text or "" for i in el.findall("CLUSTERS/ID"))),
            ("BRIDGE", text(el, "BRIDGE")), ("VN_MAD", text(el, "VN_MAD")),
            ("STATE", _state(el)),
            ("PARENT NETWORK", text(el, "PARENT_NETWORK_ID") or "-"),
            ("USED LEASES", text(el, "USED_LEASES", "0"))]),
        permissions(el),
        template(el, "TEMPLATE", "VIRTUAL NETWORK TEMPLATE"),
        table("ADDRESS RANGE POOL", el.findall("AR_POOL/AR"), _ARS),
        table("LEASES", _all_leases(el), _LEASE_COLS),
    ]


def _state(el: Element) -> str:
    value = text(el, "STATE", "")
    return (VNET_STATE_NAMES[int(value)] if value.isdigit() and int(value) < len(
        VNET_STATE_NAMES) else value)


_RECOVER = VNET_RECOVER_OPERATIONS


def _recover(ctx: Context, a: argparse.Namespace) -> None:
    chosen = [k for k in _RECOVER if getattr(a, k)]
    if len(chosen) != 1:
        raise UsageError("recover needs exactly one of --failure, --success, --delete, --retry")
    ctx.conn.call("one.vn.recover", ctx.resolve.one(VNET, a.id), _RECOVER[chosen[0]])


def _addar(ctx: Context, a: argparse.Namespace) -> None:
    if a.file:
        body = read_file(a.file)
    else:
        if not a.size or not (a.ip or a.mac or a.ip6):
            raise UsageError("addar needs a FILE, or --size and one of --ip, --ip6, --mac")
        kind = "IP4_6" if a.ip and a.ip6 else "IP4" if a.ip else "IP6" if a.ip6 else "ETHER"
        parts = [f"TYPE={kind}", f"SIZE={a.size}"]
        parts += [f"{k}={v}" for k, v in (("IP", a.ip), ("MAC", a.mac), ("GLOBAL_PREFIX", a.ip6))
                  if v]
        body = "AR=[" + ", ".join(parts) + "]"
    ctx.conn.call("one.vn.add_ar", ctx.resolve.one(VNET, a.id), body)


def _rmar(ctx: Context, a: argparse.Namespace) -> None:
    ctx.conn.call("one.vn.rm_ar", ctx.resolve.one(VNET, a.id), a.ar_id, a.force)


def _lease(method: str) -> Verb:
    def run(ctx: Context, a: argparse.Namespace) -> None:
        ar = f", AR_ID={a.address_range}" if a.address_range is not None else ""
        ctx.conn.call(f"one.vn.{method}", ctx.resolve.one(VNET, a.id),
                      f"LEASES=[IP={a.ip}{ar}]")
    what = "hold an address: no VM gets it" if method == "hold" else "release a held address"
    return Verb(method, what, f"{{cmd}} {method} private 10.0.0.5", run,
                (ref("id", "virtual network"), arg("ip", metavar="IP", help="the address"),
                 arg("-a", "--address-range", type=int, metavar="AR_ID",
                     help="the address range holding it")))


def _reserve(ctx: Context, a: argparse.Namespace) -> None:
    parts = [f"SIZE={a.size}"]
    if a.name:
        parts.append(f'NAME="{a.name}"')
    if a.address_range is not None:
        parts.append(f"AR_ID={a.address_range}")
    if a.addr:
        parts.append(f"IP={a.addr}")
    if a.vnet:
        parts.append(f"NETWORK_ID={ctx.resolve.one(VNET, a.vnet)}")
    ctx.created(ctx.conn.call("one.vn.reserve", ctx.resolve.one(VNET, a.id), "\n".join(parts)))


NOUN = Noun("vnet", VNET, (
    create_from_file(VNET, cluster=True, example="{cmd} create private.net -c production"),
    list_verb(VNET, COLUMNS), show_verb(VNET, sections),
    update_verb(VNET), *owned(VNET), delete_verb(VNET), *lock_verbs(VNET),
    Verb("addar", "add an address range", "{cmd} addar private --ip 10.0.0.1 --size 100",
         _addar, (ref("id", "virtual network"),
                  arg("file", nargs="?", metavar="FILE", help="a file with AR=[...]"),
                  arg("-s", "--size", type=int, help="how many addresses"),
                  arg("-i", "--ip", help="first IPv4 address"),
                  arg("-m", "--mac", help="first MAC address"),
                  arg("--ip6", help="IPv6 global prefix"))),
    Verb("rmar", "remove an address range", "{cmd} rmar private 1", _rmar,
         (ref("id", "virtual network"), arg("ar_id", type=int, metavar="AR_ID",
                                            help="the address range's id"),
          flag("--force", help="even if it has leases"))),
    _lease("hold"), _lease("release"),
    Verb("recover", "force a network out of a stuck or failed state",
         "{cmd} recover private --success", _recover,
         (ref("id", "virtual network"), *(flag(f"--{k}", help=f"recover {k}")
                                          for k in _RECOVER))),
    Verb("reserve", "reserve addresses into a new (or existing) network",
         "{cmd} reserve private mine --size 10", _reserve,
         (ref("id", "virtual network"), arg("name", nargs="?", help="the reservation's name"),
          arg("-s", "--size", type=int, required=True, help="how many addresses"),
          arg("-a", "--address-range", type=int, metavar="AR_ID", help="from this range"),
          arg("--addr", metavar="IP", help="starting at this address"),
          arg("--vnet", help="add to this existing reservation"))),
))
