"""The simulated hosts and the VMs running on them.

Real hypervisors outlive the core; a dummy driver is a child of the core and
dies with it. So that crash-recovery tests can see the VMs "still running" after
the core (and with it the driver) was killed, the state can be kept in a
journal file (``--state FILE``): one line per change, appended before the
answer is written, replayed at start and compacted when mostly obsolete.
Without a file the state lives in memory only.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(slots=True)
class Vm:
    oid: int
    host: str
    cpu: int  # percent of a core (TOTALCPU units: 100 = one core)
    memory: int  # KB
    deploy_id: str
    snapshots: int = 0


@dataclass(slots=True)
class Host:
    name: str
    total_cpu: int
    total_memory: int  # KB
    vms: dict[int, Vm] = field(default_factory=dict)

    @property
    def used_cpu(self) -> int:
        return sum(vm.cpu for vm in self.vms.values())

    @property
    def used_memory(self) -> int:
        return sum(vm.memory for vm in self.vms.values())


class DummyState:
    """Hosts by name, VMs by id (a VM is on at most one host)."""

    def __init__(self, default_cpu: int = 800, default_memory: int = 16 * 1024 * 1024,
                 journal: Path | None = None) -> None:
        self.default_cpu = default_cpu
        self.default_memory = default_memory
        self.hosts: dict[str, Host] = {}
        self.vms: dict[int, Vm] = {}
        self._journal_path = journal
        self._pending: list[str] = []
        self._lines = 0
        self._fd = -1
        if journal is not None:
            self._replay(journal)
            self._compact()

    # ------------------------------------------------------------------ changes
    def host(self, name: str) -> Host:
        host = self.hosts.get(name)
        if host is None:
            host = self.hosts[name] = Host(name, self.default_cpu, self.default_memory)
        return host

    def set_capacity(self, name: str, cpu: int, memory: int) -> Host:
        host = self.host(name)
        if (host.total_cpu, host.total_memory) != (cpu, memory):
            host.total_cpu, host.total_memory = cpu, memory
            self._log(f"H {name} {cpu} {memory}")
        return host

    def place(self, oid: int, host: str, cpu: int, memory: int, deploy_id: str) -> Vm:
        """Run VM ``oid`` on ``host`` (moving it if it ran elsewhere)."""
        self.remove(oid, journal=False)
        vm = Vm(oid, host, cpu, memory, deploy_id)
        self.host(host).vms[oid] = vm
        self.vms[oid] = vm
        self._log(f"+ {oid} {host} {cpu} {memory} {deploy_id}")
        return vm

    def remove(self, oid: int, journal: bool = True) -> Vm | None:
        vm = self.vms.pop(oid, None)
        if vm is not None:
            self.hosts[vm.host].vms.pop(oid, None)
            if journal:
                self._log(f"- {oid}")
        return vm

    def find(self, oid: int, host: str | None) -> Vm | None:
        """The VM if it runs on ``host`` (anywhere when host is None)."""
        vm = self.vms.get(oid)
        return vm if vm is not None and (host is None or vm.host == host) else None

    # ------------------------------------------------------------------ journal
    def _log(self, line: str) -> None:
        if self._journal_path is not None:
            self._pending.append(line + "\n")

    def flush(self) -> None:
        """Write the changes of this batch; called before the answers go out."""
        if not self._pending:
            return
        data = "".join(self._pending).encode()
        self._lines += len(self._pending)
        self._pending.clear()
        while data:
            data = data[os.write(self._fd, data):]
        if self._lines > 4 * (len(self.vms) + len(self.hosts)) + 10_000:
            self._compact()

    def _replay(self, path: Path) -> None:
        try:
            text = path.read_text()
        except FileNotFoundError:
            return
        for line in text.splitlines():
            f = line.split()
            try:
                if f[0] == "H":
                    self.host(f[1]).total_cpu, self.host(f[1]).total_memory = int(f[2]), int(f[3])
                elif f[0] == "+":
                    self.place(int(f[1]), f[2], int(f[3]), int(f[4]), f[5])
                elif f[0] == "-":
                    self.remove(int(f[1]))
            except (IndexError, ValueError):
                continue  # a torn last line after a crash
        self._pending.clear()

    def _compact(self) -> None:
        """Rewrite the journal as the current state (atomically, by rename)."""
        assert self._journal_path is not None
        lines = [f"H {h.name} {h.total_cpu} {h.total_memory}\n" for h in self.hosts.values()]
        lines += [f"+ {v.oid} {v.host} {v.cpu} {v.memory} {v.deploy_id}\n"
                  for v in self.vms.values()]
        tmp = self._journal_path.with_name(self._journal_path.name + ".tmp")
        tmp.write_text("".join(lines))
        os.replace(tmp, self._journal_path)
        if self._fd >= 0:
            os.close(self._fd)
        self._fd = os.open(self._journal_path, os.O_WRONLY | os.O_APPEND)
        self._lines = len(lines)
