"""OpenNebula's VM states: STATE (dispatch manager) and LCM_STATE (life-cycle manager).

The numbers are part of the API: clients compare ``STATE``/``LCM_STATE`` in the VM
XML against them, hooks filter on their names and ``onevm list`` prints the short
names. They are therefore copied from OpenNebula (include/VirtualMachine.h, the
Ruby OCA's virtual_machine.rb and pyone), gaps included: numbers OpenNebula
retired (STATE 7 FAILED; LCM 13 CANCEL, 14 FAILURE, 55, 58) keep their names so a
number is never reused, but nubo never puts a VM in them.
"""
from __future__ import annotations

from enum import IntEnum


class VmState(IntEnum):
    """The dispatch manager's state of a VM (``STATE``)."""

    INIT = 0
    PENDING = 1
    HOLD = 2
    ACTIVE = 3
    STOPPED = 4
    SUSPENDED = 5
    DONE = 6
    FAILED = 7  # retired by OpenNebula; kept for the numbering
    POWEROFF = 8
    UNDEPLOYED = 9
    CLONING = 10
    CLONING_FAILURE = 11


class LcmState(IntEnum):
    """The life-cycle manager's state of an ACTIVE VM (``LCM_STATE``)."""

    LCM_INIT = 0
    PROLOG = 1
    BOOT = 2
    RUNNING = 3
    MIGRATE = 4
    SAVE_STOP = 5
    SAVE_SUSPEND = 6
    SAVE_MIGRATE = 7
    PROLOG_MIGRATE = 8
    PROLOG_RESUME = 9
    EPILOG_STOP = 10
    EPILOG = 11
    SHUTDOWN = 12
    CANCEL = 13  # retired
    FAILURE = 14  # retired
    CLEANUP_RESUBMIT = 15
    UNKNOWN = 16
    HOTPLUG = 17
    SHUTDOWN_POWEROFF = 18
    BOOT_UNKNOWN = 19
    BOOT_POWEROFF = 20
    BOOT_SUSPENDED = 21
    BOOT_STOPPED = 22
    CLEANUP_DELETE = 23
    HOTPLUG_SNAPSHOT = 24
    HOTPLUG_NIC = 25
    HOTPLUG_SAVEAS = 26
    HOTPLUG_SAVEAS_POWEROFF = 27
    HOTPLUG_SAVEAS_SUSPENDED = 28
    SHUTDOWN_UNDEPLOY = 29
    EPILOG_UNDEPLOY = 30
    PROLOG_UNDEPLOY = 31
    BOOT_UNDEPLOY = 32
    HOTPLUG_PROLOG_POWEROFF = 33
    HOTPLUG_EPILOG_POWEROFF = 34
    BOOT_MIGRATE = 35
    BOOT_FAILURE = 36
    BOOT_MIGRATE_FAILURE = 37
    PROLOG_MIGRATE_FAILURE = 38
    PROLOG_FAILURE = 39
    EPILOG_FAILURE = 40
    EPILOG_STOP_FAILURE = 41
    EPILOG_UNDEPLOY_FAILURE = 42
    PROLOG_MIGRATE_POWEROFF = 43
    PROLOG_MIGRATE_POWEROFF_FAILURE = 44
    PROLOG_MIGRATE_SUSPEND = 45
    PROLOG_MIGRATE_SUSPEND_FAILURE = 46
    BOOT_UNDEPLOY_FAILURE = 47
    BOOT_STOPPED_FAILURE = 48
    PROLOG_RESUME_FAILURE = 49
    PROLOG_UNDEPLOY_FAILURE = 50
    DISK_SNAPSHOT_POWEROFF = 51
    DISK_SNAPSHOT_REVERT_POWEROFF = 52
    DISK_SNAPSHOT_DELETE_POWEROFF = 53
    DISK_SNAPSHOT_SUSPENDED = 54
    DISK_SNAPSHOT_REVERT_SUSPENDED = 55  # retired
    DISK_SNAPSHOT_DELETE_SUSPENDED = 56
    DISK_SNAPSHOT = 57
    DISK_SNAPSHOT_REVERT = 58  # retired
    DISK_SNAPSHOT_DELETE = 59
    PROLOG_MIGRATE_UNKNOWN = 60
    PROLOG_MIGRATE_UNKNOWN_FAILURE = 61
    DISK_RESIZE = 62
    DISK_RESIZE_POWEROFF = 63
    DISK_RESIZE_UNDEPLOYED = 64
    HOTPLUG_NIC_POWEROFF = 65
    HOTPLUG_RESIZE = 66
    HOTPLUG_SAVEAS_UNDEPLOYED = 67
    HOTPLUG_SAVEAS_STOPPED = 68
    BACKUP = 69
    BACKUP_POWEROFF = 70
    RESTORE = 71


S, L = VmState, LcmState

RETIRED_STATES = frozenset({S.FAILED})
RETIRED_LCM_STATES = frozenset({L.CANCEL, L.FAILURE, L.DISK_SNAPSHOT_REVERT_SUSPENDED,
                                L.DISK_SNAPSHOT_REVERT})

# ``onevm list`` short names (the Ruby OCA's SHORT_VM_STATES / SHORT_LCM_STATES).
SHORT_STATE_NAMES: dict[VmState, str] = {
    S.INIT: "init", S.PENDING: "pend", S.HOLD: "hold", S.ACTIVE: "actv", S.STOPPED: "stop",
    S.SUSPENDED: "susp", S.DONE: "done", S.FAILED: "fail", S.POWEROFF: "poff",
    S.UNDEPLOYED: "unde", S.CLONING: "clon", S.CLONING_FAILURE: "fail",
}
_SHORT_BY_PREFIX = (  # the OCA's table follows these rules without exception
    ("HOTPLUG_SNAPSHOT", "snap"), ("DISK_SNAPSHOT", "snap"), ("DISK_RESIZE", "drsz"),
    ("HOTPLUG", "hotp"), ("CLEANUP", "clea"), ("SHUTDOWN", "shut"), ("EPILOG", "epil"),
    ("SAVE", "save"), ("BACKUP", "back"), ("RESTORE", "rest"), ("BOOT", "boot"),
)
_SHORT_EXCEPTIONS = {
    L.LCM_INIT: "", L.RUNNING: "runn", L.MIGRATE: "migr", L.PROLOG: "prol",
    L.PROLOG_RESUME: "prol", L.PROLOG_UNDEPLOY: "prol", L.PROLOG_MIGRATE: "migr",
    L.PROLOG_MIGRATE_POWEROFF: "migr", L.PROLOG_MIGRATE_SUSPEND: "migr",
    L.PROLOG_MIGRATE_UNKNOWN: "migr", L.UNKNOWN: "unkn", L.CANCEL: "shut", L.FAILURE: "fail",
}


def _short_lcm(lcm: LcmState) -> str:
    if lcm in _SHORT_EXCEPTIONS:
        return _SHORT_EXCEPTIONS[lcm]
    if lcm.name.endswith("_FAILURE"):
        return "fail"
    return next(short for prefix, short in _SHORT_BY_PREFIX if lcm.name.startswith(prefix))


SHORT_LCM_NAMES: dict[LcmState, str] = {lcm: _short_lcm(lcm) for lcm in LcmState}

# The VM is waiting for a driver (or for monitoring) in these LCM states; every other
# ACTIVE state is stable until a user acts (RUNNING, UNKNOWN, the *_FAILURE states).
FAILURE_LCM_STATES = frozenset(lcm for lcm in LcmState
                               if lcm.name.endswith("_FAILURE") and lcm is not L.FAILURE)
STABLE_LCM_STATES = frozenset({L.RUNNING, L.UNKNOWN, L.CLEANUP_DELETE}) | FAILURE_LCM_STATES
TRANSIENT_LCM_STATES = frozenset(LcmState) - STABLE_LCM_STATES - RETIRED_LCM_STATES - {L.LCM_INIT}

# States in which a VM is counted in a host's usage (HOST_SHARE). ACTIVE states that
# come from STOPPED/UNDEPLOYED (terminate's EPILOG, the resume PROLOGs before their
# capacity is added...) are told apart by the view's ``hosts``, not by the state.
PLACED_STATES = frozenset({S.ACTIVE, S.POWEROFF, S.SUSPENDED})
UNPLACED_STATES = frozenset(VmState) - PLACED_STATES - RETIRED_STATES
# Two hosts are held while a VM moves between them (OpenNebula adds the target's
# capacity when the move starts and frees the source's when it is left).
TWO_HOST_LCM_STATES = frozenset({L.SAVE_MIGRATE, L.MIGRATE})

# The history ACTION names, by number (OpenNebula's VMActions; the OCA's HISTORY_ACTION).
HISTORY_ACTIONS: tuple[str, ...] = (
    "none", "migrate", "live-migrate", "shutdown", "shutdown-hard", "undeploy",
    "undeploy-hard", "hold", "release", "stop", "suspend", "resume", "boot", "delete",
    "delete-recreate", "reboot", "reboot-hard", "resched", "unresched", "poweroff",
    "poweroff-hard", "disk-attach", "disk-detach", "nic-attach", "nic-detach",
    "disk-snapshot-create", "disk-snapshot-delete", "terminate", "terminate-hard",
    "disk-resize", "deploy", "chown", "chmod", "updateconf", "rename", "resize", "update",
    "snapshot-resize", "snapshot-delete", "snapshot-revert", "disk-saveas",
    "disk-snapshot-revert", "recover", "retry", "monitor", "disk-snapshot-rename",
    "alias-attach", "alias-detach", "poweroff-migrate", "poweroff-hard-migrate", "backup",
    "nic-update", "backup-cancel", "sched-add", "sched-update", "sched-delete", "sg-attach",
    "sg-detach", "pci-attach", "pci-detach", "restore",
)
HISTORY_ACTION_IDS = {name: i for i, name in enumerate(HISTORY_ACTIONS)}


def state_str(state: VmState | int, lcm_state: LcmState | int) -> str:
    """The state as OpenNebula names it in messages: the LCM name when ACTIVE."""
    if VmState(state) is S.ACTIVE:
        return LcmState(lcm_state).name
    return VmState(state).name


def short_name(state: VmState | int, lcm_state: LcmState | int) -> str:
    """The four-letter state ``onevm list`` shows (the LCM one when ACTIVE)."""
    if VmState(state) is S.ACTIVE:
        return SHORT_LCM_NAMES[LcmState(lcm_state)]
    return SHORT_STATE_NAMES[VmState(state)]


def is_valid_pair(state: int, lcm_state: int) -> bool:
    """Whether nubo may ever store this (STATE, LCM_STATE) pair.

    Only ACTIVE VMs have an LCM state; OpenNebula parks ACTIVE/LCM_INIT for an
    instant between its two managers, but nubo's transitions are atomic so that
    pair never exists here.
    """
    try:
        vm, lcm = VmState(state), LcmState(lcm_state)
    except ValueError:
        return False
    if vm in RETIRED_STATES or lcm in RETIRED_LCM_STATES:
        return False
    if vm is S.ACTIVE:
        return lcm is not L.LCM_INIT
    return lcm is L.LCM_INIT


def history_action_name(action_id: int) -> str:
    """The history ACTION name for its number ("none" for unknown numbers)."""
    return HISTORY_ACTIONS[action_id] if 0 <= action_id < len(HISTORY_ACTIONS) else "none"
