"""Hooks: the hook points the core calls when a change commits, and their manager.

Hook points (see docs/hooks.md): ``events.vm_committed`` (nubo/core/vm_commit.py),
``events.host_committed`` (nubo/core/monitor.py), ``api_called`` (nubo/api/rm.py,
after a successful call; one.host.status also runs the host's state hooks from
there). They never raise and never wait: a failure is logged, a match is queued.
The manager is the core's (nubo.core.composition), reached as ``cloud.hooks``; a
cloud composed without one runs no hook.
"""
from __future__ import annotations

import logging
from typing import Any

from nubo.hooks import events
from nubo.hooks.hook_manager import HookManager

log = logging.getLogger("nubo.hooks")


def api_called(cloud: Any, method: str, args: list[Any], value: Any) -> None:
    """After a successful API call."""
    manager = cloud.hooks
    if manager is None:
        return
    try:
        manager.submit(manager.api_call(method, args, value))
        if method == "one.host.status" and args:
            _host_status(cloud, manager, int(args[0]))
    except Exception:
        log.exception("%s: API hooks not run", method)


def _host_status(cloud: Any, manager: HookManager, host_id: int) -> None:
    """one.host.status changed a host's state (e.g. DISABLED): its state hooks run."""
    from nubo.model import xmlobj
    from nubo.model.hook import HOST_STATES
    with cloud.db.read() as conn:
        host = cloud.pools.hosts.find(conn, host_id)
    if host is not None:
        name = {v: k for k, v in HOST_STATES.items()}.get(int(host.state), str(host.state))
        manager.submit(manager.host_state(host.id, name, lambda: xmlobj.render(host, "HOST")))


__all__ = ["api_called", "events", "HookManager"]
