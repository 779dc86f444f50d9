"""one.hook.*, one.hookpool.info and one.hooklog.info: hooks and their execution log.

Hooks run commands on the front-end as nubo's user, so every method here is for
the oneadmin group (or an ACL rule on HOOK), as in OpenNebula. A hook's template
is checked on allocate and update (nubo.model.hook.check); REMOTE state hooks
run on the host through ``hook_remote_command`` (ssh by default). Every change tells the hook manager to reload its cached table.
"""
from __future__ import annotations

from lxml import etree
from sqlalchemy import delete, select

from nubo import hooks as hook_points
from nubo.core.ops.common import (Kind, check_lock, check_name, fetch, parse_template,
                                     updated_template)
from nubo.api.methods.filters import wire_pool_xml
from nubo.api.methods.generic import register_lock, register_rename
from nubo.api.registry import Bool, Int, Str, api
from nubo.core.ops.context import Call
from nubo.auth import acl as A
from nubo.auth.acl import ObjectType
from nubo.errors import AllocateError, ApiError, AuthorizationError, NoExistsError
from nubo.model.hook import Hook, check, spec_of
from nubo.store.pools import Pool
from nubo.store.schema import hook_log, hook_pool

HOOKS: Pool[Hook] = Pool(hook_pool, Hook, "hook", lambda h: {"type": h.type})
HOOK = Kind(lambda c: HOOKS, ObjectType.HOOK, "HOOK", owned=False, unique_per_owner=False)


def _admin(call: Call, op: int = A.MANAGE) -> None:
    """Creating or listing hooks: oneadmin's group (or an ACL rule on all HOOKs)."""
    if call.session.is_admin:
        return
    if not call.cloud.acl_index().reverse_search(call.session.requester, ObjectType.HOOK,
                                                 op).all:
        what = "CREATE" if op == A.CREATE else "MANAGE"
        raise AuthorizationError(
            f"User [{call.uid}] : Not authorized to perform {what} HOOK.")


def _changed(call: Call) -> None:
    hook_points.manager(call.cloud).invalidate()


@api("one.hook.allocate", Str("template"))
def hook_allocate(call: Call, text: str) -> int:
    body = parse_template(text)
    name = body.get("NAME")
    name = check_name(name.strip() if isinstance(name, str) else "")
    spec = check(name, body.get("TYPE") or "", body)
    _admin(call, A.CREATE)
    with call.cloud.db.write() as conn:
        taken = HOOKS.oid_by_name(conn, name)
        if taken is not None:
            raise AllocateError(f"NAME is already taken by HOOK {taken}.", taken)
        hook = Hook(HOOKS.next_oid(conn), name, spec.type, None, spec.template)
        HOOKS.insert(conn, hook)
        conn.execute(hook_pool.update().where(hook_pool.c.oid == hook.id)
                     .values(timeout=spec.timeout))
    _changed(call)
    return hook.id


def _log_rows(conn, where) -> list[str]:
    return [r.body for r in conn.execute(select(hook_log.c.body).where(*where)
                                         .order_by(hook_log.c.hook_id, hook_log.c.exec_id))]


@api("one.hook.info", Int("id"), Bool("decrypt", False))
def hook_info(call: Call, oid: int, _decrypt: bool) -> str:
    with call.cloud.db.read() as conn:
        hook = fetch(call, conn, HOOK, oid, A.USE)
        body = HOOKS.body(conn, oid)
        records = _log_rows(conn, [hook_log.c.hook_id == hook.id])
    return body[:-len("</HOOK>")] + "<HOOKLOG>" + "".join(records) + "</HOOKLOG></HOOK>"


@api("one.hook.update", Int("id"), Str("template"), Int("type", 0))
def hook_update(call: Call, oid: int, text: str, update_type: int) -> int:
    with call.cloud.db.write() as conn:
        hook = fetch(call, conn, HOOK, oid, A.MANAGE)
        check_lock(hook, A.MANAGE)
        timeout = conn.execute(select(hook_pool.c.timeout)
                               .where(hook_pool.c.oid == oid)).scalar()
        current = hook.template.copy()
        current.set("TIMEOUT", str(timeout))
        new = updated_template(current, text, update_type)
        spec = check(hook.name, hook.type, new)
        hook.template = spec.template
        HOOKS.update(conn, hook)
        conn.execute(hook_pool.update().where(hook_pool.c.oid == oid)
                     .values(timeout=spec.timeout))
    _changed(call)
    return oid


@api("one.hook.delete", Int("id"))
def hook_delete(call: Call, oid: int) -> int:
    with call.cloud.db.write() as conn:
        hook = fetch(call, conn, HOOK, oid, A.MANAGE)
        check_lock(hook, A.MANAGE)
        HOOKS.delete(conn, oid)
        conn.execute(delete(hook_log).where(hook_log.c.hook_id == oid))
    _changed(call)
    return oid


@api("one.hook.retry", Int("id"), Int("exec_id"))
def hook_retry(call: Call, oid: int, exec_id: int) -> int:
    """Run a logged execution again, with the same (expanded) arguments."""
    with call.cloud.db.read() as conn:
        hook = fetch(call, conn, HOOK, oid, A.MANAGE)
        timeout = conn.execute(select(hook_pool.c.timeout)
                               .where(hook_pool.c.oid == oid)).scalar()
        body = conn.execute(select(hook_log.c.body).where(
            hook_log.c.hook_id == oid, hook_log.c.exec_id == exec_id)).scalar()
    if body is None:
        raise NoExistsError(f"Error getting hook execution record [{exec_id}] of hook "
                            f"[{oid}].", oid)
    record = etree.fromstring(body.encode())
    hook_points.manager(call.cloud).retry(oid, spec_of(hook, timeout or 0),
                                          record.findtext("ARGUMENTS") or "",
                                          record.findtext("REMOTE_HOST") or "")
    return oid


@api("one.hookpool.info", Int("filter", -2), Int("start", -1), Int("end", -1))
def hookpool_info(call: Call, _flag: int, start: int, end: int) -> str:
    _admin(call, A.USE)
    where = None
    if start >= 0 and end >= 0:
        where = hook_pool.c.oid.between(start, end)
    elif start >= 0:
        where = hook_pool.c.oid >= start
    return wire_pool_xml(call, "HOOK_POOL", hook_pool, where)


@api("one.hooklog.info", Int("min_ts", 0), Int("max_ts", 0), Int("hook_id", -1),
     Int("rc_filter", 0))
def hooklog_info(call: Call, min_ts: int, max_ts: int, hook_id: int, rc: int) -> str:
    """Execution records: between min_ts and max_ts (0: unbounded), of one hook (-1: all),
    rc 1 the successful ones, -1 the failed ones, 0 all."""
    _admin(call, A.USE)
    where = []
    if min_ts > 0:
        where.append(hook_log.c.timestamp >= min_ts)
    if max_ts > 0:
        where.append(hook_log.c.timestamp <= max_ts)
    if hook_id >= 0:
        where.append(hook_log.c.hook_id == hook_id)
    if rc == 1:
        where.append(hook_log.c.rc == 0)
    elif rc == -1:
        where.append(hook_log.c.rc != 0)
    elif rc != 0:
        raise ApiError(f"Wrong rc filter {rc}: use 1 (success), -1 (error) or 0 (all)")
    with call.cloud.db.read() as conn:
        records = _log_rows(conn, where)
    return "<HOOKLOG>" + "".join(records) + "</HOOKLOG>"


register_rename("hook", HOOK)
register_lock("hook", HOOK)

__all__ = ["HOOKS", "HOOK"]
