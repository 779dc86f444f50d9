"""The kvm driver's virtualization actions over libvirt-python: a VM's life (deploy,
shutdown, cancel, save, restore, reboot, reset, migrate) and its poll; the changes to
a running VM are in changes.py.

Each action takes the request (ID, HOST, the VM's body as payload) and answers
(success, INFO), as OpenNebula's vmm/kvm scripts do with virsh. Domains are
transient (createXML), named one-<ID>: a VM that is not running has no domain, so its
template alone says what the next DEPLOY or RESTORE makes of it, and a change made
while it is off (a disk or NIC attached cold) needs nothing here.

Actions that recovery may repeat answer as their first run did: DEPLOY or RESTORE of
a domain already running answer its name; SHUTDOWN, CANCEL of one that is gone succeed.
"""
from __future__ import annotations

import base64
import importlib.util
import threading
import time
from collections.abc import Callable

import libvirt

from nubo.drivers import protocol as p
from nubo.drivers.kvm import changes, disk_snapshots, network
from nubo.drivers.kvm import poll as polling
from nubo.drivers.kvm.call import (
    ActionError, Answer, Call, Log, Options, forget, unless_gone,
)
from nubo.drivers.kvm.devices import DomainError
from nubo.drivers.kvm.domain import HostFacts, domain_xml, history, owner_dir
from nubo.drivers.kvm.hosts import HostError, Hosts, libvirt_message
from nubo.drivers.stopwatch import Stopwatch

__all__ = ["Options", "Vmm", "monitor"]


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
            "MIGRATE": self.migrate, "ATTACHDISK": changes.attach_disk,
            "DETACHDISK": changes.detach_disk, "ATTACHNIC": changes.attach_nic,
            "DETACHNIC": changes.detach_nic, "SNAPSHOTCREATE": changes.snapshot_create,
            "SNAPSHOTREVERT": changes.snapshot_revert, "SNAPSHOTDELETE": changes.snapshot_delete,
            "RESIZE": changes.resize, "RESIZEDISK": changes.resize_disk,
            "UPDATECONF": changes.update_context, "UPDATESG": self.update_sg,
            "DISKSNAPSHOTCREATE": disk_snapshots.create,
        }

    def handle(self, req: p.Request, log: Log = lambda level, m: None) -> Answer:
        if req.host:
            self.hosts.warm(req.host)
        if req.action == "MONITOR":  # dispatch point: the host probe, nubo.drivers.kvm.probe
            return monitor(req)
        action = self.actions.get(req.action)
        if action is None:
            return False, f"unsupported action {req.action}"
        try:
            return action(Call(self.hosts, self.options, req, log))
        except (ActionError, DomainError, HostError) as e:
            return False, str(e)
        except libvirt.libvirtError as e:
            return False, f"{req.action} failed: {libvirt_message(e)}"

    def deploy(self, c: Call) -> Answer:
        watch = Stopwatch()
        directory = c.vm_dir()
        facts = HostFacts(directory, self.hosts.domain_type_of(c.host), self.options.emulator,
                          self.options.qemu_user)
        watch.lap("domain type")
        xml = domain_xml(c.vm, facts)
        watch.lap("domain XML")
        name = f"one-{c.req.oid}"
        dom = c.domain()
        if dom is not None:
            if dom.isActive():
                owner = owner_dir(dom.XMLDesc(0))
                if owner != directory:
                    raise ActionError(
                        f"a domain {name} already runs on {c.host} that is not this VM's (its "
                        f"files are in {owner or 'no nubo VM directory'}, this VM's in "
                        f"{directory}): another cloud's VM of the same id, or a leftover to "
                        f"destroy (virsh destroy {name})")
                c.log("I", f"domain {name} already runs on {c.host}")
                return True, name
            forget(dom)
        self.hosts.make_dir(c.host, directory)
        watch.lap("lookup and directory")
        network.step(c, "pre")
        watch.lap("network pre")
        try:
            dom = self.hosts.call(c.host, lambda conn: conn.createXML(xml, 0))
        except (libvirt.libvirtError, HostError):
            network.clean(c)
            raise
        created = watch.lap("createXML")
        network.step(c, "post")
        watch.lap("network post")
        c.log("I", f"created domain {name} ({facts.domain_type}) on {c.host} in "
                   f"{created:.3f} s; the DEPLOY's steps: {watch}")
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
        with unless_gone():
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
        forget(dom)
        network.clean(c)
        return True, ""

    def cancel(self, c: Call) -> Answer:
        dom = c.domain()
        if dom is not None:
            with unless_gone():
                dom.destroy()
            forget(dom)
        network.clean(c)
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
        forget(dom)
        network.clean(c)
        c.log("I", f"saved {c.name} to {checkpoint} in {time.monotonic() - start:.1f} s")
        return True, ""

    def restore(self, c: Call) -> Answer:
        dom = c.domain()
        if dom is not None and dom.isActive():
            return True, dom.name()
        checkpoint = f"{c.vm_dir()}/checkpoint"
        network.step(c, "pre")
        self.hosts.call(c.host, lambda conn: conn.restoreFlags(
            checkpoint, None, libvirt.VIR_DOMAIN_SAVE_RUNNING))
        dom = c.running()
        network.step(c, "post")
        self.hosts.remove(c.host, checkpoint)
        return True, dom.name()

    def reboot(self, c: Call) -> Answer:
        c.running().reboot(0)
        return True, ""

    def reset(self, c: Call) -> Answer:
        c.running().reset(0)
        return True, ""

    def update_sg(self, c: Call) -> Answer:
        """UPDATESG: the VM's security group rules applied again on its host (the
        network driver's ``post`` replaces the VM's nftables tables whole)."""
        if c.domain() is not None:
            network.step(c, "post")
        return True, ""

    def poll(self, c: Call) -> Answer:
        dom = c.domain()
        key = (c.host, c.name)
        if dom is None:
            with self._cpu_lock:
                self._cpu.pop(key, None)
            return True, "STATE=d"

        def stats(kinds: int) -> dict:
            got = self.hosts.call(c.host, lambda conn: conn.domainListGetStats([dom], kinds))
            return got[0][1] if got else {}

        now = stats(polling.STATS)
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
        target = dest  # as the source sees it; this machine by --migrate-local-name
        if self.hosts.is_local(dest) and self.options.migrate_local_name:
            target = self.options.migrate_local_name
        elif dest == "localhost":
            target = dconn.getHostname()
        flags = libvirt.VIR_MIGRATE_LIVE | libvirt.VIR_MIGRATE_UNSAFE
        params = {libvirt.VIR_MIGRATE_PARAM_URI: self.options.migrate_uri.format(host=target)}
        network.step(c, "pre", dest)
        start = time.monotonic()
        dom.migrate3(dconn, params, flags)
        c.log("I", f"migrated {c.name} {c.host} -> {dest} in {time.monotonic() - start:.1f} s")
        forget(dom)
        network.step(c, "post", dest)
        network.clean(c)
        return True, ""


def monitor(req: p.Request) -> Answer:
    """MONITOR: the host probe (nubo.drivers.kvm.probe, written apart), when present.
    Its monitor(host, payload) gives the host's template as text; INFO is its base64."""
    if importlib.util.find_spec("nubo.drivers.kvm.probe") is None:
        return False, "probe not available"
    try:
        from nubo.drivers.kvm import probe
        text = probe.monitor(req.host or "", req.payload)
    except Exception as e:  # the probe's failure is the action's, never the driver's
        return False, f"MONITOR of {req.host} failed: {e}"
    return True, base64.b64encode(text.encode()).decode("ascii")
