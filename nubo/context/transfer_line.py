"""The CONTEXT line of a transfer script, which makes the context CD-ROM on the host.

oned's TransferManager writes, at PROLOG and when a running VM's context changes
(NIC hotplug, updateconf)::

    CONTEXT TM_MAD CONTEXT_SH [FILE ...] HOST:SYSTEM_DIR/disk.N VM_ID DS_ID

nubo's transfer driver renders context.sh itself from the VM in the TRANSFER
payload (nubo.context.iso.write_context_iso), so CONTEXT_SH is the plain name
``context.sh``; FILEs are the FILES paths and the SOURCE of each FILES_DS image
(the names they get on the CD-ROM come from the VM's CONTEXT).
"""
from __future__ import annotations

from typing import NamedTuple

from nubo.context.script import SCRIPT_NAME, context_files
from nubo.template import Template


class ContextLine(NamedTuple):
    """A parsed CONTEXT line."""

    tm_mad: str
    files: list[str]
    host: str
    path: str        # SYSTEM_DIR/disk.N on the host
    vm_id: int
    ds_id: int


def context_line(template: Template, tm_mad: str, host: str, system_dir: str, vm_id: int,
                 ds_id: int) -> str | None:
    """The CONTEXT line for a VM's template (None if it has no CONTEXT)."""
    context = template.get_vector("CONTEXT")
    if context is None:
        return None
    disk_id = context.get("DISK_ID") or str(len(template.get_vectors("DISK")))
    files = [f.source for f in context_files(context)]
    fields = ["CONTEXT", tm_mad, SCRIPT_NAME, *files,
              f"{host}:{system_dir.rstrip('/')}/disk.{disk_id}", str(vm_id), str(ds_id)]
    return " ".join(fields)


def parse_context_line(line: str) -> ContextLine:
    """Read a CONTEXT line back; ValueError if it is not one."""
    fields = line.split()
    if len(fields) < 6 or fields[0] != "CONTEXT":
        raise ValueError(f"not a CONTEXT transfer line: {line!r}")
    host, sep, path = fields[-3].partition(":")
    if not sep or not fields[-2].lstrip("-").isdigit() or not fields[-1].lstrip("-").isdigit():
        raise ValueError(f"malformed CONTEXT transfer line: {line!r}")
    return ContextLine(fields[1], fields[3:-3], host, path, int(fields[-2]), int(fields[-1]))
