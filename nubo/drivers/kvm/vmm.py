"""The kvm driver's virtualization actions over libvirt-python.

Each action takes the request (ID, HOST, the VM's body as payload) and answers
(success, INFO), as OpenNebula's vmm/kvm scripts do with virsh. Domains are
transient (createXML), named one-<ID>: a VM that is not running has no domain, so its
template alone says what the next DEPLOY or RESTORE makes of it, and a change made
while it is off (a disk or NIC attached cold) needs nothing here.

Actions that recovery may repeat answer as their first run did: DEPLOY or RESTORE of
a domain already running answer its name; SHUTDOWN, CANCEL of one that is gone, a
DETACH of what is gone, a SNAPSHOTDELETE of a missing snapshot succeed.
"""
from __future__ import annotations

import base64
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from xml.sax.saxutils import escape

import libvirt
from lxml import etree

from nubo.drivers import protocol as p
from nubo.drivers.kvm import poll as polling
from nubo.drivers.kvm.devices import DomainError, disk_element, nic_element, vector
from nubo.drivers.kvm.domain import (
    HostFacts, domain_name, domain_xml, history, parse_vm, vm_dir,
)
from nubo.drivers.kvm.hosts import HostError, Hosts, libvirt_message

Log = Callable[[str, str], None]
Answer = tuple[bool, str]
LIVE = libvirt.VIR_DOMAIN_AFFECT_LIVE


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


class Call:
    """One request: its VM (parsed on first use), host, domain name and log."""

    def __init__(self, driver: Vmm, req: p.Request, log: Log) -> None:
        self.driver, self.req, self.log = driver, req, log
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
        return vm_dir(self.vm, self.driver.options.datastore_location, host or self.host)

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
        return self.driver.hosts.call(host or self.host, lookup)

    def running(self) -> libvirt.virDomain:
        dom = self.domain()
        if dom is None:
            raise ActionError(f"domain {self.name} is not running on {self.host}")
        return dom


def _gone(e: libvirt.libvirtError) -> bool:
    return e.get_error_code() in (libvirt.VIR_ERR_NO_DOMAIN, libvirt.VIR_ERR_OPERATION_INVALID)


def _forget(dom: libvirt.virDomain) -> None:
    """Undefine a domain left persistent (by a migration, by hand): nubo's are transient."""
    try:
        if dom.isPersistent():
            dom.undefineFlags(libvirt.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE
                              | libvirt.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA)
    except libvirt.libvirtError as e:
        if not _gone(e):
            raise


class Vmm:
    """Answers the virtualization actions; ``handle`` is threaded.serve's handler."""

    def __init__(self, hosts: Hosts, options: Options = Options()) -> None:
        self.hosts, self.options = hosts, options
        self._cpu: dict[tuple[str, str], tuple[float, int]] = {}
        self._cpu_lock = threading.Lock()
        self.actions: dict[str, Callable[[Call], Answer]] = {
            "DEPLOY": self.deploy, "SHUTDOWN": self.shutdown, "CANCEL": self.cancel,
            "CLEANUP": self.cancel, "SAVE": self.save, "RESTORE": self.restore,
            "REBOOT": self.reboot, "RESET": self.reset, "POLL": self.poll,
            "MIGRATE": self.migrate, "ATTACHDISK": self.attach_disk,
            "DETACHDISK": self.detach_disk, "ATTACHNIC": self.attach_nic,
            "DETACHNIC": self.detach_nic, "SNAPSHOTCREATE": self.snapshot_create,
            "SNAPSHOTREVERT": self.snapshot_revert, "SNAPSHOTDELETE": self.snapshot_delete,
            "RESIZE": self.resize, "UPDATECONF": self.nothing, "UPDATESG": self.nothing,
        }

    def handle(self, req: p.Request, log: Log = lambda level, m: None) -> Answer:
        if req.action == "MONITOR":
            return monitor(req)
        action = self.actions.get(req.action)
        if action is None:
            return False, f"unsupported action {req.action}"
        try:
            return action(Call(self, req, log))
        except (ActionError, DomainError, HostError) as e:
            return False, str(e)
        except libvirt.libvirtError as e:
            return False, f"{req.action} failed: {libvirt_message(e)}"

    # ------------------------------------------------------------------ life

    def deploy(self, c: Call) -> Answer:
        directory = c.vm_dir()
        facts = HostFacts(directory, self.hosts.domain_type_of(c.host), self.options.emulator)
        xml = domain_xml(c.vm, facts)
        name = f"one-{c.req.oid}"
        dom = c.domain()
        if dom is not None:
            if dom.isActive():
                c.log("I", f"domain {name} already runs on {c.host}")
                return True, name
            _forget(dom)
        self.hosts.make_dir(c.host, directory)
        start = time.monotonic()
        dom = self.hosts.call(c.host, lambda conn: conn.createXML(xml, 0))
        c.log("I", f"created domain {name} ({facts.domain_type}) on {c.host} in "
                   f"{time.monotonic() - start:.3f} s")
        return True, dom.name()

    def shutdown(self, c: Call) -> Answer:
        """ACPI power button, pressed again every 5 s until the domain is gone or the
        timeout (the VM's SHUTDOWN_TIMEOUT, else --shutdown-timeout) passes; then
        destroyed with --shutdown-destroy, else FAILURE."""
        dom = c.domain()
        if dom is None:
            return True, ""
        try:
            timeout = float(c.template("SHUTDOWN_TIMEOUT") or self.options.shutdown_timeout)
        except ValueError:
            timeout = self.options.shutdown_timeout
        deadline = time.monotonic() + timeout
        pressed = 0.0
        try:
            while time.monotonic() < deadline:
                if not dom.isActive():
                    break
                if time.monotonic() - pressed >= 5:
                    dom.shutdownFlags(libvirt.VIR_DOMAIN_SHUTDOWN_ACPI_POWER_BTN)
                    pressed = time.monotonic()
                time.sleep(0.2)
            else:
                if not self.options.shutdown_destroy:
                    return False, f"domain {c.name} did not stop within {timeout:g} s"
                c.log("W", f"domain {c.name} did not stop within {timeout:g} s: destroyed")
                dom.destroy()
        except libvirt.libvirtError as e:
            if not _gone(e):
                raise
        _forget(dom)
        return True, ""

    def cancel(self, c: Call) -> Answer:
        dom = c.domain()
        if dom is not None:
            try:
                dom.destroy()
            except libvirt.libvirtError as e:
                if not _gone(e):
                    raise
            _forget(dom)
        return True, ""

    def save(self, c: Call) -> Answer:
        checkpoint = f"{c.vm_dir()}/checkpoint"
        dom = c.domain()
        if dom is None:
            if self.hosts.exists(c.host, checkpoint):
                return True, ""  # saved before (recovery repeats it)
            raise ActionError(f"domain {c.name} is not running on {c.host}")
        self.hosts.make_dir(c.host, c.vm_dir())
        start = time.monotonic()
        dom.save(checkpoint)
        _forget(dom)
        c.log("I", f"saved {c.name} to {checkpoint} in {time.monotonic() - start:.1f} s")
        return True, ""

    def restore(self, c: Call) -> Answer:
        dom = c.domain()
        if dom is not None and dom.isActive():
            return True, dom.name()
        checkpoint = f"{c.vm_dir()}/checkpoint"
        self.hosts.call(c.host, lambda conn: conn.restoreFlags(
            checkpoint, None, libvirt.VIR_DOMAIN_SAVE_RUNNING))
        dom = c.running()
        self.hosts.remove(c.host, checkpoint)
        return True, dom.name()

    def reboot(self, c: Call) -> Answer:
        c.running().reboot(0)
        return True, ""

    def reset(self, c: Call) -> Answer:
        c.running().reset(0)
        return True, ""

    def nothing(self, c: Call) -> Answer:
        """UPDATECONF, UPDATESG: nothing to do in the hypervisor yet (the context CD-ROM
        is rewritten by the transfer driver; security groups by the network driver)."""
        return True, ""

    # ------------------------------------------------------------------ poll

    def poll(self, c: Call) -> Answer:
        dom = c.domain()
        if dom is None:
            return True, "STATE=d"

        def stats(kinds: int) -> dict:
            got = self.hosts.call(c.host, lambda conn: conn.domainListGetStats([dom], kinds))
            return got[0][1] if got else {}

        now = stats(polling.STATS)
        key = (c.host, c.name)
        sample = (time.monotonic(), int(now.get("cpu.time", 0)))
        with self._cpu_lock:
            before = self._cpu.get(key)
        if before is None or sample[0] - before[0] > 600:
            time.sleep(0.2)
            before = sample
            again = stats(libvirt.VIR_DOMAIN_STATS_CPU_TOTAL)
            sample = (time.monotonic(), int(again.get("cpu.time", 0)))
        with self._cpu_lock:
            self._cpu[key] = sample
        return True, polling.poll_line(now, polling.cpu_percent(before, sample))

    # ------------------------------------------------------------------ migration

    def migrate(self, c: Call) -> Answer:
        """Live, from HOST to the newest HISTORY's host: the driver holds a connection
        to both, as ``virsh migrate --live one-N qemu+ssh://dst/system`` run on the
        source does; QEMU streams memory straight to the destination."""
        record = history(c.vm)
        dest = (record.findtext("HOSTNAME") or "").strip() if record is not None else ""
        if not dest or dest == c.host:
            raise ActionError(f"MIGRATE needs a destination other than {c.host} in the "
                              "VM's newest HISTORY record")
        there = c.domain(dest)
        if there is not None and there.isActive():
            return True, ""  # done before (recovery repeats it)
        dom = c.running()
        dconn = self.hosts.connection(dest)
        target = dest if not self.hosts.is_local(dest) else dconn.getHostname()
        flags = libvirt.VIR_MIGRATE_LIVE | libvirt.VIR_MIGRATE_UNSAFE
        params = {libvirt.VIR_MIGRATE_PARAM_URI: self.options.migrate_uri.format(host=target)}
        start = time.monotonic()
        dom.migrate3(dconn, params, flags)
        c.log("I", f"migrated {c.name} {c.host} -> {dest} in {time.monotonic() - start:.1f} s")
        _forget(dom)
        return True, ""

    # ------------------------------------------------------------------ hotplug

    def _devices(self, c: Call) -> tuple[str, str]:
        os_vec = vector(c.vm.find("TEMPLATE/OS"))
        return (os_vec.get("MACHINE", ""), (os_vec.get("SD_DISK_BUS") or "scsi").lower())

    def _live(self, dom: libvirt.virDomain) -> etree._Element:
        return etree.fromstring(dom.XMLDesc(0))

    def attach_disk(self, c: Call) -> Answer:
        machine, sd_bus = self._devices(c)
        elem = disk_element(c.marked("DISK"), c.vm_dir(), machine=machine, sd_bus=sd_bus)
        target = elem.find("target").get("dev")
        dom = c.running()
        if self._live(dom).find(f"devices/disk/target[@dev='{target}']") is not None:
            return True, ""
        dom.attachDeviceFlags(etree.tostring(elem, encoding="unicode"), LIVE)
        return True, ""

    def detach_disk(self, c: Call) -> Answer:
        target = c.marked("DISK").get("TARGET", "")
        return self._detach(c, lambda live: next(
            (d for d in live.iterfind("devices/disk")
             if d.find("target") is not None and d.find("target").get("dev") == target), None))

    def attach_nic(self, c: Call) -> Answer:
        nic = c.marked("NIC")
        dom = c.domain()
        if dom is None:
            return True, ""  # powered off: the next DEPLOY has it
        elem = nic_element(nic, c.req.oid)
        mac = elem.find("mac").get("address") if elem.find("mac") is not None else None
        if mac and self._nic_by_mac(self._live(dom), mac) is not None:
            return True, ""
        dom.attachDeviceFlags(etree.tostring(elem, encoding="unicode"), LIVE)
        return True, ""

    def detach_nic(self, c: Call) -> Answer:
        mac = c.marked("NIC").get("MAC", "").lower()
        if c.domain() is None:
            return True, ""
        return self._detach(c, lambda live: self._nic_by_mac(live, mac))

    @staticmethod
    def _nic_by_mac(live: etree._Element, mac: str) -> etree._Element | None:
        return next((i for i in live.iterfind("devices/interface")
                     if (i.find("mac").get("address") or "").lower() == mac.lower()), None)

    def _detach(self, c: Call, find: Callable[[etree._Element], etree._Element | None]) -> Answer:
        """Detach the device ``find`` picks in the live domain; the guest releases it in
        its own time, so wait a little (--detach-wait) and say if it has not yet."""
        dom = c.running()
        device = find(self._live(dom))
        if device is None:
            return True, ""
        dom.detachDeviceFlags(etree.tostring(device, encoding="unicode"), LIVE)
        deadline = time.monotonic() + self.options.detach_wait
        while find(self._live(dom)) is not None:
            if time.monotonic() > deadline:
                c.log("W", f"the guest of {c.name} has not released the device yet")
                break
            time.sleep(0.2)
        return True, ""

    # ------------------------------------------------------------------ snapshots

    def _snapshot_name(self, c: Call) -> tuple[str, dict[str, str]]:
        snap = c.marked("SNAPSHOT", "ACTIVE")
        return snap.get("HYPERVISOR_ID") or f"snap-{snap.get('SNAPSHOT_ID', '0')}", snap

    def snapshot_create(self, c: Call) -> Answer:
        """A libvirt (internal, qcow2) snapshot of disks and memory; INFO is its name,
        which the core keeps as the snapshot's HYPERVISOR_ID."""
        snap = c.marked("SNAPSHOT", "ACTIVE")
        name = f"snap-{snap.get('SNAPSHOT_ID', '0')}"
        dom = c.running()
        if name in dom.snapshotListNames(0):
            return True, name
        description = escape(snap.get("NAME", ""))
        dom.snapshotCreateXML(f"<domainsnapshot><name>{name}</name>"
                              f"<description>{description}</description></domainsnapshot>", 0)
        return True, name

    def snapshot_revert(self, c: Call) -> Answer:
        name, _ = self._snapshot_name(c)
        dom = c.running()
        dom.revertToSnapshot(dom.snapshotLookupByName(name, 0), 0)
        return True, ""

    def snapshot_delete(self, c: Call) -> Answer:
        name, _ = self._snapshot_name(c)
        dom = c.running()
        if name not in dom.snapshotListNames(0):
            return True, ""
        dom.snapshotLookupByName(name, 0).delete(0)
        return True, ""

    # ------------------------------------------------------------------ resize

    def resize(self, c: Call) -> Answer:
        """VCPU and MEMORY of the running domain, up to the VCPU_MAX and MEMORY_MAX it
        was deployed with (libvirt cannot grow a running domain past them)."""
        dom = c.running()
        _, max_kib, cur_kib, vcpus, _ = dom.info()
        tmpl = c.vm.find("TEMPLATE")
        want_vcpu = int((tmpl.findtext("VCPU") or str(vcpus)).strip())
        want_kib = int((tmpl.findtext("MEMORY") or "0").strip() or 0) * 1024 or cur_kib
        if want_vcpu != vcpus:
            max_vcpu = dom.vcpusFlags(libvirt.VIR_DOMAIN_VCPU_MAXIMUM | LIVE)
            if want_vcpu > max_vcpu:
                raise ActionError(f"cannot give {c.name} {want_vcpu} VCPU while it runs: it was "
                                  f"deployed with at most {max_vcpu} (set VCPU_MAX)")
            dom.setVcpusFlags(want_vcpu, LIVE)
        if want_kib != cur_kib:
            if want_kib > max_kib:
                raise ActionError(f"cannot give {c.name} {want_kib // 1024} MB while it runs: it "
                                  f"was deployed with at most {max_kib // 1024} MB (set MEMORY_MAX)")
            dom.setMemoryFlags(want_kib, LIVE)
        return True, ""


def monitor(req: p.Request) -> Answer:
    """MONITOR: the host probe (nubo.drivers.kvm.probe, written apart), when present.
    Its monitor(host, payload) gives the host's template as text; INFO is its base64."""
    try:
        from nubo.drivers.kvm import probe
    except ImportError:
        return False, "probe not available"
    try:
        text = probe.monitor(req.host or "", req.payload)
    except Exception as e:  # the probe's failure is the action's, never the driver's
        return False, f"MONITOR of {req.host} failed: {e}"
    return True, base64.b64encode(text.encode()).decode("ascii")
