"""one.hook.*, one.hookpool.info and one.hooklog.info: hooks and their execution log
(nubo.core.ops.hooks).

REMOTE state hooks run on the host through ``hook_remote_command`` (ssh by default).
"""
from __future__ import annotations

from nubo.api.methods.listing_wire import wire_pool_xml
from nubo.api.methods.generic import register_lock, register_rename
from nubo.api.method_table import METHODS, Bool, Int, Str, api
from nubo.core.ops import hooks as ops
from nubo.core.ops.call import Call
from nubo.core.ops.hooks import HOOK, HOOKS
from nubo.store.schema import hook_pool


@api("one.hook.allocate", Str("template"))
def hook_allocate(call: Call, text: str) -> int:
    return ops.allocate(call, text, METHODS)


@api("one.hook.info", Int("id"), Bool("decrypt", False))
def hook_info(call: Call, oid: int, _decrypt: bool) -> str:
    body, records = ops.info(call, oid)
    return body[:-len("</HOOK>")] + "<HOOKLOG>" + "".join(records) + "</HOOKLOG></HOOK>"


@api("one.hook.update", Int("id"), Str("template"), Int("type", 0))
def hook_update(call: Call, oid: int, text: str, update_type: int) -> int:
    return ops.update(call, oid, text, update_type, METHODS)


@api("one.hook.delete", Int("id"))
def hook_delete(call: Call, oid: int) -> int:
    return ops.delete_hook(call, oid)


@api("one.hook.retry", Int("id"), Int("exec_id"))
def hook_retry(call: Call, oid: int, exec_id: int) -> int:
    """Run a logged execution again, with the same (expanded) arguments."""
    return ops.retry(call, oid, exec_id)


@api("one.hookpool.info", Int("filter", -2), Int("start", -1), Int("end", -1))
def hookpool_info(call: Call, _flag: int, start: int, end: int) -> str:
    return wire_pool_xml(call, "HOOK_POOL", hook_pool, ops.pool_where(call, start, end))


@api("one.hooklog.info", Int("min_ts", 0), Int("max_ts", 0), Int("hook_id", -1),
     Int("rc_filter", 0))
def hooklog_info(call: Call, min_ts: int, max_ts: int, hook_id: int, rc: int) -> str:
    return "<HOOKLOG>" + "".join(ops.log(call, min_ts, max_ts, hook_id, rc)) + "</HOOKLOG>"


register_rename("hook", HOOK)
register_lock("hook", HOOK)

__all__ = ["HOOKS", "HOOK"]
