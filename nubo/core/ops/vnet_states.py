"""A virtual network's states and one.vn.recover, as oned 6.10 has them.

INIT, READY, LOCK_CREATE, LOCK_DELETE, DONE, ERROR and UPDATE_FAILURE. nubo's networks
are READY once allocated (no VN_MAD driver runs at creation yet); a network goes to
UPDATE_FAILURE when the update of a VM using it fails (``vnet_updates``), and to ERROR
through ``set_error`` or a forced failure, keeping the message in its TEMPLATE/ERROR.
one.vn.recover (MANAGE) takes the operations of oned's VirtualNetworkRecover:
0 failure, 1 success, 2 delete, 3 retry, each allowed in the states oned allows it.
"""
from __future__ import annotations

from sqlalchemy import Connection

from nubo.core.ops import vnet_updates, vnets
from nubo.core.ops.call import Call
from nubo.errors import ActionError, InternalError
from nubo.model.resources import (VNET_ERROR, VNET_INIT, VNET_LOCK_CREATE,
                                  VNET_LOCK_DELETE, VNET_READY, VNET_RECOVER_OPERATIONS,
                                  VNET_STATE_NAMES,
                                  VNET_UPDATE_FAILURE, VirtualNetwork)

_NAMES = {code: name for name, code in VNET_RECOVER_OPERATIONS.items()}
FAILURE, SUCCESS, DELETE, RETRY = (VNET_RECOVER_OPERATIONS[n]
                                   for n in ("failure", "success", "delete", "retry"))
# The states each operation applies to (VirtualNetworkRecover::request_execute).
ALLOWED = {
    FAILURE: {VNET_INIT, VNET_LOCK_CREATE, VNET_LOCK_DELETE},
    SUCCESS: {VNET_INIT, VNET_LOCK_CREATE, VNET_ERROR, VNET_LOCK_DELETE, VNET_UPDATE_FAILURE},
    DELETE: {VNET_INIT, VNET_LOCK_CREATE, VNET_LOCK_DELETE, VNET_ERROR},
    RETRY: {VNET_UPDATE_FAILURE},
}


def set_state(vnet: VirtualNetwork, state: int, error: str | None = None) -> None:
    """Move a network to ``state``; an error message goes to TEMPLATE/ERROR, and leaving
    for READY clears it."""
    vnet.prev_state, vnet.state = vnet.state, state
    if error is not None:
        vnet.template.set("ERROR", error)
    elif state == VNET_READY:
        vnet.template.remove("ERROR")


def set_error(conn: Connection, call: Call, oid: int, message: str,
              state: int = VNET_ERROR) -> None:
    """A network whose setup (or a VM's update) failed: ERROR (or UPDATE_FAILURE) with
    the driver's message. For the network drivers to call when their action fails."""
    vnet = call.cloud.pools.vnets.get(conn, oid)
    set_state(vnet, state, message)
    call.cloud.pools.vnets.update(conn, vnet)


def recover(call: Call, oid: int, op: int) -> int:
    """one.vn.recover: force a network stuck in a transient or failed state on."""
    if op not in _NAMES:
        raise ActionError("Wrong recovery operation code", oid)
    resend = False
    with call.cloud.db.write() as conn:
        vnet = vnets.managed(call, conn, oid)
        if vnet.state not in ALLOWED[op]:
            state = VNET_STATE_NAMES[vnet.state] if 0 <= vnet.state < 7 else str(vnet.state)
            raise InternalError(f"Could not perform 'recover {_NAMES[op]}' on VN {oid}, "
                                f"wrong state {state}.", oid)
        if op == DELETE or (op == SUCCESS and vnet.state == VNET_LOCK_DELETE):
            vnets.remove_vnet(call, conn, vnet, force=True)
            return oid
        if op == FAILURE:
            set_state(vnet, VNET_ERROR, "Failure forced by user")
        elif op == SUCCESS:
            if vnet.state == VNET_UPDATE_FAILURE:  # the VMs left to update count as done
                vnet.updated_vms = sorted({*vnet.updated_vms, *vnet.outdated_vms,
                                           *vnet.error_vms})
                vnet.outdated_vms, vnet.error_vms = [], []
            set_state(vnet, VNET_READY)
        else:  # RETRY: the failed VMs are updated again
            vnet.outdated_vms = sorted({*vnet.outdated_vms, *vnet.error_vms})
            vnet.error_vms = []
            set_state(vnet, VNET_READY)
            resend = True
        call.cloud.pools.vnets.update(conn, vnet)
    if resend:
        vnet_updates.resend(call, oid)
    return oid

