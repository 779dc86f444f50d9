"""The images of a VM template, copied or deleted with it (one.template.clone and
one.template.delete with recursive = true, one.template.instantiate with persistent =
true), as oned's VMTemplateClone does: each image a DISK names is cloned as
"<new template>-disk-<n>" and the copy's DISK names the clone by IMAGE_ID; if one clone
fails, the clones made so far and the new template go, and the call fails saying why.
"""
from __future__ import annotations

import time
from dataclasses import replace

from sqlalchemy import Connection

from nubo.core import vm_resources
from nubo.core.ops import images
from nubo.core.ops.call import Call
from nubo.errors import ActionError, NuboError
from nubo.model.resources import IMAGE_ERROR, IMAGE_READY
from nubo.model.vm_template import reference
from nubo.template import Template, TemplateValueError

#: Seconds instantiate persistent waits for its images' copies before it gives up.
READY_TIMEOUT = 600.0


def disk_images(call: Call, conn: Connection, template: Template,
                owner: int) -> list[tuple[int, int]]:
    """(DISK index, image id) for each DISK of the template naming an existing image."""
    pools = call.cloud.pools
    found = []
    for index, disk in enumerate(template.get_vectors("DISK")):
        try:
            ref = reference(disk, "IMAGE")
        except TemplateValueError:
            continue
        if ref is None:
            continue
        if ref.oid is None and ref.uid is None and not ref.uname:
            ref = replace(ref, uid=owner)  # names resolve for the template's owner
        oid = vm_resources.resolve(conn, pools, pools.images, ref, call.uid)
        if oid is not None and pools.images.exists(conn, oid):
            found.append((index, oid))
    return found


def clone_images(call: Call, disks: list[tuple[int, int]], name: str,
                 persistent: bool) -> dict[int, int]:
    """Clone each DISK's image (persistent ones for instantiate persistent): DISK index ->
    the clone's id. On a failure the clones made so far are deleted and ActionError says
    why."""
    made: dict[int, int] = {}
    try:
        for n, (index, image_id) in enumerate(disks):
            made[index] = images.clone_image(call, image_id, f"{name}-disk-{n}", -1)
            if persistent:
                images.make_persistent(call, made[index], True)
    except NuboError as e:
        delete_images(call, list(made.values()))
        raise ActionError(f"Failed to clone images: {e.message}") from None
    return made


def point_disks(template: Template, clones: dict[int, int]) -> None:
    """Each cloned DISK names its clone by id alone."""
    for index, disk in enumerate(template.get_vectors("DISK")):
        if index in clones:
            for key in ("IMAGE", "IMAGE_UNAME", "IMAGE_UID"):
                disk.remove(key)
            disk.set("IMAGE_ID", str(clones[index]))


def delete_images(call: Call, image_ids: list[int]) -> list[int]:
    """Delete each image; the ids that could not be (in use...)."""
    failed = []
    for image_id in image_ids:
        try:
            images.delete_image(call, image_id)
        except NuboError:
            failed.append(image_id)
    return failed


def wait_ready(call: Call, image_ids: list[int], timeout: float = READY_TIMEOUT) -> None:
    """Wait until the images' copies are done (a VM takes READY images only); ActionError
    if one ends in ERROR or takes longer than ``timeout``."""
    deadline = time.monotonic() + timeout
    delay = 0.005
    pending = set(image_ids)
    while pending:
        with call.cloud.db.read() as conn:
            for image_id in list(pending):
                image = call.cloud.pools.images.find(conn, image_id)
                if image is None or image.state == IMAGE_ERROR:
                    why = "" if image is None else image.template.get("ERROR") or ""
                    raise ActionError(f"Failed to clone images: image {image_id}: {why}")
                if image.state == IMAGE_READY:
                    pending.discard(image_id)
        if pending:
            if time.monotonic() > deadline:
                raise ActionError("Failed to clone images: the copies did not finish in time")
            time.sleep(delay)
            delay = min(delay * 2, 0.2)
