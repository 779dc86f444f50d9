"""Scheduled actions (OpenNebula 6.x's SCHED_ACTION, the successor of 1.4's advance
reservations): what to do to a VM, when, how often, until when, and what happened.

A SCHED_ACTION vector, as a user writes it::

    SCHED_ACTION = [ ACTION = "poweroff", TIME = "+3600",       # absolute epoch, or +secs
                     REPEAT = "0", DAYS = "1,5",                  # weekly on Mon and Fri
                     END_TYPE = "1", END_VALUE = "4" ]            # four times in all

and as the core stores and shows it (shared.xsd's SCHED_ACTION, every element present):
ID, PARENT_ID (the VM), TYPE (VM), ACTION, ARGS, TIME (absolute), REPEAT (-1 none, 0
weekly, 1 monthly, 2 yearly, 3 hourly), DAYS, END_TYPE (-1 none, 0 never, 1 times, 2
date), END_VALUE (-1, a count of runs left, or an epoch), DONE (-1, or when it last
ran), MESSAGE (the last run's error) and WARNING. Pure: parsing and validation (with
oned's messages where it has them), rendering, and the time rules (nubo.model.sched_time).
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import tzinfo

from nubo.model.sched_time import (DAILY_RANGES, END_DATE, END_NONE, END_NEVER, END_TIMES,
                                   HOURLY, NO_REPEAT, next_time)
from nubo.model.limits import SCHED_NUMBERS, number_problem
from nubo.template import Template, VectorAttribute

#: The actions OpenNebula schedules on a VM (ScheduledAction::VM_ACTIONS).
ONE_VM_ACTIONS = ("terminate", "terminate-hard", "undeploy", "undeploy-hard", "hold",
                  "release", "stop", "suspend", "resume", "reboot", "reboot-hard", "poweroff",
                  "poweroff-hard", "snapshot-create", "snapshot-revert", "snapshot-delete",
                  "disk-snapshot-create", "disk-snapshot-revert", "disk-snapshot-delete",
                  "backup")
#: The API method each runs through, as the VM's owner (nubo.api.sched_runner); ARGS is
#: the snapshot name (create) or the snapshot id (revert, delete); for a disk snapshot,
#: as OpenNebula writes it, the disk id first: "DISK_ID, NAME" or "DISK_ID, SNAPSHOT_ID".
METHODS: dict[str, str] = {
    **{a: "one.vm.action" for a in ONE_VM_ACTIONS[:13]},
    "snapshot-create": "one.vm.snapshotcreate",
    "snapshot-revert": "one.vm.snapshotrevert",
    "snapshot-delete": "one.vm.snapshotdelete",
    "disk-snapshot-create": "one.vm.disksnapshotcreate",
    "disk-snapshot-revert": "one.vm.disksnapshotrevert",
    "disk-snapshot-delete": "one.vm.disksnapshotdelete",
}
_INT_ARGS = frozenset({"snapshot-revert", "snapshot-delete"})
_DISK_ARGS = {"disk-snapshot-create": "the disk id and the snapshot's name (\"0, nightly\")",
              "disk-snapshot-revert": "the disk id and the snapshot id (\"0, 2\")",
              "disk-snapshot-delete": "the disk id and the snapshot id (\"0, 2\")"}
#: What a user may write in a SCHED_ACTION; the rest is the core's (ignored when given).
USER_KEYS = ("ACTION", "ARGS", "TIME", "REPEAT", "DAYS", "END_TYPE", "END_VALUE", "WARNING")
CORE_KEYS = ("ID", "PARENT_ID", "TYPE", "DONE", "MESSAGE")


class SchedActionError(ValueError):
    """A SCHED_ACTION the core will not take; the message says which attribute and why."""


@dataclass(frozen=True)
class SchedAction:
    id: int
    vm_id: int
    action: str
    args: str
    time: int
    repeat: int = NO_REPEAT
    days: tuple[int, ...] = ()
    end_type: int = END_NONE
    end_value: int = -1
    done: int = -1
    message: str = ""
    warning: int = 0

    @property
    def ended(self) -> bool:
        """No run is left: the count is spent, or the next run would be past the END date."""
        return ((self.end_type == END_TIMES and self.end_value <= 0)
                or (self.end_type == END_DATE and self.time > self.end_value))

    @property
    def pending(self) -> bool:
        """There is a run to come, at ``time`` (DONE before TIME: not run since TIME was set)."""
        return not self.ended and self.done < self.time

    def due(self, now: int) -> bool:
        return self.pending and self.time <= now

    def api_call(self) -> tuple[str, list]:
        """The API method and its arguments (after the session) that perform the action."""
        method = METHODS[self.action]
        if method == "one.vm.action":
            return method, [self.action, self.vm_id]
        if self.action in _DISK_ARGS:
            disk, _, other = (p.strip() for p in self.args.partition(","))
            return method, [self.vm_id, int(disk),
                            other if self.action == "disk-snapshot-create" else int(other)]
        return method, [self.vm_id, int(self.args) if self.action in _INT_ARGS else self.args]

    def to_vector(self) -> VectorAttribute:
        """The SCHED_ACTION a VM's TEMPLATE shows, in shared.xsd's order."""
        return VectorAttribute("SCHED_ACTION", {
            "ID": str(self.id), "PARENT_ID": str(self.vm_id), "TYPE": "VM",
            "ACTION": self.action, "ARGS": self.args, "TIME": str(self.time),
            "REPEAT": str(self.repeat), "DAYS": ",".join(map(str, self.days)),
            "END_TYPE": str(self.end_type), "END_VALUE": str(self.end_value),
            "DONE": str(self.done), "MESSAGE": self.message, "WARNING": str(self.warning)})


def _int(vector: VectorAttribute, key: str, default: int) -> int:
    text = (vector.get(key) or "").strip()
    if not text:
        return default
    try:
        return int(text)
    except ValueError:
        raise SchedActionError(f"SCHED_ACTION {key} must be an integer, not {text!r}") from None


def parse_time(text: str, origin: int) -> int:
    """TIME: an epoch, or ``+SECONDS`` after ``origin`` (the VM's STIME)."""
    text = text.strip()
    relative = text.startswith("+")
    digits = text[1:] if relative else text
    if not digits.isdigit():
        raise SchedActionError(f"Unable to parse the time value or value is empty: {text!r} "
                               "(TIME is an epoch, or +SECONDS after the VM's start)")
    return int(digits) + (origin if relative else 0)


def _days(text: str, repeat: int) -> tuple[int, ...]:
    if repeat == NO_REPEAT:
        return ()
    parts = [p.strip() for p in text.split(",") if p.strip()]
    if not parts:
        raise SchedActionError("Repeat set, but DAYS are empty")
    if not all(p.isdigit() for p in parts):
        raise SchedActionError(f"DAYS must be a list of numbers (\"1,3,5\"), not {text!r}")
    days = tuple(sorted({int(p) for p in parts}))
    low, high, message = DAILY_RANGES[repeat]
    if days[0] < low or days[-1] > high:
        raise SchedActionError(message)
    if repeat == HOURLY and len(days) != 1:
        raise SchedActionError("An hourly action takes one DAYS value: the hours between "
                               "runs, in [1,168]")
    return days


def parse(vector: VectorAttribute, *, sched_id: int, vm_id: int, origin: int,
          previous: SchedAction | None = None) -> SchedAction:
    """Check a SCHED_ACTION and build it. ``previous`` (one.vm.schedupdate) supplies what
    the vector does not say, and keeps DONE and MESSAGE."""
    unknown = [k for k, _ in vector.items() if k not in USER_KEYS + CORE_KEYS]
    if unknown:
        raise SchedActionError(f"Unknown attribute {unknown[0]} in SCHED_ACTION; it takes "
                               + ", ".join(USER_KEYS))
    base = previous.to_vector() if previous is not None else VectorAttribute("SCHED_ACTION")
    given = {k: v for k, v in vector.items() if k in USER_KEYS}
    merged = VectorAttribute("SCHED_ACTION", {**dict(base.items()), **given})
    action = (merged.get("ACTION") or "").strip()
    if not action:
        raise SchedActionError("No ACTION in template for Scheduled Action.")
    if action not in ONE_VM_ACTIONS:
        raise SchedActionError(f"{action} is not supported.")
    if action not in METHODS:
        raise SchedActionError(f"{action} cannot be scheduled in nubo yet (not implemented)")
    args = (merged.get("ARGS") or "").strip()
    if action in _INT_ARGS and not args.isdigit():
        raise SchedActionError(f"{action} needs ARGS: the snapshot id, not {args!r}")
    if action in _DISK_ARGS:
        disk, comma, other = (p.strip() for p in args.partition(","))
        if not (comma and disk.isdigit() and other
                and (action == "disk-snapshot-create" or other.isdigit())):
            raise SchedActionError(f"{action} needs ARGS: {_DISK_ARGS[action]}, not {args!r}")
    time_text = merged.get("TIME") or ""
    when = (previous.time if previous is not None and "TIME" not in given
            else parse_time(time_text, origin))
    repeat = _int(merged, "REPEAT", NO_REPEAT)
    if repeat not in (NO_REPEAT, *DAILY_RANGES):
        raise SchedActionError(f"Wrong REPEAT value: {repeat} (-1 none, 0 weekly, 1 monthly, "
                               "2 yearly, 3 hourly)")
    days = _days(merged.get("DAYS") or "", repeat)
    end_type = _int(merged, "END_TYPE", END_NONE)
    if end_type not in (END_NONE, END_NEVER, END_TIMES, END_DATE):
        raise SchedActionError(f"Wrong END_TYPE value: {end_type} (-1 none, 0 never, "
                               "1 times, 2 date)")
    end_value = -1
    if end_type in (END_TIMES, END_DATE):
        end_value = _int(merged, "END_VALUE", -1)
        if end_value < 0:
            raise SchedActionError("END_TYPE set, but END_VALUE is empty or negative"
                                   if end_type == END_TIMES else
                                   "END_TYPE is a date, but END_VALUE is not an epoch")
    warning = _int(merged, "WARNING", 0)
    problem = number_problem(Template([vector]), SCHED_NUMBERS)  # after oned's own checks
    if problem:
        raise SchedActionError(problem)
    done = previous.done if previous is not None else -1
    message = previous.message if previous is not None else ""
    return SchedAction(sched_id, vm_id, action, args, when, repeat, days, end_type, end_value,
                       done, message, warning)


def restore(vector: VectorAttribute) -> SchedAction:
    """A stored SCHED_ACTION back (the core wrote it: every element is there and valid)."""
    def number(key: str) -> int:
        return int(vector.get(key) or -1)
    days = tuple(int(d) for d in (vector.get("DAYS") or "").split(",") if d)
    return SchedAction(number("ID"), number("PARENT_ID"), vector.get("ACTION") or "",
                       vector.get("ARGS") or "", number("TIME"), number("REPEAT"), days,
                       number("END_TYPE"), number("END_VALUE"), number("DONE"),
                       vector.get("MESSAGE") or "", int(vector.get("WARNING") or 0))


def after_run(action: SchedAction, now: int, error: str | None, tz: tzinfo) -> SchedAction:
    """The action once it ran at ``now``: DONE and MESSAGE recorded, one run counted, and
    TIME moved to the next repetition after ``now`` -- or left, ending it (DONE >= TIME).

    Runs missed while the core was down are not made up: the next one is after ``now``.
    """
    left = action.end_value - 1 if action.end_type == END_TIMES else action.end_value
    ran = replace(action, done=now, message=error or "", end_value=left)
    if action.repeat == NO_REPEAT or (action.end_type == END_TIMES and left <= 0):
        return ran
    following = next_time(ran.time, ran.repeat, ran.days, now, tz)
    if following is None or (action.end_type == END_DATE and following > action.end_value):
        return ran
    return replace(ran, time=following)
