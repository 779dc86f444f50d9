"""What the dummy drivers do for each action, per role (vmm, im, tm, ds).

As OpenNebula's dummy drivers, nothing real happens, but unlike them the dummy
keeps the VMs of every host, so host monitoring and VM polling report what was
deployed, and a VM can be made to vanish (``DUMMY_DESTROY``) to test what the
core does when a VM disappears outside its control.

Fault injection: any payload holding ``DUMMY_FAIL = "DEPLOY,SHUTDOWN"`` (in a
VM's template or user template, a host's template, ...) makes those actions
answer FAILURE; ``*`` fails every action. A host switched down (nubo.drivers.dummy.down)
is unreachable: its actions fail, its VMs keep running.
"""
from __future__ import annotations

import base64
from collections.abc import Callable

from nubo.drivers.dummy.down import DownHosts
from nubo.drivers.dummy.payload import Doc
from nubo.drivers.dummy.state import DummyState, Vm
from nubo.drivers.protocol import Request

Outcome = tuple[bool, str]
Handler = Callable[[Request, Doc], Outcome]

VMM_ACTIONS = frozenset({
    "DEPLOY", "SHUTDOWN", "CANCEL", "REBOOT", "RESET", "SAVE", "RESTORE", "MIGRATE", "POLL",
    "ATTACHDISK", "DETACHDISK", "ATTACHNIC", "DETACHNIC", "SNAPSHOTCREATE", "SNAPSHOTREVERT",
    "SNAPSHOTDELETE", "DISKSNAPSHOTCREATE", "RESIZEDISK", "UPDATESG", "UPDATECONF", "RESIZE",
    "CLEANUP", "DUMMY_DESTROY"})
IM_ACTIONS = frozenset({"MONITOR", "STOPMONITOR"})
TM_ACTIONS = frozenset({
    "CLONE", "LN", "MKSWAP", "MKIMAGE", "DELETE", "MV", "MVDS", "CPDS", "CONTEXT",
    "PREMIGRATE", "POSTMIGRATE", "FAILMIGRATE", "SNAP_CREATE", "SNAP_DELETE", "SNAP_REVERT",
    "TRANSFER"})
DS_ACTIONS = frozenset({
    "CP", "MKFS", "RM", "STAT", "CLONE", "MONITOR", "SNAP_DELETE", "SNAP_REVERT",
    "SNAP_FLATTEN", "EXPORT"})
ROLES = {"vmm": VMM_ACTIONS, "im": IM_ACTIONS, "tm": TM_ACTIONS, "ds": DS_ACTIONS}

DEFAULT_VM_CPU = 1.0  # cores, when a VM's template has no CPU
DEFAULT_VM_MEMORY = 128  # MB
DEFAULT_DS_MB = 1024 * 1024
CPUSPEED = 2200


def check_roles(roles: list[str]) -> None:
    """Roles served by one process must not share action names (MONITOR: im and ds)."""
    seen: dict[str, str] = {}
    for role in roles:
        if role not in ROLES:
            raise ValueError(f"unknown role '{role}' (choose from {', '.join(ROLES)})")
        for action in ROLES[role]:
            if action in seen and seen[action] != role:
                raise ValueError(f"roles {seen[action]} and {role} both have {action}; "
                                 "run them as separate processes")
            seen[action] = role


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode("ascii")


def poll_info(vm: Vm | None) -> str:
    """OpenNebula's poll string: STATE=a (active) with usage, or STATE=d (gone)."""
    if vm is None:
        return "STATE=d"
    return f"STATE=a CPU={vm.cpu} MEMORY={vm.memory} NETRX=0 NETTX=0"


class DummyDriver:
    """Maps an action to its handler and applies fault injection."""

    def __init__(self, roles: list[str], state: DummyState,
                 down: DownHosts | None = None) -> None:
        check_roles(roles)
        self.roles = roles
        self.state = state
        self.down = down or DownHosts(None)
        self.down.powered_off = self._power_off
        self.handlers: dict[str, Handler] = {}
        for role in roles:
            for action in ROLES[role]:
                self.handlers[action] = getattr(self, f"_{role}_{action.lower()}",
                                                getattr(self, f"_{role}_default"))

    def handle(self, req: Request) -> Outcome:
        handler = self.handlers.get(req.action)
        if handler is None:
            return False, f"dummy {'/'.join(self.roles)} driver: unsupported action {req.action}"
        if req.host in self.down:
            return False, f"host {req.host} is unreachable (switched down)"
        doc = Doc(req.payload)
        fail = doc.names_list("DUMMY_FAIL") if b"DUMMY_FAIL" in req.payload else ()
        if req.action in fail or "*" in fail:
            return False, f"DUMMY_FAIL: injected failure of {req.action}"
        return handler(req, doc)

    # ------------------------------------------------------------------ vmm
    def _size(self, doc: Doc) -> tuple[int, int]:
        cpu = doc.number("CPU", DEFAULT_VM_CPU, template_only=True)
        memory = doc.number("MEMORY", DEFAULT_VM_MEMORY, template_only=True)
        return int(round(cpu * 100)), int(memory * 1024)

    def _vmm_deploy(self, req: Request, doc: Doc) -> Outcome:
        if req.host is None:
            return False, f"{req.action} needs a host"
        vm = self.state.find(req.oid, req.host)
        if vm is None:  # deploying again on the same host (recovery) is a no-op
            cpu, memory = self._size(doc)
            vm = self.state.place(req.oid, req.host, cpu, memory, f"one-{req.oid}")
        return True, vm.deploy_id

    _vmm_restore = _vmm_deploy

    def _power_off(self, host: str) -> None:
        """A host switched off (fenced): its VMs are gone."""
        for oid in list(self.state.host(host).vms):
            self.state.remove(oid)

    def held(self, req: Request) -> bool:
        """An action under way for a host switched down waits until it is back (its
        answer arrives late), as a command that reached a host cut off meanwhile."""
        return req.host in self.down

    def _vmm_shutdown(self, req: Request, doc: Doc) -> Outcome:
        # Idempotent: after a crash the core may ask again for what was done. Only the
        # VM on that host: a stray copy's CANCEL must not stop the VM where it belongs.
        if req.host is None or self.state.find(req.oid, req.host) is not None:
            self.state.remove(req.oid)
        return True, ""

    _vmm_cancel = _vmm_save = _vmm_cleanup = _vmm_dummy_destroy = _vmm_shutdown

    def _vmm_migrate(self, req: Request, doc: Doc) -> Outcome:
        vm = self.state.find(req.oid, None)
        if vm is None:
            return False, f"VM {req.oid} is not running"
        # Sent to the source host (HOST); the destination is the VM's newest record.
        destination = doc.last("HISTORY_RECORDS/HISTORY/HOSTNAME")
        if not destination:
            return False, "MIGRATE needs the destination host (the VM's last HISTORY)"
        self.state.place(vm.oid, destination, vm.cpu, vm.memory, vm.deploy_id)
        return True, ""

    def _vmm_poll(self, req: Request, doc: Doc) -> Outcome:
        return True, poll_info(self.state.find(req.oid, req.host))

    def _vmm_resize(self, req: Request, doc: Doc) -> Outcome:
        vm = self.state.find(req.oid, req.host)
        if vm is None:
            return False, f"VM {req.oid} is not running on {req.host}"
        cpu, memory = self._size(doc)
        self.state.place(vm.oid, vm.host, cpu, memory, vm.deploy_id)
        return True, ""

    def _vmm_snapshotcreate(self, req: Request, doc: Doc) -> Outcome:
        vm = self.state.find(req.oid, req.host)
        if vm is None:
            return False, f"VM {req.oid} is not running on {req.host}"
        vm.snapshots += 1
        return True, f"dummy-snap-{vm.snapshots}"

    def _vmm_disksnapshotcreate(self, req: Request, doc: Doc) -> Outcome:
        return self._vmm_snapshotcreate(req, doc)

    def _vmm_default(self, req: Request, doc: Doc) -> Outcome:
        """Reboot, hotplug, snapshots...: fine if the VM runs there."""
        if self.state.find(req.oid, req.host) is None:
            return False, f"VM {req.oid} is not running on {req.host or 'any host'}"
        return True, ""

    # ------------------------------------------------------------------ im
    def _im_monitor(self, req: Request, doc: Doc) -> Outcome:
        if req.host is None:
            return False, "MONITOR needs a host name"
        host = self.state.host(req.host)
        if b"DUMMY_TOTAL" in req.payload:
            host = self.state.set_capacity(
                req.host, int(doc.number("DUMMY_TOTALCPU", host.total_cpu)),
                int(doc.number("DUMMY_TOTALMEMORY", host.total_memory)))
        used_cpu, used_mem = host.used_cpu, host.used_memory
        lines = [
            'HYPERVISOR="dummy"', f'HOSTNAME="{host.name}"', f'CPUSPEED="{CPUSPEED}"',
            f'TOTALCPU="{host.total_cpu}"', f'USEDCPU="{used_cpu}"',
            f'FREECPU="{max(0, host.total_cpu - used_cpu)}"',
            f'TOTALMEMORY="{host.total_memory}"', f'USEDMEMORY="{used_mem}"',
            f'FREEMEMORY="{max(0, host.total_memory - used_mem)}"',
            'NETRX="0"', 'NETTX="0"', f'RUNNING_VMS="{len(host.vms)}"']
        lines += [f'VM=[ID="{vm.oid}",DEPLOY_ID="{vm.deploy_id}",POLL="{poll_info(vm)}"]'
                  for vm in host.vms.values()]
        return True, _b64("\n".join(lines) + "\n")

    def _im_default(self, req: Request, doc: Doc) -> Outcome:
        return True, ""

    # ------------------------------------------------------------------ tm
    def _tm_default(self, req: Request, doc: Doc) -> Outcome:
        return True, ""

    def _tm_transfer(self, req: Request, doc: Doc) -> Outcome:
        """A transfer script (nubo.core.transfer_payload): every line must be a command the
        transfer drivers know; DUMMY_FAIL may name the operation (PROLOG, EPILOG...)
        or one of its commands (CLONE, MKSWAP...)."""
        action, lines = doc.get("ACTION") or "", (doc.get("SCRIPT") or "").splitlines()
        verbs = {line.split(None, 1)[0].upper() for line in lines if line.strip()}
        unknown = sorted(verbs - TM_ACTIONS)
        if unknown:
            return False, f"unknown transfer command {unknown[0]}"
        fail = doc.names_list("DUMMY_FAIL") if b"DUMMY_FAIL" in req.payload else set()
        hit = sorted(({action.upper()} | verbs) & fail)
        if hit:
            return False, f"DUMMY_FAIL: injected failure of {hit[0]}"
        return True, ""

    # ------------------------------------------------------------------ ds
    def _ds_cp(self, req: Request, doc: Doc) -> Outcome:
        size = int(doc.number("SIZE", 1024))
        return True, f"dummy_path/{req.oid} raw {size}"

    _ds_mkfs = _ds_clone = _ds_cp

    def _ds_stat(self, req: Request, doc: Doc) -> Outcome:
        return True, str(int(doc.number("SIZE", 1024)))

    def _ds_monitor(self, req: Request, doc: Doc) -> Outcome:
        total = int(doc.number("DUMMY_TOTAL_MB", DEFAULT_DS_MB))
        used = min(total, int(doc.number("DUMMY_USED_MB", 0)))
        return True, _b64(f"USED_MB={used}\nTOTAL_MB={total}\nFREE_MB={total - used}\n")

    def _ds_default(self, req: Request, doc: Doc) -> Outcome:
        return True, ""
