"""The VM life-cycle: OpenNebula's states and a pure, table-driven state machine.

See docs/lifecycle.md for the states and transitions, and machine.py for the API.
"""
from nubo.lifecycle.machine import (
    ACTIONS, EVENTS, MIGRATE_KINDS, RECOVER_OPERATIONS, VM_ACTION_NAMES, allowed,
    allowed_actions, allowed_in, decide, on_event, on_outcome, refusal, view_of,
)
from nubo.lifecycle.decision import (
    Checkpoint, CopyRecord, Decision, DriverOp, NewRecord, OpRef, Placement, Release, Reserve,
    SetAction, Stamp, VmView, apply,
)
from nubo.lifecycle.states import (
    HISTORY_ACTIONS, LcmState, VmState, is_valid_pair, short_name, state_str,
)
from nubo.lifecycle.tasks import Task

__all__ = [
    "ACTIONS", "EVENTS", "HISTORY_ACTIONS", "MIGRATE_KINDS", "RECOVER_OPERATIONS",
    "VM_ACTION_NAMES", "Checkpoint", "CopyRecord", "Decision", "DriverOp", "LcmState",
    "NewRecord", "OpRef", "Placement", "Release", "Reserve", "SetAction", "Stamp", "VmState",
    "VmView", "allowed", "allowed_actions", "allowed_in", "apply", "decide", "is_valid_pair",
    "on_event", "on_outcome", "refusal", "short_name", "state_str", "view_of",
]
