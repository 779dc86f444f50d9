"""one.image.* and one.imagepool.info: disk images registered in image and file datastores.

The rules are the image operations' (nubo.core.ops.images); each method binds its
arguments, calls one and answers the image's id.
"""
from __future__ import annotations

from nubo.api.methods.generic import register_standard
from nubo.api.method_table import Bool, Int, Str, api
from nubo.core.ops import images as ops
from nubo.core.ops.common import parse_template
from nubo.core.ops.call import Call
from nubo.core.ops.images import IMAGE  # noqa: F401 (still imported from here by VMs)
from nubo.core.ops.restricted_checks import image_restricted
from nubo.model.limits import IMAGE_NUMBERS


@api("one.image.allocate", Str("template"), Int("ds_id"), Bool("no_capacity_check", False))
def image_allocate(call: Call, text: str, ds_id: int, no_capacity_check: bool) -> int:
    return ops.allocate_image(call, parse_template(text), ds_id, no_capacity_check)


@api("one.image.clone", Int("id"), Str("name"), Int("ds_id", -1))
def image_clone(call: Call, oid: int, name: str, ds_id: int) -> int:
    return ops.clone_image(call, oid, name, ds_id)


@api("one.image.delete", Int("id"), Bool("force", False))
def image_delete(call: Call, oid: int, force: bool) -> int:
    ops.delete_image(call, oid, force)
    return oid


@api("one.image.enable", Int("id"), Bool("enable"))
def image_enable(call: Call, oid: int, enable: bool) -> int:
    ops.enable_image(call, oid, enable)
    return oid


@api("one.image.persistent", Int("id"), Bool("persistent"))
def image_persistent(call: Call, oid: int, persistent: bool) -> int:
    ops.make_persistent(call, oid, persistent)
    return oid


@api("one.image.chtype", Int("id"), Str("type"))
def image_chtype(call: Call, oid: int, type_name: str) -> int:
    ops.change_type(call, oid, type_name)
    return oid


@api("one.image.snapshotdelete", Int("id"), Int("snap_id"))
def image_snapshot_delete(call: Call, oid: int, snap_id: int) -> int:
    ops.snapshot_image(call, oid, snap_id, "delete")
    return snap_id


@api("one.image.snapshotrevert", Int("id"), Int("snap_id"))
def image_snapshot_revert(call: Call, oid: int, snap_id: int) -> int:
    ops.snapshot_image(call, oid, snap_id, "revert")
    return snap_id


@api("one.image.snapshotflatten", Int("id"), Int("snap_id"))
def image_snapshot_flatten(call: Call, oid: int, snap_id: int) -> int:
    ops.snapshot_image(call, oid, snap_id, "flatten")
    return snap_id


register_standard("image", IMAGE, pool_root="IMAGE_POOL",
                  restricted=lambda call, _image: image_restricted(call), numbers=IMAGE_NUMBERS)
