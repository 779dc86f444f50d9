"""State changes noted inside a transaction, handed to the hook manager once it commits.

``vm_committed``/``host_committed`` are called by the code that writes the new state,
in its transaction (nubo/core/vm_commit.py, nubo/core/monitor.py). They only note the
change on the connection; an engine ``commit`` listener hands the notes to the hook
manager, a ``rollback`` drops them, so a hook never runs for a change that was rolled
back. The hook manager's workers wait for the write lock before running a hook, so the
commit has completed when the hook starts (and reads the new state back).

Only engines whose cloud registered a hook manager (the request manager does, in
``nubo serve``) are watched: elsewhere these calls cost one dict look-up.
"""
from __future__ import annotations

import logging
import weakref
from typing import Any, Callable

from sqlalchemy import Connection, event

log = logging.getLogger("nubo.hooks")

_KEY = "nubo.hook_events"
# engine -> its cloud's HookManager, both held weakly (a dropped cloud is forgotten)
_managers: weakref.WeakKeyDictionary[Any, weakref.ref[Any]] = weakref.WeakKeyDictionary()


def register(engine: Any, manager: Any) -> None:
    known = engine in _managers
    _managers[engine] = weakref.ref(manager)
    if not known:
        event.listen(engine, "commit", _on_commit)
        event.listen(engine, "rollback", _on_rollback)


def _note(conn: Connection, fire: Callable[[Any], None]) -> None:
    ref = _managers.get(conn.engine)
    manager = ref() if ref is not None else None
    if manager is not None:
        conn.info.setdefault(_KEY, []).append((manager, fire))


def _on_commit(conn: Connection) -> None:
    for manager, fire in conn.info.pop(_KEY, ()):
        try:
            fire(manager)
        except Exception:
            log.exception("hooks not run for a committed change")


def _on_rollback(conn: Connection) -> None:
    conn.info.pop(_KEY, None)


def vm_committed(conn: Connection, vm: Any, before: Any) -> None:
    """The VM's new STATE/LCM_STATE is being committed (``before``: its former view)."""
    try:
        if (int(vm.state), int(vm.lcm_state)) == (int(before.state), int(before.lcm_state)):
            return
        if conn.engine not in _managers:
            return
        from nubo.lifecycle.states import LcmState, VmState
        from nubo.model import xmlobj
        vm_id, state = vm.id, VmState(vm.state).name
        lcm = LcmState(vm.lcm_state).name
        _note(conn, lambda m: m.vm_state(vm_id, state, lcm, lambda: xmlobj.render(vm, "VM")))
    except Exception:
        log.exception("VM %s: state hooks not noted", getattr(vm, "id", "?"))


def host_committed(conn: Connection, host: Any) -> None:
    """The host's new state is being committed."""
    try:
        if conn.engine not in _managers:
            return
        from nubo.model import xmlobj
        from nubo.model.hook import HOST_STATES
        name = {v: k for k, v in HOST_STATES.items()}.get(int(host.state), str(host.state))
        host_id = host.id
        _note(conn, lambda m: m.host_state(host_id, name, lambda: xmlobj.render(host, "HOST")))
    except Exception:
        log.exception("host %s: state hooks not noted", getattr(host, "id", "?"))
