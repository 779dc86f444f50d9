"""The VMs using each image: one row per (image, VM), read into the image's body.

Taking an image for a VM inserts one row and giving it back deletes it, at a cost that
does not grow with the number of VMs using the image (a list in its body did: 80,000
image references made filling a cloud quadratic). The image row itself keeps only
what is its own (its state, USED or READY); every body the pool serves (one.image.info,
one.imagepool.info, the listing cache) has VMS and RUNNING_VMS spliced in from here
(nubo.model.image_vms_xml). Objects the pool parses hold the stored values (no VMS,
RUNNING_VMS 0): rules ask this table (``count``, ``used``), in their own transaction.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select
from sqlalchemy.exc import IntegrityError

from nubo.model import xmlobj
from nubo.model.image_vms_xml import with_vms
from nubo.model.resources import Image
from nubo.store.pools import Pool
from nubo.store.schema import image_vm

CHUNK = 500  # ids per IN (...)


def add(conn: Connection, image_id: int, vm_id: int) -> bool:
    """Count the VM among the image's; False if it already was (a second DISK of it)."""
    try:
        with conn.begin_nested():  # a failed INSERT must not abort the whole transaction
            conn.execute(insert(image_vm).values(image_id=image_id, vm_id=vm_id))
    except IntegrityError:
        return False
    return True


def remove(conn: Connection, image_id: int, vm_id: int) -> bool:
    """Stop counting the VM; False if it was not counted (given back already)."""
    t = image_vm
    return bool(conn.execute(delete(t).where(t.c.image_id == image_id,
                                             t.c.vm_id == vm_id)).rowcount)


def used(conn: Connection, image_id: int) -> bool:
    """Whether any VM uses the image (RUNNING_VMS > 0), found through the key's index."""
    t = image_vm
    return conn.execute(select(t.c.vm_id).where(t.c.image_id == image_id).limit(1)).first() \
        is not None


def count(conn: Connection, image_id: int) -> int:
    """The image's RUNNING_VMS."""
    t = image_vm
    return int(conn.execute(select(func.count()).select_from(t)
                            .where(t.c.image_id == image_id)).scalar_one())


def of_images(conn: Connection, image_ids: Iterable[int]) -> dict[int, list[int]]:
    """The VMs using each of ``image_ids`` that some VM uses, sorted."""
    t = image_vm
    ids = list(image_ids)
    out: dict[int, list[int]] = {}
    for start in range(0, len(ids), CHUNK):
        for image_id, vm_id in conn.execute(
                select(t.c.image_id, t.c.vm_id).where(t.c.image_id.in_(ids[start:start + CHUNK]))
                .order_by(t.c.image_id, t.c.vm_id)):
            out.setdefault(image_id, []).append(vm_id)
    return out


def spliced(conn: Connection, rows: list[tuple[int, str]]) -> list[str]:
    """The bodies of the (oid, stored body) rows of a listing, with their VMs."""
    found = of_images(conn, [oid for oid, _ in rows])
    return [with_vms(body, found.get(oid, [])) for oid, body in rows]


def drop(conn: Connection, image_id: int) -> None:
    """Forget the rows of a deleted image."""
    conn.execute(delete(image_vm).where(image_vm.c.image_id == image_id))


class ImagePool(Pool[Image]):
    """The image pool: it stores bodies without VMs and serves them with theirs."""

    def _row(self, obj: Image) -> dict[str, Any]:
        return super()._row(replace(obj, vms=[], running_vms=0))

    def body(self, conn: Connection, oid: int) -> str:
        body = super().body(conn, oid)
        return with_vms(body, of_images(conn, [oid]).get(oid, []))

    def get(self, conn: Connection, oid: int) -> Image:
        """The image as stored (its VMs are asked of the table, not of it)."""
        return xmlobj.parse(self.cls, super().body(conn, oid))

    def delete(self, conn: Connection, oid: int) -> None:
        super().delete(conn, oid)
        drop(conn, oid)
