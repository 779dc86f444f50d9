"""The ranges of numeric attributes and arguments: one table, checked where they enter (pure).

A number a client sends (a VM's MEMORY, a DISK's SIZE, a NIC's NETWORK_ID, a host's
RESERVED_CPU...) is refused with a message naming it unless it lies in its range, so
nothing stored can leave int64 -- not even the host shares nubo sums from them
(:func:`saturate` guards those sums). A value that is not a number at all is left to
the code that reads it, which answers with oned's own message.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Mapping

from nubo.template import SingleAttribute, Template, TemplateValueError

INT32_MAX = 2**31 - 1
INT64_MIN, INT64_MAX = -2**63, 2**63 - 1
#: The largest figure a probe or a reservation may give (two of them still sum in int64).
FIGURE_MAX = 2**62

_INT = re.compile(r"\s*[+-]?[0-9]+\s*")
_FLOAT = re.compile(r"\s*[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?\s*")
_PERCENT = re.compile(r"\s*([+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+))\s*%\s*")


@dataclass(frozen=True)
class Bound:
    """What values a numeric attribute may take."""

    kind: type              # int or float
    low: float
    high: float
    low_open: bool = False  # ``low`` itself is refused (CPU must be > 0)
    percent: bool = False   # "N%" is allowed too, N within [-1000, 100]

    def _describe(self) -> str:
        what = "an integer" if self.kind is int else "a number"
        low = f"greater than {_g(self.low)}" if self.low_open else f"from {_g(self.low)}"
        percent = " (or a percentage)" if self.percent else ""
        return f"{what}{percent} {low} to {_g(self.high)}"

    def problem(self, name: str, value: str) -> str | None:
        """Why ``value`` is out of range for attribute ``name``; None if fine or not a number."""
        if self.percent and (m := _PERCENT.fullmatch(value)):
            if -1000 <= float(m.group(1)) <= 100:
                return None
            return f"{name} attribute must be a percentage from -1000% to 100%, got {value!r}"
        if _INT.fullmatch(value):
            number: float = int(value)
        elif self.kind is float and _FLOAT.fullmatch(value):
            number = float(value)
        else:
            return None
        below = number <= self.low if self.low_open else number < self.low
        if below or number > self.high or (isinstance(number, float) and math.isnan(number)):
            return f"{name} attribute must be {self._describe()}, got {value.strip()}"
        return None


def _g(number: float) -> str:
    return str(int(number)) if float(number).is_integer() else f"{number:g}"


_ID = Bound(int, 0, INT32_MAX)
_COST = Bound(float, 0, 1e9)

#: VM and VM template attributes ("VECTOR/NAME" for a key of every such vector).
VM_NUMBERS: Mapping[str, Bound] = {
    "CPU": Bound(float, 0, 65536, low_open=True),
    "VCPU": Bound(int, 1, 65536),
    "VCPU_MAX": Bound(int, INT64_MIN, 65536),  # oned leaves one <= 0 to the user template
    "MEMORY": Bound(int, 1, INT32_MAX),  # MB: 2 PiB
    "MEMORY_MAX": Bound(int, INT64_MIN, INT32_MAX),
    "CPU_COST": _COST, "MEMORY_COST": _COST, "DISK_COST": _COST,
    "DISK/SIZE": Bound(int, 0, 2**40),  # MB: 1 EiB
    "DISK/IMAGE_ID": _ID, "DISK/IMAGE_UID": _ID, "DISK/DATASTORE_ID": _ID,
    "NIC/NETWORK_ID": _ID, "NIC/NETWORK_UID": _ID, "NIC/AR_ID": _ID,
    "NIC_ALIAS/NETWORK_ID": _ID, "NIC_ALIAS/NETWORK_UID": _ID, "NIC_ALIAS/AR_ID": _ID,
    "VMGROUP/VMGROUP_ID": _ID, "VMGROUP/VMGROUP_UID": _ID,
    "TOPOLOGY/SOCKETS": Bound(int, 1, 65536), "TOPOLOGY/CORES": Bound(int, 1, 65536),
    "TOPOLOGY/THREADS": Bound(int, 1, 65536),
}

#: A VM's scheduled actions (seconds since the epoch, or +SECONDS; 2**40 s: year 36812).
SCHED_NUMBERS: Mapping[str, Bound] = {
    "SCHED_ACTION/TIME": Bound(int, 0, 2**40),
    "SCHED_ACTION/END_VALUE": Bound(int, INT64_MIN, 2**40),  # negatives: oned's message
    "SCHED_ACTION/WARNING": Bound(int, -2**40, 2**40),
}

#: Host and cluster templates: the capacity kept out of the scheduler's reach.
HOST_NUMBERS: Mapping[str, Bound] = {
    "RESERVED_CPU": Bound(float, -FIGURE_MAX, FIGURE_MAX, percent=True),
    "RESERVED_MEM": Bound(float, -FIGURE_MAX, FIGURE_MAX, percent=True),
}

#: Datastore templates (MB).
DATASTORE_NUMBERS: Mapping[str, Bound] = {
    name: Bound(int, 0, 2**50) for name in ("LIMIT_MB", "DUMMY_TOTAL_MB", "DUMMY_USED_MB")
}

#: Image templates (MB).
IMAGE_NUMBERS: Mapping[str, Bound] = {"SIZE": Bound(int, 0, 2**40)}

#: Virtual network templates and their address ranges.
VNET_NUMBERS: Mapping[str, Bound] = {
    # oned's AR SIZE is an unsigned int; one <= 0 is left to the AR's own message.
    "AR/SIZE": Bound(int, INT64_MIN, 2**32 - 1), "AR/AR_ID": _ID,
    "VLAN_ID": Bound(int, 0, 2**24), "OUTER_VLAN_ID": Bound(int, 0, 2**24),
}


def number_problem(template: Template, rules: Mapping[str, Bound]) -> str | None:
    """The first attribute of ``template`` out of its range in ``rules``, as a message."""
    by_name: dict[str, list] = {}
    for attr in template:
        by_name.setdefault(attr.name, []).append(attr)
    for spec, rule in rules.items():
        name, _, sub = spec.partition("/")
        for attr in by_name.get(name, ()):
            if isinstance(attr, SingleAttribute):
                value = "" if sub else attr.value
            else:
                value = (attr.get(sub) or "") if sub else ""
            problem = rule.problem(spec, value) if value.strip() else None
            if problem:
                return problem
    return None


def check_numbers(template: Template, rules: Mapping[str, Bound], oid: int = -1) -> None:
    """Raise TemplateValueError (INTERNAL, as oned's template errors) naming the first
    attribute out of range."""
    problem = number_problem(template, rules)
    if problem:
        raise TemplateValueError(problem, oid)


def saturate(value: float) -> int:
    """A figure to store: an int clamped to int64 (a sum must never wrap or fail to store)."""
    if isinstance(value, float) and math.isnan(value):
        return 0
    if value >= INT64_MAX:
        return INT64_MAX
    if value <= INT64_MIN:
        return INT64_MIN
    return int(value)


def figure(text: str | float) -> int:
    """A figure a driver reports (TOTALMEMORY, USED_MB...) as an int within
    [-FIGURE_MAX, FIGURE_MAX]: "1e400" or 2**70 must not reach a stored body.
    ValueError if it is not a number."""
    value = float(text)
    if math.isnan(value):
        raise ValueError(f"{text!r} is not a number")
    return int(max(-FIGURE_MAX, min(FIGURE_MAX, value)))
