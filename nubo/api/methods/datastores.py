"""one.datastore.* and one.datastorepool.info: where images and VM disks live.

The rules are the datastore operations' (nubo.core.ops.datastores); each method
binds its arguments, calls one and answers the datastore's id.
"""
from __future__ import annotations

from nubo.api.methods.generic import (register_chmod, register_chown, register_info,
                                      register_pool, register_rename, register_update)
from nubo.api.method_table import Bool, Int, Str, api
from nubo.core.ops import datastores as ops
from nubo.core.ops.clusters import DATASTORE
from nubo.core.ops.common import parse_template
from nubo.core.ops.call import Call
from nubo.model.limits import DATASTORE_NUMBERS


@api("one.datastore.allocate", Str("template"), Int("cluster_id", -1))
def datastore_allocate(call: Call, text: str, cluster_id: int) -> int:
    return ops.allocate_datastore(call, parse_template(text), cluster_id)


@api("one.datastore.delete", Int("id"))
def datastore_delete(call: Call, oid: int) -> int:
    ops.delete_datastore(call, oid)
    return oid


@api("one.datastore.enable", Int("id"), Bool("enable"))
def datastore_enable(call: Call, oid: int, enable: bool) -> int:
    ops.enable_datastore(call, oid, enable)
    return oid


register_info("datastore", DATASTORE)
register_update("datastore", DATASTORE, validate=ops.check_datastore_update,
                numbers=DATASTORE_NUMBERS)
register_rename("datastore", DATASTORE, after=ops.datastore_renamed)
register_chown("datastore", DATASTORE)
register_chmod("datastore", DATASTORE)
register_pool("datastorepool", DATASTORE, "DATASTORE_POOL", filtered=False)
