"""Tables whose bodies are served with member lists kept in tables of their own.

The VMs using an image (nubo.store.image_vms) or a security group
(nubo.store.secgroup_vms) are rows, not lists in the body; a listing of such a table
splices them into each body it reads, beside it, at its version (a change of members
also stores the object, so the version moves).
"""
from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Connection, Table

from nubo.store import image_vms, secgroup_vms
from nubo.store.schema import image_pool, secgroup_pool

#: (oid, stored body) rows -> the bodies as served, in the same order.
Splice = Callable[[Connection, list[tuple[int, str]]], list[str]]

SPLICED: dict[str, Splice] = {image_pool.name: image_vms.spliced,
                              secgroup_pool.name: secgroup_vms.spliced}


def splicer(table: Table) -> Splice | None:
    return SPLICED.get(table.name)
