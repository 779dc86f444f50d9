"""Running a due scheduled action through the API method a user would call, as the VM's owner.

OpenNebula runs scheduled actions with its request manager's own checks (the
VM's state, its lock, the owner's rights), so a scheduled ``poweroff`` behaves
exactly as ``one.vm.action("poweroff")`` by the owner would; nubo does the same
in-process: the method's handler is called with the owner's session. The
timer (nubo.core.sched_timer) is handed this as its ``run`` callable.
"""
from __future__ import annotations

from typing import Any

from nubo.api.registry import METHODS, SignatureError, bind
from nubo.core.ops.context import Call
from nubo.auth.authorize import Requester
from nubo.core.cloud import Session
from nubo.errors import NuboError
from nubo.model.sched_action import SchedAction
from nubo.model.vm import VirtualMachine


def owner_session(cloud: Any, vm: VirtualMachine) -> Session | None:
    with cloud.db.read() as conn:
        user = cloud.pools.users.find(conn, vm.uid)
    if user is None:
        return None
    # The owner's own groups: the VM's group may no longer be one of them.
    return Session(Requester(uid=user.id, gid=user.gid, group_ids=frozenset(user.groups)),
                   uname=user.name, gname=user.gname)


def run(cloud: Any, vm: VirtualMachine, action: SchedAction) -> str | None:
    """Do the action; None if the method succeeded, else the error as the API reports it."""
    session = owner_session(cloud, vm)
    if session is None:
        return f"the VM's owner (user {vm.uid}) does not exist"
    name, args = action.api_call()
    method = METHODS[name]
    try:
        method.handler(Call(cloud, session, name), *bind(method, args))
    except NuboError as e:
        return f"[{name}] {e.message}"
    except SignatureError as e:
        return f"[{name}] {e}"
    return None
