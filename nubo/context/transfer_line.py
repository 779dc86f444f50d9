"""The CONTEXT line of a transfer script, which makes the context CD-ROM on the host.

oned's TransferManager writes, at PROLOG and when a running VM's context changes
(NIC hotplug, updateconf), ``CONTEXT TM_MAD CONTEXT_SH [FILE ...] HOST:DIR/disk.N
VM_ID DS_ID``. nubo's transfer driver renders context.sh itself from the VM in the
TRANSFER payload (nubo.context.iso.write_context_iso), so the line has no
CONTEXT_SH::

    CONTEXT TM_MAD [FILE ...] HOST:SYSTEM_DIR/disk.N VM_ID DS_ID

FILEs are the FILES_DS entries as stored (``SOURCE:'name'``) then the FILES paths,
the words the PROLOG script of nubo.lifecycle.transfer writes.
"""
from __future__ import annotations

from typing import NamedTuple

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
    files = [word for key in ("FILES_DS", "FILES") for word in (context.get(key) or "").split()]
    fields = ["CONTEXT", tm_mad, *files,
              f"{host}:{system_dir.rstrip('/')}/disk.{disk_id}", str(vm_id), str(ds_id)]
    return " ".join(fields)


def parse_context_line(line: str) -> ContextLine:
    """Read a CONTEXT line back; ValueError if it is not one."""
    fields = line.split()
    if len(fields) < 5 or fields[0] != "CONTEXT":
        raise ValueError(f"not a CONTEXT transfer line: {line!r}")
    host, sep, path = fields[-3].partition(":")
    if not sep or not fields[-2].lstrip("-").isdigit() or not fields[-1].lstrip("-").isdigit():
        raise ValueError(f"malformed CONTEXT transfer line: {line!r}")
    return ContextLine(fields[1], fields[2:-3], host, path, int(fields[-2]), int(fields[-1]))
