"""Hooks and their execution log: allocate, update, delete, retry, and what may be listed.

Hooks run commands on the front-end as nubo's user, so every operation here is for
the oneadmin group (or an ACL rule on HOOK), as in OpenNebula. A hook's template
is checked on allocate and update (nubo.model.hook.check); every change tells the
core's hook manager to reload its cached table.
"""
from __future__ import annotations

from typing import Any, Container

from lxml import etree
from sqlalchemy import Connection, delete, select
from sqlalchemy.sql import ColumnElement

from nubo.auth import acl as A
from nubo.auth.acl import ObjectType
from nubo.core.ops.common import (Kind, check_lock, check_name, fetch, parse_template,
                                  updated_template)
from nubo.core.ops.call import Call
from nubo.errors import AllocateError, ApiError, AuthorizationError, NoExistsError
from nubo.model.hook import Hook, check, spec_of
from nubo.store.pools import Pool
from nubo.store.schema import hook_log, hook_pool

HOOKS: Pool[Hook] = Pool(hook_pool, Hook, "hook", lambda h: {"type": h.type})
HOOK = Kind(lambda c: HOOKS, ObjectType.HOOK, "HOOK", owned=False, unique_per_owner=False)


def require_admin(call: Call, op: int = A.MANAGE) -> None:
    """Creating or listing hooks: oneadmin's group (or an ACL rule on all HOOKs)."""
    if call.session.is_admin:
        return
    if not call.cloud.acl_index().reverse_search(call.session.requester, ObjectType.HOOK,
                                                 op).all:
        what = "CREATE" if op == A.CREATE else "MANAGE"
        raise AuthorizationError(
            f"User [{call.uid}] : Not authorized to perform {what} HOOK.")


def changed(call: Call) -> None:
    """The hook table changed: the core's hook manager reloads it."""
    if call.cloud.hooks is not None:
        call.cloud.hooks.invalidate()


def allocate(call: Call, text: str, api_calls: Container[str]) -> int:
    """A new hook; ``api_calls``: the methods an API hook may name (the front's)."""
    body = parse_template(text)
    name = body.get("NAME")
    name = check_name(name.strip() if isinstance(name, str) else "")
    spec = check(name, body.get("TYPE") or "", body, api_calls)
    require_admin(call, A.CREATE)
    with call.cloud.db.write() as conn:
        taken = HOOKS.oid_by_name(conn, name)
        if taken is not None:
            raise AllocateError(f"NAME is already taken by HOOK {taken}.", taken)
        hook = Hook(HOOKS.next_oid(conn), name, spec.type, None, spec.template)
        HOOKS.insert(conn, hook)
        conn.execute(hook_pool.update().where(hook_pool.c.oid == hook.id)
                     .values(timeout=spec.timeout))
    changed(call)
    return hook.id


def log_records(conn: Connection, where: list[ColumnElement[bool]]) -> list[str]:
    """Execution records (their XML bodies), by hook and execution."""
    return [r.body for r in conn.execute(select(hook_log.c.body).where(*where)
                                         .order_by(hook_log.c.hook_id, hook_log.c.exec_id))]


def info(call: Call, oid: int) -> tuple[str, list[str]]:
    """The hook's stored body and its execution records."""
    with call.cloud.db.read() as conn:
        hook = fetch(call, conn, HOOK, oid, A.USE)
        body = HOOKS.body(conn, oid)
        records = log_records(conn, [hook_log.c.hook_id == hook.id])
    return body, records


def _timeout(conn: Connection, oid: int) -> Any:
    return conn.execute(select(hook_pool.c.timeout).where(hook_pool.c.oid == oid)).scalar()


def update(call: Call, oid: int, text: str, update_type: int,
           api_calls: Container[str]) -> int:
    """A new (type 0) or merged (type 1) template, checked as on allocate; TIMEOUT is
    kept in its column."""
    with call.cloud.db.write() as conn:
        hook = fetch(call, conn, HOOK, oid, A.MANAGE)
        check_lock(hook, A.MANAGE)
        current = hook.template.copy()
        current.set("TIMEOUT", str(_timeout(conn, oid)))
        new = updated_template(current, text, update_type)
        spec = check(hook.name, hook.type, new, api_calls)
        hook.template = spec.template
        HOOKS.update(conn, hook)
        conn.execute(hook_pool.update().where(hook_pool.c.oid == oid)
                     .values(timeout=spec.timeout))
    changed(call)
    return oid


def delete_hook(call: Call, oid: int) -> int:
    """Drop a hook and its execution log."""
    with call.cloud.db.write() as conn:
        hook = fetch(call, conn, HOOK, oid, A.MANAGE)
        check_lock(hook, A.MANAGE)
        HOOKS.delete(conn, oid)
        conn.execute(delete(hook_log).where(hook_log.c.hook_id == oid))
    changed(call)
    return oid


def retry(call: Call, oid: int, exec_id: int) -> int:
    """Run a logged execution again, with the same (expanded) arguments."""
    with call.cloud.db.read() as conn:
        hook = fetch(call, conn, HOOK, oid, A.MANAGE)
        timeout = _timeout(conn, oid)
        body = conn.execute(select(hook_log.c.body).where(
            hook_log.c.hook_id == oid, hook_log.c.exec_id == exec_id)).scalar()
    if body is None:
        raise NoExistsError(f"Error getting hook execution record [{exec_id}] of hook "
                            f"[{oid}].", oid)
    record = etree.fromstring(body.encode())
    if call.cloud.hooks is not None:
        call.cloud.hooks.retry(oid, spec_of(hook, timeout or 0),
                               record.findtext("ARGUMENTS") or "",
                               record.findtext("REMOTE_HOST") or "")
    return oid


def pool_where(call: Call, start: int, end: int) -> ColumnElement[bool] | None:
    """The hooks one.hookpool.info lists: an id range (the filter flag is ignored)."""
    require_admin(call, A.USE)
    if start >= 0 and end >= 0:
        return hook_pool.c.oid.between(start, end)
    if start >= 0:
        return hook_pool.c.oid >= start
    return None


def log(call: Call, min_ts: int, max_ts: int, hook_id: int, rc: int) -> list[str]:
    """Execution records: between min_ts and max_ts (0: unbounded), of one hook (-1: all),
    rc 1 the successful ones, -1 the failed ones, 0 all."""
    require_admin(call, A.USE)
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
        return log_records(conn, where)
