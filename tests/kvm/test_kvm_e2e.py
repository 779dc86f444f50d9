"""A real guest through the whole of nubo: pyone → nubo serve → scheduler-free deploy on
host ``localhost`` (IM_MAD and VM_MAD kvm) → the transfer driver (kernel, initrd and
context CD-ROM into the VM's directory) → the network driver (bridge, security groups)
→ the kvm driver (libvirt, QEMU under TCG) → nubo's own guest image, which reads its
context and answers ping. Each step's state is checked through the API and the
domain's through libvirt directly."""
from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import libvirt_daemons  # noqa: E402
from guest_domain import ping, wait_for_line  # noqa: E402
from guest_image import guest_image, scratch_dir  # noqa: E402
from second_host import second_host_fixture  # noqa: E402
from server import NuboServer  # noqa: E402
from waits import ACTIVE, DONE, POWEROFF, RUNNING, wait_for, wait_state  # noqa: E402

pytestmark = pytest.mark.skipif(bool(libvirt_daemons.why_not()),
                                reason=libvirt_daemons.why_not() or "-")

SUSPENDED, STOPPED = 5, 4
#: Each cloud of this module its own bridge and /24 (198.19.N.0), so two never meet.
NETS = {"one-host": 73, "two-hosts": 74}
BOOT = 240  # seconds a TCG guest may take to print its context line on a loaded machine


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], capture_output=True)


class Cloud:
    def __init__(self, base: Path, net: int, extra_config: str = "") -> None:
        self.bridge, self.host_ip = f"nbe2e{net}", f"198.19.{net}.1"
        # A machine on the guests' wire (a namespace on a veth port of the bridge):
        # traffic from it crosses the bridge, where security groups filter; the host's
        # own does not.
        self.peer, self.peer_ip, self.peer_port = (f"nbe2e{net}-{os.getpid()}",
                                                   f"198.19.{net}.2", f"nbe2ep{net}")
        import pyone
        from nubo.guestimage.register import register
        self.uri = libvirt_daemons.ensure_libvirtd()
        kernel, _initrd = guest_image()
        # The datastores apart from DATA_DIR (which only nubo's user may enter), as on a
        # real front-end: QEMU runs as libvirt's user and opens the VM's files.
        self.datastores = base / "datastores"
        self.placeholders: set[int] = set()
        self.server = NuboServer(base / "data", extra_config=(
            'kvm_driver = "yes"\nkvm_host = "localhost"\nhost_monitoring_interval = 2\n'
            f'kvm_probe_window = 0.2\ndatastore_location = "{self.datastores}"\n'
            + extra_config)).start()
        self.one = pyone.OneServer(self.server.endpoint, session=self.server.session)
        ids = register(self.server.endpoint, self.server.session, kernel.parent)
        self.template = ids["template"]
        self._wire()
        self.host = next(h.ID for h in self.one.hostpool.info().HOST if h.NAME == "localhost")
        self.vnet = self.one.vn.allocate(
            f'NAME = "e2e"\nVN_MAD = "bridge"\nBRIDGE = "{self.bridge}"\n'
            f'NETWORK_MASK = "255.255.255.0"\nGATEWAY = "{self.host_ip}"\n'
            f'AR = [ TYPE = "IP4", IP = "198.19.{net}.10", SIZE = "40" ]', -1)

    def _wire(self) -> None:
        """The bridge made here, with the host's address and the peer's port on it, so
        the network driver finds it and never removes it (a port not its own is on it)."""
        _ip("link", "add", self.bridge, "type", "bridge")
        _ip("addr", "add", f"{self.host_ip}/24", "dev", self.bridge)
        _ip("link", "set", self.bridge, "up")
        _ip("netns", "add", self.peer)
        _ip("link", "add", self.peer_port, "type", "veth", "peer", "name", "eth0", "netns",
            self.peer)
        _ip("link", "set", self.peer_port, "master", self.bridge, "up")
        for args in (("addr", "add", f"{self.peer_ip}/24", "dev", "eth0"),
                     ("link", "set", "eth0", "up"), ("link", "set", "lo", "up")):
            _ip("-n", self.peer, *args)

    def peer_pings(self, address: str) -> bool:
        tool = ["ping"] if shutil.which("ping") else ["busybox", "ping"]
        return subprocess.run(["ip", "netns", "exec", self.peer, *tool, "-c", "1", "-W", "1",
                               address], capture_output=True).returncode == 0

    def vm_dir(self, vm_id: int) -> Path:
        return self.datastores / "0" / str(vm_id)

    def domain_state(self, vm_id: int) -> str:
        done = subprocess.run(["virsh", "-c", self.uri, "domstate", f"one-{vm_id}"],
                              capture_output=True, text=True)
        return done.stdout.strip() if done.returncode == 0 else "gone"

    def answers(self, address: str, timeout: float = 60, peer: bool = False) -> bool:
        """``address`` answers ping from the host (or the peer, across the bridge)."""
        probe = (lambda: self.peer_pings(address)) if peer else (lambda: ping(address, timeout=1))
        return bool(wait_for(f"{address} answering ping", probe, timeout=timeout))

    def close(self) -> None:
        for vm in self.one.vmpool.info(-2, -1, -1, -1).VM:
            if vm.ID in self.placeholders:
                continue  # never deployed: its domain name may be another cloud's
            subprocess.run(["virsh", "-c", self.uri, "destroy", f"one-{vm.ID}"],
                           capture_output=True)
            subprocess.run(["nft", "delete", "table", "inet", f"one_vm_{vm.ID}"],
                           capture_output=True)  # what its network driver's clean removes
        code = self.server.stop()
        _ip("link", "delete", self.peer_port)
        _ip("netns", "delete", self.peer)
        _ip("link", "delete", self.bridge)
        assert code == 0, "".join(self.server.log_lines[-30:])


@pytest.fixture(scope="module")
def cloud():
    try:
        libvirt_daemons.ensure_libvirtd()
    except RuntimeError as e:
        pytest.skip(str(e))
    base = scratch_dir("nubo-e2e-")  # QEMU (libvirt's user) must reach the VM's files
    c = Cloud(base, NETS["one-host"])
    yield c
    c.close()
    shutil.rmtree(base, ignore_errors=True)


def _state(one, vm_id: int, want: tuple[int, int], timeout: float = 180) -> None:
    """wait_state, and the VM's ERROR in the message when it does not get there."""
    try:
        wait_state(one, vm_id, want, timeout=timeout)
    except AssertionError as e:
        error = one.vm.info(vm_id).USER_TEMPLATE.get("ERROR")
        raise AssertionError(f"{e}; ERROR: {error}") from None


def _vectors(value) -> list[dict]:
    return value if isinstance(value, list) else [value]


def _context_lines(log: Path) -> list[str]:
    text = log.read_text(errors="replace") if log.exists() else ""
    return re.findall(r"nubo-context: hostname=\S+ .*", text)


def _next_context_line(log: Path, seen: int, timeout: float = BOOT) -> str:
    """The context line of the guest's next boot (the log is appended to across boots)."""
    found = wait_for("the guest's next context line",
                     lambda: len(lines := _context_lines(log)) > seen and lines[seen],
                     timeout=timeout)
    return found


def test_a_guest_lives_its_whole_life_through_the_api(cloud):
    one = cloud.one
    started = time.monotonic()
    vm_id = one.template.instantiate(cloud.template, "e2e-guest", False,
                                     f'NIC = [ NETWORK_ID = {cloud.vnet} ]', False)
    allocated = time.monotonic() - started
    one.vm.deploy(vm_id, cloud.host)
    deployed = time.monotonic() - started
    _state(one, vm_id, (ACTIVE, RUNNING), timeout=120)
    running_after = time.monotonic() - started
    log = cloud.vm_dir(vm_id) / "serial.log"
    line = wait_for_line(log, timeout=BOOT)
    context_after = time.monotonic() - started
    ip = one.vm.info(vm_id).TEMPLATE["NIC"]["IP"]
    assert "hostname=e2e-guest" in line and f"eth0={ip}/24" in line, line
    assert cloud.domain_state(vm_id) == "running"
    assert (cloud.vm_dir(vm_id) / "kernel").exists()
    print(f"instantiate {allocated:.2f} s, deploy call {deployed:.2f} s, RUNNING "
          f"{running_after:.2f} s, context line {context_after:.2f} s (from the allocate)")
    assert cloud.answers(ip)

    # poweroff and resume: the domain goes, a new boot reads the context again
    boots = len(_context_lines(log))
    one.vm.action("poweroff-hard", vm_id)
    _state(one, vm_id, (POWEROFF, 0), timeout=120)
    assert cloud.domain_state(vm_id) == "gone"
    one.vm.action("resume", vm_id)
    _state(one, vm_id, (ACTIVE, RUNNING), timeout=120)
    assert f"eth0={ip}/24" in _next_context_line(log, boots)
    assert cloud.answers(ip)

    # suspend and resume: memory saved to the checkpoint and restored, no new boot
    one.vm.action("suspend", vm_id)
    _state(one, vm_id, (SUSPENDED, 0), timeout=180)
    assert cloud.domain_state(vm_id) == "gone"
    assert (cloud.vm_dir(vm_id) / "checkpoint").exists()
    one.vm.action("resume", vm_id)
    _state(one, vm_id, (ACTIVE, RUNNING), timeout=180)
    assert cloud.domain_state(vm_id) == "running"
    assert cloud.answers(ip)

    # reboot: the guest boots again and reads its context
    boots = len(_context_lines(log))
    one.vm.action("reboot-hard", vm_id)
    wait_for("the reboot's context line", lambda: len(_context_lines(log)) > boots,
             timeout=BOOT)
    assert (one.vm.info(vm_id).STATE, one.vm.info(vm_id).LCM_STATE) == (ACTIVE, RUNNING)
    assert cloud.answers(ip)

    # a security group without ICMP: ping stops; one allowing it: ping again (before a
    # second NIC on the same network, which would answer for the first's address too)
    tcp_only = one.secgroup.allocate(
        'NAME = "e2e-tcp"\nRULE = [ PROTOCOL = "TCP", RULE_TYPE = "INBOUND" ]\n'
        'RULE = [ PROTOCOL = "ALL", RULE_TYPE = "OUTBOUND" ]')
    assert cloud.answers(ip, peer=True)  # across the bridge, under group 0 (all in)
    one.vm.attachsg(vm_id, 0, tcp_only)
    one.vm.detachsg(vm_id, 0, 0)
    try:
        wait_for("ping blocked", lambda: not cloud.peer_pings(ip), timeout=60)
    except AssertionError:
        rules = one.vm.info(vm_id).TEMPLATE.get("SECURITY_GROUP_RULE")
        nft = subprocess.run(["nft", "list", "ruleset"], capture_output=True, text=True).stdout
        raise AssertionError(f"ping not blocked; rules {rules}; nft:\n{nft[-4000:]}\nlog:\n"
                             + "".join(line for line in cloud.server.log_lines[-60:]))
    one.secgroup.update(tcp_only, 'RULE = [ PROTOCOL = "ICMP", RULE_TYPE = "INBOUND" ]\n'
                        'RULE = [ PROTOCOL = "ALL", RULE_TYPE = "OUTBOUND" ]', 1)
    one.secgroup.commit(tcp_only, False)
    assert cloud.answers(ip, peer=True)

    # NIC hotplug: the context CD-ROM rebuilt with ETH1_*, the guest configures eth1
    one.vm.attachnic(vm_id, f'NIC = [ NETWORK_ID = {cloud.vnet} ]')
    _state(one, vm_id, (ACTIVE, RUNNING), timeout=120)
    nics = one.vm.info(vm_id).TEMPLATE["NIC"]
    ip1 = nics[1]["IP"]
    assert one.vm.info(vm_id).TEMPLATE["CONTEXT"]["ETH1_IP"] == ip1
    wait_for_line(log, re.compile(rf"nubo-context: hotplug dev=\S+ eth1={re.escape(ip1)}/24"),
                  timeout=120)
    assert cloud.answers(ip1)

    # disk hotplug: a volatile disk made by the transfer driver, attached to the domain
    one.vm.attach(vm_id, 'DISK = [ TYPE = "fs", SIZE = 16, FORMAT = "raw" ]')
    _state(one, vm_id, (ACTIVE, RUNNING), timeout=120)
    blk = subprocess.run(["virsh", "-c", cloud.uri, "domblklist", f"one-{vm_id}"],
                         capture_output=True, text=True).stdout
    info = one.vm.info(vm_id)
    assert "DISK" in info.TEMPLATE, info.USER_TEMPLATE.get("ERROR")
    disk = next(d for d in _vectors(info.TEMPLATE["DISK"])
                if (d.get("TYPE") or "").upper() == "FS")
    assert f"{cloud.vm_dir(vm_id)}/disk.{disk['DISK_ID']}" in blk, (blk, disk)

    # a core killed with kill -9 leaves the guest running; the new core finds it
    cloud.server.proc.send_signal(signal.SIGKILL)
    cloud.server.proc.wait(timeout=30)
    assert cloud.domain_state(vm_id) == "running"
    cloud.server.start()
    import pyone
    one = cloud.one = pyone.OneServer(cloud.server.endpoint, session=cloud.server.session)
    _state(one, vm_id, (ACTIVE, RUNNING), timeout=60)
    assert cloud.answers(ip)

    # a guest destroyed outside nubo is noticed: POWEROFF
    subprocess.run(["virsh", "-c", cloud.uri, "destroy", f"one-{vm_id}"], check=True,
                   capture_output=True)
    _state(one, vm_id, (POWEROFF, 0), timeout=120)

    # terminate: the domain and the VM's directory are gone
    one.vm.action("terminate-hard", vm_id)
    _state(one, vm_id, (DONE, 0), timeout=120)
    assert cloud.domain_state(vm_id) == "gone"
    assert not cloud.vm_dir(vm_id).exists()


@pytest.fixture(scope="module")
def host2(tmp_path_factory):
    yield from second_host_fixture(tmp_path_factory)


@pytest.fixture(scope="module")
def two_hosts(host2):
    """A cloud of this machine and the second host (a namespace with its own sshd and
    libvirtd, reached over a veth), the system datastore shared by both as their one
    filesystem is."""
    ssh = host2.ssh_command
    base = scratch_dir("nubo-e2e-mig-")
    c = Cloud(base, NETS["two-hosts"], extra_config=(
        f'kvm_ssh = "{ssh}"\ntransfer_remote_command = "{ssh} {{host}}"\n'
        f'kvm_remote_uri = "qemu+ssh://{{host}}/system?keyfile={host2.key}&no_verify=1"\n'
        f'kvm_migrate_local_name = "{_peer_side(host2.address)}"\n'))
    c.one.datastore.update(0, 'TM_MAD = "shared"\nSHARED = "YES"', 1)
    # Domains are named one-<VM ID> on the one local libvirtd that this module's other
    # cloud uses too (maybe at once, on another worker): VM 0 is held here, never run.
    c.placeholders.add(c.one.vm.allocate('NAME = "placeholder"\nCPU = 0.1\nMEMORY = 64', True))
    c.host2 = c.one.host.allocate(host2.address, "kvm", "kvm", -1)
    wait_for("the second host MONITORED", lambda: c.one.host.info(c.host2).STATE == 2,
             timeout=120)
    yield c
    c.close()
    shutil.rmtree(base, ignore_errors=True)


def _peer_side(address: str) -> str:
    """This machine's end of the veth to the second host (its /30: .1 here, .2 there)."""
    head, last = address.rsplit(".", 1)
    return f"{head}.{int(last) - 1}"


def _domstate(uri: str, vm_id: int) -> str:
    done = subprocess.run(["virsh", "-c", uri, "domstate", f"one-{vm_id}"],
                          capture_output=True, text=True)
    return done.stdout.strip() if done.returncode == 0 else "gone"


def test_live_and_cold_migration_between_two_hosts(two_hosts, host2):
    c, one = two_hosts, two_hosts.one
    vm_id = one.template.instantiate(c.template, "mig-guest", False,
                                     f'NIC = [ NETWORK_ID = {c.vnet} ]', False)
    one.vm.deploy(vm_id, c.host)
    _state(one, vm_id, (ACTIVE, RUNNING), timeout=120)
    log = c.vm_dir(vm_id) / "serial.log"
    wait_for_line(log, timeout=BOOT)
    ip = one.vm.info(vm_id).TEMPLATE["NIC"]["IP"]
    boots = len(_context_lines(log))
    for dest, here, there in ((c.host2, c.uri, host2.uri), (c.host, host2.uri, c.uri)):
        started = time.monotonic()
        one.vm.migrate(vm_id, dest, True, False, -1, 0)
        _state(one, vm_id, (ACTIVE, RUNNING), timeout=300)
        print(f"live migration to host {dest}: {time.monotonic() - started:.2f} s")
        records = one.vm.info(vm_id).HISTORY_RECORDS.HISTORY
        assert max(records, key=lambda r: r.SEQ).HID == dest, (
            [(r.SEQ, r.HID, r.ACTION) for r in records],
            [x for x in c.server.log_lines if "MIGRATE" in x][-6:])
        assert (_domstate(there, vm_id), _domstate(here, vm_id)) == ("running", "gone")
    assert len(_context_lines(log)) == boots  # the same guest, never booted again
    assert c.answers(ip)
    # cold: saved here, restored there
    one.vm.migrate(vm_id, c.host2, False, False, -1, 0)
    _state(one, vm_id, (ACTIVE, RUNNING), timeout=300)
    assert (_domstate(host2.uri, vm_id), _domstate(c.uri, vm_id)) == ("running", "gone")
    assert len(_context_lines(log)) == boots
    one.vm.action("terminate-hard", vm_id)
    _state(one, vm_id, (DONE, 0), timeout=120)
    assert _domstate(host2.uri, vm_id) == "gone"
