"""The cloud of the end-to-end tests of real guests: a nubo server with a kvm host
``localhost``, nubo's guest image registered, a bridge of its own with a peer on
the wire, and the waits those tests share."""
from __future__ import annotations

import fcntl
import itertools
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import IO

sys.path.insert(0, str(Path(__file__).parent))

import libvirt_daemons  # noqa: E402
from guest_domain import ping  # noqa: E402
from guest_image import guest_image  # noqa: E402
from server import NuboServer  # noqa: E402
from waits import wait_for, wait_state  # noqa: E402

SUSPENDED, STOPPED = 5, 4
#: Each cloud its own bridge and /24 (198.19.N.0), so two never meet.
NETS = {"one-host": 73, "two-hosts": 74}
PLACEHOLDER = 'NAME = "placeholder"\nCPU = 0.1\nMEMORY = 64'
SLOTS = Path(tempfile.gettempdir()) / "nubo-e2e-slots"
SLOT_IDS = 10  # VM ids (domain names one-<id>) of each cloud's own
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
        self._hold_taken_names()
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

    def _hold_taken_names(self) -> None:
        """Held placeholder VMs (never deployed) up to this cloud's first VM id, and past
        any whose domain name one-<id> libvirtd already has. Domains are named by VM id
        alone, and every test's cloud on this machine shares one libvirtd: a DEPLOY of
        a name another cloud's guest holds would take that guest for its own (it
        answers "already runs"). Each cloud starts at a slot of its own: slot N's ids
        from N * SLOT_IDS (slot 0, from 0, for the first cloud on the machine)."""
        self.slot, self._slot_lock = _claim_slot()
        names = set(subprocess.run(["virsh", "-c", self.uri, "list", "--all", "--name"],
                                   capture_output=True, text=True).stdout.split())
        next_id = max((vm.ID for vm in self.one.vmpool.info(-2, -1, -1, -1).VM), default=-1) + 1
        while next_id < self.slot * SLOT_IDS or f"one-{next_id}" in names:
            self.placeholders.add(self.one.vm.allocate(PLACEHOLDER, True))
            next_id += 1

    def peer_pings(self, address: str) -> bool:
        tool = ["ping"] if shutil.which("ping") else ["busybox", "ping"]
        return subprocess.run(["ip", "netns", "exec", self.peer, *tool, "-c", "1", "-W", "1",
                               address], capture_output=True).returncode == 0

    def vm_dir(self, vm_id: int) -> Path:
        return self.datastores / "0" / str(vm_id)

    def domain_state(self, vm_id: int) -> str:
        return domstate(self.uri, vm_id)

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
        self._slot_lock.close()
        _ip("link", "delete", self.peer_port)
        _ip("netns", "delete", self.peer)
        _ip("link", "delete", self.bridge)
        assert code == 0, "".join(self.server.log_lines[-30:])


def _claim_slot() -> tuple[int, IO]:
    """The lowest slot no other cloud of this machine holds: a lock on SLOTS/<N>.lock,
    held while its file stays open (a killed test's goes with its process)."""
    SLOTS.mkdir(mode=0o777, exist_ok=True)
    for n in itertools.count():
        lock = open(SLOTS / f"{n}.lock", "a")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return n, lock
        except BlockingIOError:
            lock.close()
    raise AssertionError("unreachable")


def state(one, vm_id: int, want: tuple[int, int], timeout: float = 180) -> None:
    """wait_state, and the VM's ERROR in the message when it does not get there."""
    try:
        wait_state(one, vm_id, want, timeout=timeout)
    except AssertionError as e:
        error = one.vm.info(vm_id).USER_TEMPLATE.get("ERROR")
        raise AssertionError(f"{e}; ERROR: {error}") from None


def vectors(value) -> list[dict]:
    return value if isinstance(value, list) else [value]


def _lines(log: Path, pattern: str) -> list[str]:
    """Whole lines of the serial log (a line still being written is not one yet)."""
    text = log.read_text(errors="replace") if log.exists() else ""
    return [line.rstrip("\r") for line in re.findall(pattern, text[:text.rfind("\n") + 1])]


def context_lines(log: Path) -> list[str]:
    return _lines(log, r"nubo-context: hostname=\S+ .*")


def disk_lines(log: Path) -> list[str]:
    """The guest's lines of a disk that appeared or went after its boot."""
    return _lines(log, r"nubo-context: disk dev=.*")


def _next(what: str, lines, seen: int, timeout: float) -> str:
    return wait_for(what, lambda: len(found := lines()) > seen and found[seen], timeout=timeout)


def next_context_line(log: Path, seen: int, timeout: float = BOOT) -> str:
    """The context line of the guest's next boot (the log is appended to across boots)."""
    return _next("the guest's next context line", lambda: context_lines(log), seen, timeout)


def next_disk_line(log: Path, seen: int, timeout: float = 120) -> str:
    """The guest's line of the next disk it saw come or go."""
    return _next("the guest's next disk line", lambda: disk_lines(log), seen, timeout)


def virsh(cloud: Cloud, *args: str) -> str:
    return subprocess.run(["virsh", "-c", cloud.uri, *args], capture_output=True,
                          text=True).stdout


def domstate(uri: str, vm_id: int) -> str:
    done = subprocess.run(["virsh", "-c", uri, "domstate", f"one-{vm_id}"],
                          capture_output=True, text=True)
    return done.stdout.strip() if done.returncode == 0 else "gone"

