"""What every action of the kvm driver gets: its request, the VM in its payload, the
VM's domain on the host, and the driver's options.

The actions themselves are in vmm.py (a VM's life: deploy to migrate, poll) and
changes.py (hotplug, snapshots, resize); they raise :class:`ActionError` with the
FAILURE's message, or let libvirt's errors through for vmm.Vmm.handle to word.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import libvirt
from lxml import etree

from nubo.drivers import protocol as p
from nubo.drivers.kvm.devices import vector
from nubo.drivers.kvm.domain import domain_name, parse_vm, vm_dir
from nubo.drivers.kvm.hosts import Hosts

Log = Callable[[str, str], None]
Answer = tuple[bool, str]


class ActionError(RuntimeError):
    """The action failed; the message is the FAILURE's INFO."""


@dataclass(frozen=True)
class Options:
    datastore_location: str = "/var/lib/one/datastores"
    shutdown_timeout: float = 300.0
    shutdown_destroy: bool = True
    emulator: str = ""
    migrate_uri: str = "tcp://{host}"
    detach_wait: float = 10.0
    #: the network driver on a remote host (nubo.drivers.kvm.network), the step follows
    vnm_command: str = ""  # "": the host's vnm.pyz (nubo.drivers.kvm.remote)
    migrate_local_name: str = ""  # this machine as other hosts reach it (live migration)
    qemu_user: str = ""  # "UID:GID" QEMU runs as (domain.HostFacts), "" libvirt's


class Call:
    """One request: its VM (parsed on first use), host, domain name and log."""

    def __init__(self, hosts: Hosts, options: Options, req: p.Request, log: Log) -> None:
        self.hosts, self.options, self.req, self.log = hosts, options, req, log
        if not req.host:
            raise ActionError(f"{req.action} needs a host")
        self.host: str = req.host
        self._vm: etree._Element | None = None

    @property
    def vm(self) -> etree._Element:
        if self._vm is None:
            if not self.req.payload:
                raise ActionError(f"{self.req.action} needs the VM's body as payload")
            self._vm = parse_vm(self.req.payload)
        return self._vm

    @property
    def name(self) -> str:
        return domain_name(self.vm) if self.req.payload else f"one-{self.req.oid}"

    def vm_dir(self, host: str | None = None) -> str:
        return vm_dir(self.vm, self.options.datastore_location, host or self.host)

    def template(self, path: str) -> str:
        for where in ("USER_TEMPLATE", "TEMPLATE"):
            value = (self.vm.findtext(f"{where}/{path}") or "").strip()
            if value:
                return value
        return ""

    def marked(self, tag: str, mark: str = "ATTACH") -> dict[str, str]:
        for elem in self.vm.iterfind(f"TEMPLATE/{tag}"):
            vec = vector(elem)
            if vec.get(mark, "").upper() == "YES":
                return vec
        raise ActionError(f"the VM has no {tag} marked {mark}=YES")

    def domain(self, host: str | None = None) -> libvirt.virDomain | None:
        """The VM's domain on the host, None if it has none."""
        def lookup(conn: libvirt.virConnect) -> libvirt.virDomain | None:
            try:
                return conn.lookupByName(self.name)
            except libvirt.libvirtError as e:
                if e.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
                    return None
                raise
        return self.hosts.call(host or self.host, lookup)

    def running(self) -> libvirt.virDomain:
        dom = self.domain()
        if dom is None:
            raise ActionError(f"domain {self.name} is not running on {self.host}")
        return dom


def gone(e: libvirt.libvirtError) -> bool:
    """The error says the domain is no more (or no longer running)."""
    return e.get_error_code() in (libvirt.VIR_ERR_NO_DOMAIN, libvirt.VIR_ERR_OPERATION_INVALID)


@contextmanager
def unless_gone() -> Iterator[None]:
    """The domain vanishing under an action that was to end it is no failure."""
    try:
        yield
    except libvirt.libvirtError as e:
        if not gone(e):
            raise


def forget(dom: libvirt.virDomain) -> None:
    """Undefine a domain left persistent (by a migration, by hand): nubo's are transient."""
    with unless_gone():
        if dom.isPersistent():
            dom.undefineFlags(libvirt.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE
                              | libvirt.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA)
