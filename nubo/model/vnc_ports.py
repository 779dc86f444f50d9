"""Which VNC port a VM's GRAPHICS gets on its cluster, as oned's VNC_PORTS: START + the
VM's id when that port is free (so a VM's console is found at a port one can work out),
else the lowest free port from START up; a PORT the user wrote is theirs if free.
Pure: the ports taken in, the choice out (nubo.store.vnc_ports keeps them).
"""
from __future__ import annotations

from collections.abc import Collection

MAX_PORT = 65535


class VncPortError(ValueError):
    """No port can be given; the message is oned's."""


def choose(vm_id: int, start: int, taken: Collection[int], wanted: int | None = None) -> int:
    """The port for the VM: ``wanted`` if free, else START + id, else the lowest free."""
    if wanted is not None:
        if wanted in taken:
            raise VncPortError("Requested VNC port already assigned to a VM")
        return wanted
    span = MAX_PORT - start + 1
    if span <= 0:
        raise VncPortError("No free VNC ports available in the cluster")
    first = start + vm_id % span
    if first not in taken:
        return first
    for port in range(start, MAX_PORT + 1):
        if port not in taken:
            return port
    raise VncPortError("No free VNC ports available in the cluster")
