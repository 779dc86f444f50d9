"""One TRANSFER operation: its payload read, its script run line by line, and undone
when a line fails.

A line is ``VERB TM_MAD ARGS...`` (nubo.lifecycle.transfer). Whatever a line makes
(a disk, the VM's directory, a snapshot copy) is recorded before it is made, so a
failing line leaves nothing of the operation behind: the operation fails with the
line and the reason, and the files it half made are removed. Deleting and moving
are not undone (they were asked for).
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from nubo.drivers.stopwatch import Stopwatch
from nubo.drivers.tm.transport import Host, TransferError, Transports

_DISK_RE = re.compile(r"/disk\.(\d+)$")


@dataclass
class VmFacts:
    """What the script needs of the VM's body: its hosts' VM_MAD and system datastore
    TM_MAD (its history records'), its DISKs."""

    xml: str = ""
    vm_mads: dict[str, str] = field(default_factory=dict)
    system_tms: dict[str, str] = field(default_factory=dict)
    disks: dict[int, dict[str, str]] = field(default_factory=dict)

    @classmethod
    def parse(cls, vm) -> VmFacts:
        """From the VM element of the payload (lxml), or None."""
        if vm is None:
            return cls()
        from lxml import etree
        facts = cls(xml=etree.tostring(vm, encoding="unicode"))
        for record in vm.iterfind("HISTORY_RECORDS/HISTORY"):
            name = record.findtext("HOSTNAME") or ""
            facts.vm_mads[name] = record.findtext("VM_MAD") or ""
            facts.system_tms[name] = record.findtext("TM_MAD") or ""
        for disk in vm.iterfind("TEMPLATE/DISK"):
            attrs = {child.tag: (child.text or "") for child in disk}
            try:
                facts.disks[int(attrs.get("DISK_ID", ""))] = attrs
            except ValueError:
                continue
        return facts


@dataclass(frozen=True)
class Line:
    verb: str
    tm_mad: str
    args: tuple[str, ...]
    text: str

    @classmethod
    def parse(cls, text: str) -> Line:
        words = text.split()
        if len(words) < 2:
            raise TransferError(f"malformed transfer command '{text}'")
        return cls(words[0].upper(), words[1], tuple(words[2:]), text)

    def arg(self, index: int) -> str:
        try:
            return self.args[index]
        except IndexError:
            raise TransferError(f"{self.verb} needs more arguments") from None


def split_location(location: str) -> tuple[str, str]:
    """``host:path`` -> (host, path); a bare path is on the front-end ("")."""
    host, sep, path = location.partition(":")
    return (host, path) if sep and not location.startswith("/") else ("", location)


class Operation:
    """One TRANSFER's script, run with an undo record."""

    def __init__(self, transports: Transports, vm_id: int, facts: VmFacts,
                 on_log: Callable[[str], None] = lambda m: None) -> None:
        self.transports = transports
        self.vm_id = vm_id
        self.facts = facts
        self.on_log = on_log
        self._made: list[tuple[Host, str]] = []
        self.watch = Stopwatch()  # a lap per line, named by its verb

    # -- places ------------------------------------------------------------------------
    def host(self, name: str) -> Host:
        if not name:
            return self.transports.frontend
        return self.transports.host(name, self.facts.vm_mads.get(name, ""))

    def place(self, tm_mad: str, location: str) -> tuple[Host, str]:
        """Where a path of a datastore with ``tm_mad`` is: the host's own filesystem
        (ssh), or the datastore shared with the front-end (shared, qcow2), where the
        front-end can act for the host. Not on a host whose system datastore is ``ssh``
        (its own disk, as OpenNebula's TM_MAD_SYSTEM=ssh): a disk or kernel of a shared
        datastore put in the VM's directory there is the host's file, as a shared TM
        script run on the host writes it (the image datastores are mounted there)."""
        name, path = split_location(location)
        if not path.startswith("/") or "/../" in f"{path}/":
            raise TransferError(f"'{location}' is not HOST:/ABSOLUTE/PATH")
        if tm_mad in ("shared", "qcow2") and self.facts.system_tms.get(name) != "ssh":
            return self.transports.frontend, path
        return self.host(name), path

    # -- undo ----------------------------------------------------------------------------
    def made(self, host: Host, path: str) -> None:
        """``path`` on ``host`` is about to be made by this operation."""
        self._made.append((host, path))

    def make_parent(self, host: Host, path: str) -> None:
        parent = path.rsplit("/", 1)[0] or "/"
        missing = []
        while parent not in ("", "/") and not host.exists(parent):
            missing.append(parent)
            parent = parent.rsplit("/", 1)[0]
        if missing:
            self.made(host, missing[-1])  # the topmost directory this operation creates
            host.mkdir(missing[0])

    def undo(self) -> None:
        for host, path in reversed(self._made):
            try:
                host.remove(path)
            except TransferError as e:
                self.on_log(f"cleaning {host.name}:{path} failed: {e}")
        self._made.clear()

    # -- running ---------------------------------------------------------------------------
    def run(self, script: str) -> None:
        """Every line, in order; raises TransferError naming the failing line, after
        removing what the operation made."""
        from nubo.drivers.tm import verbs
        lines = [text.strip() for text in script.splitlines() if text.strip()]
        for number, text in enumerate(lines, 1):
            try:
                line = Line.parse(text)
                if line.tm_mad == "dummy":
                    continue
                verb = verbs.VERBS.get(line.verb)
                if verb is None:
                    raise TransferError(f"unknown transfer command {line.verb}")
                if line.tm_mad not in verbs.TM_MADS:
                    raise TransferError(f"unknown TM_MAD '{line.tm_mad}' (known: "
                                        f"{', '.join(sorted(verbs.TM_MADS))}, dummy)")
                verb(self, line)
                self.watch.lap(line.verb)
            except (TransferError, OSError, ValueError) as e:
                self.undo()
                raise TransferError(f"line {number} '{text}': {e}") from None

    def disk_attrs(self, path: str) -> dict[str, str]:
        """The DISK a ``.../disk.N`` path stands for (empty if none)."""
        found = _DISK_RE.search(path)
        return self.facts.disks.get(int(found.group(1)), {}) if found else {}
