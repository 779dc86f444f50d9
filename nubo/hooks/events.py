"""State changes noted inside a transaction, handed to the hook manager once it commits.

``vm_committed``/``host_committed`` are called by the code that writes the new state,
in its transaction (nubo/core/vm_commit.py, nubo/core/monitor.py). They only note the
change: the hooks it matches are stored (table hook_queue) in the same transaction and
queued on its after-commit list (nubo.store.db.AFTER_COMMIT), which runs once the
transaction has committed and is dropped if it rolls back, so a hook never runs for a
change that was rolled back, and always runs (after a restart if need be) for one
that committed. (Engine commit/rollback listeners would do the
same but put every statement on SQLAlchemy's slower event-dispatching path.)

Only engines whose core registered a hook manager (nubo.core.composition does, in
``nubo serve``) are watched: elsewhere these calls cost one dict look-up.
"""
from __future__ import annotations

import logging
import weakref
from typing import Any, Callable

from sqlalchemy import Connection

from nubo.store.db import AFTER_COMMIT, on_commit

log = logging.getLogger("nubo.hooks")

# engine -> its cloud's HookManager, both held weakly (a dropped cloud is forgotten)
_managers: weakref.WeakKeyDictionary[Any, weakref.ref[Any]] = weakref.WeakKeyDictionary()


def register(engine: Any, manager: Any) -> None:
    _managers[engine] = weakref.ref(manager)


def _note(conn: Connection, match: Callable[[Any], list[Any]]) -> None:
    ref = _managers.get(conn.engine)
    manager = ref() if ref is not None else None
    if manager is None:
        return
    try:
        jobs = match(manager)
        if not jobs:
            return
        if AFTER_COMMIT not in conn.info:  # not in a Database.write transaction
            manager.submit(jobs)
            return
        # The jobs it matches are stored in this transaction and queued once it commits.
        stored = manager.store(conn, jobs)
    except Exception:
        log.exception("hooks not run for a committed change")
        return
    on_commit(conn, lambda: manager.enqueue(stored))


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
