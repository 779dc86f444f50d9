"""A second hypervisor host on this machine, for migration and remote-host tests.

``second_host(tmp)`` (a context manager; ``second_host_fixture`` wraps it for pytest)
builds, and always tears down by pid and name:

* a network namespace ``nbhost2-<pid>`` reached from here over a veth pair
  (``nbh2r<n>`` here with 198.18.<n>.1/30, ``nbh2n<n>`` there with .2: 198.18.0.0/15
  is the only range tests may put on links);
* a second veth pair, ``nbh2l<n>`` on both ends (one here, one there) and no
  address: the wire a rack's hosts share for their guests. A network whose PHYDEV
  is ``SecondHost.phydev`` has the bridge driver plug it into the network's bridge
  on each host, so a guest on either is on one layer 2 with the other's;
* inside it, one holder process in its own UTS and mount namespaces (``unshare
  --uts --mount``): its own hostname, and tmp directories bind-mounted over
  /run/libvirt (sockets, pid files, domain state), /etc/libvirt/qemu (persistent
  domains and networks: none autostart there), /var/lib/libvirt, /var/cache/libvirt
  and /var/log/libvirt; and, if asked (``private_dirs``), tmp directories over
  those paths too: the same path names other files there than here, as a host's
  local disk does (an ``ssh`` system datastore);
* in those namespaces (nsenter), in the foreground so their pids are known: its own
  virtlogd, its own libvirtd (``-f`` a libvirtd.conf of its own with its own
  ``host_uuid``) and its own sshd (own host key, listening on the netns address,
  root login only with a key generated here, in an AuthorizedKeysFile of its own).

Limits: the file system is otherwise shared (/etc/libvirt/qemu.conf, the qemu
binary, disk images: as hosts sharing a datastore), so does the cgroup tree (two
domains of one name and id on both hosts at once would meet there), and the ssh
client's known_hosts is left alone only by the options ``ssh_options`` gives
(UserKnownHostsFile=/dev/null).
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

#: Directories the second libvirtd gets its own copy of (empty at start).
OWN_DIRS = ("/run/libvirt", "/etc/libvirt/qemu", "/var/lib/libvirt", "/var/cache/libvirt",
            "/var/log/libvirt")
TOOLS = ("ip", "unshare", "nsenter", "ssh", "ssh-keygen", "virsh")
DAEMONS = ("/usr/sbin/sshd", "/usr/sbin/libvirtd", "/usr/sbin/virtlogd")


def why_not() -> str:
    """Empty when a second host can be built here, else the reason."""
    if os.geteuid() != 0:
        return "a second host needs root (network, UTS and mount namespaces)"
    for tool in TOOLS:
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    for daemon in DAEMONS:
        if not os.access(daemon, os.X_OK):
            return f"{daemon} is not installed"
    return ""


def _sh(*argv: str, check: bool = True, timeout: float = 30) -> subprocess.CompletedProcess:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    if check and done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: {done.stderr.strip() or done.returncode}")
    return done


def _free_subnet() -> int:
    """A /30 of 198.18.N.0 no interface uses (from this process's id, then onwards)."""
    used = _sh("ip", "-o", "-4", "addr").stdout
    start = os.getpid() % 200
    for n in range(start, start + 200):
        if f" 198.18.{n % 200 + 20}." not in used:
            return n % 200 + 20
    raise RuntimeError("no free 198.18.N.0/30 subnet")


@dataclass
class SecondHost:
    """What the tests need to reach it."""

    netns: str
    hostname: str
    address: str              # its end of the veth
    local_address: str        # this machine's end, as the second host reaches it
    phydev: str               # the guests' wire: the same name on both hosts
    key: Path                 # root's private key
    host_uuid: str
    pids: dict[str, int] = field(default_factory=dict)
    holder: int = 0
    #: Each private directory (its path there) -> where its files are here.
    private: dict[str, Path] = field(default_factory=dict)

    @property
    def ssh_options(self) -> list[str]:
        return ["-i", str(self.key), "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
                "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
                "-o", "ConnectTimeout=10"]

    @property
    def ssh_command(self) -> str:
        """ssh as nubo's kvm_ssh takes it (the host name appended)."""
        return " ".join(["ssh", *self.ssh_options])

    @property
    def target(self) -> str:
        return f"root@{self.address}"

    @property
    def uri(self) -> str:
        return self.uri_template.format(host=self.address)

    @property
    def uri_template(self) -> str:
        """A host's libvirt as nubo's kvm_remote_uri takes it ({host} filled in)."""
        return f"qemu+ssh://root@{{host}}/system?keyfile={self.key}&no_verify=1"

    @property
    def remote_command(self) -> str:
        """A command on a host as transfer_remote_command takes it ({host} filled in)."""
        return f"{self.ssh_command} root@{{host}}"

    def nubo_config(self) -> str:
        """The lines of nubo.conf for a cloud of this machine and the second host: ssh
        with the test's key, libvirt over it, and the name the second host knows this
        machine by (where a live migration back goes)."""
        return (f'kvm_ssh = "{self.ssh_command}"\n'
                f'transfer_remote_command = "{self.remote_command}"\n'
                f'kvm_remote_uri = "{self.uri_template}"\n'
                f'kvm_migrate_local_name = "{self.local_address}"\n')

    def ssh(self, command: str, timeout: float = 30) -> subprocess.CompletedProcess:
        return subprocess.run(["ssh", *self.ssh_options, self.target, command],
                              capture_output=True, text=True, timeout=timeout)

    def inside(self, *argv: str) -> list[str]:
        """A command line run in its namespaces (network, UTS, mount)."""
        return ["nsenter", "-t", str(self.holder), "--net", "--uts", "--mount", *argv]


def _start(stack: ExitStack, host: SecondHost, name: str, argv: list[str], log: Path) -> int:
    out = open(log, "ab")
    stack.callback(out.close)
    proc = subprocess.Popen(host.inside(*argv), stdout=out, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, start_new_session=True)
    host.pids[name] = proc.pid
    stack.callback(_stop, proc)
    return proc.pid


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _wait(what: str, ready, timeout: float, log: Path | None = None) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while not ready():
        if time.monotonic() > deadline:
            tail = log.read_text(errors="replace")[-2000:] if log and log.exists() else ""
            raise RuntimeError(f"second host: {what} not ready within {timeout:.0f} s\n{tail}")
        time.sleep(0.1)


def _destroy_domains(host: SecondHost) -> None:
    """Its guests (qemu would outlive its libvirtd)."""
    virsh = host.inside("virsh", "-c", "qemu:///system")
    names = subprocess.run([*virsh, "list", "--name"], capture_output=True, text=True,
                           timeout=30).stdout.split()
    for name in names:
        subprocess.run([*virsh, "destroy", name], capture_output=True, timeout=60)


def _forget_host_key(address: str) -> None:
    """What qemu+ssh (no_verify=1) added to root's known_hosts for its address."""
    known = Path.home() / ".ssh" / "known_hosts"
    backup = known.with_name("known_hosts.old")
    had_backup = backup.exists()
    if known.exists():
        _sh("ssh-keygen", "-R", address, "-f", str(known), check=False)
    if not had_backup:  # ssh-keygen's copy of the file as it was: not ours to leave
        backup.unlink(missing_ok=True)


def _network(stack: ExitStack, netns: str, n: int) -> tuple[str, str]:
    here, there = f"nbh2r{n}", f"nbh2n{n}"
    _sh("ip", "netns", "add", netns)
    stack.callback(_sh, "ip", "netns", "delete", netns, check=False)
    _sh("ip", "link", "add", here, "type", "veth", "peer", "name", there)
    stack.callback(_sh, "ip", "link", "delete", here, check=False)
    _sh("ip", "link", "set", there, "netns", netns)
    _sh("ip", "addr", "add", f"198.18.{n}.1/30", "dev", here)
    _sh("ip", "link", "set", here, "up")
    for argv in (("ip", "addr", "add", f"198.18.{n}.2/30", "dev", there),
                 ("ip", "link", "set", there, "up"), ("ip", "link", "set", "lo", "up")):
        _sh("ip", "netns", "exec", netns, *argv)
    return f"198.18.{n}.1", f"198.18.{n}.2"


def _guest_wire(stack: ExitStack, netns: str, n: int) -> str:
    """A veth pair of one name, an end here and one in ``netns``: no address, only up
    (the bridge driver plugs each end into the network's bridge on its host)."""
    name = f"nbh2l{n}"
    _sh("ip", "link", "add", name, "type", "veth", "peer", "name", name, "netns", netns)
    stack.callback(_sh, "ip", "link", "delete", name, check=False)
    _sh("ip", "link", "set", name, "up")
    _sh("ip", "netns", "exec", netns, "ip", "link", "set", name, "up")
    return name


def _holder(stack: ExitStack, netns: str, hostname: str, tmp: Path,
            private_dirs: tuple[str, ...] = ()) -> int:
    """The process whose namespaces the daemons join: own hostname, own libvirt dirs
    (and the ``private_dirs`` asked for, each an existing directory here)."""
    mounts = []
    for i, target in enumerate((*OWN_DIRS, *private_dirs)):
        own = tmp / "own" / str(i)
        own.mkdir(parents=True)
        os.chmod(own, 0o755)
        mounts.append(f"mount --bind {own} {target}")
    script = (f"hostname {hostname} && {' && '.join(mounts)} && "
              f"touch {tmp}/holder-ready && exec sleep 1000000")
    proc = subprocess.Popen(["ip", "netns", "exec", netns, "unshare", "--uts", "--mount",
                             "--propagation", "private", "sh", "-c", script],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=open(tmp / "holder.log", "wb"), start_new_session=True)
    stack.callback(_stop, proc)
    _wait("its namespaces", lambda: (tmp / "holder-ready").exists() or proc.poll() is not None,
          15)
    if proc.poll() is not None:
        raise RuntimeError("second host: " + (tmp / "holder.log").read_text())
    # ip netns exec and unshare exec in turn: the pid is sleep's, in the new namespaces.
    return proc.pid


def _ssh_keys(tmp: Path) -> tuple[Path, Path, Path]:
    key, host_key = tmp / "id_ed25519", tmp / "ssh_host_ed25519_key"
    for path, comment in ((key, "nubo-test-root"), (host_key, "nubo-test-host")):
        _sh("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path))
    authorized = tmp / "authorized_keys"
    authorized.write_text(Path(f"{key}.pub").read_text())
    os.chmod(authorized, 0o600)
    return key, host_key, authorized


@contextmanager
def second_host(tmp: Path, private_dirs: tuple[str, ...] = ()) -> Iterator[SecondHost]:
    """Build the second host under ``tmp``; everything is stopped and deleted on exit.
    ``private_dirs``: directories of this machine the second host has its own (empty)
    copy of."""
    reason = why_not()
    if reason:
        raise RuntimeError(reason)
    tmp.mkdir(parents=True, exist_ok=True)
    os.chmod(tmp, 0o755)
    with ExitStack() as stack:
        n = _free_subnet()
        netns = hostname = f"nbhost2-{os.getpid()}-{n}"
        local, address = _network(stack, netns, n)
        phydev = _guest_wire(stack, netns, n)
        key, host_key, authorized = _ssh_keys(tmp)
        host = SecondHost(netns, hostname, address, local, phydev, key, str(uuid.uuid4()))
        stack.callback(_forget_host_key, address)
        host.holder = _holder(stack, netns, hostname, tmp, private_dirs)
        host.private = {d: tmp / "own" / str(len(OWN_DIRS) + i)
                        for i, d in enumerate(private_dirs)}
        conf = tmp / "libvirtd.conf"
        conf.write_text(f'host_uuid = "{host.host_uuid}"\n'
                        f'log_outputs = "3:file:{tmp}/libvirtd-own.log"\n')
        _start(stack, host, "virtlogd", ["/usr/sbin/virtlogd", "--pid-file",
                                         str(tmp / "virtlogd.pid")], tmp / "virtlogd.log")
        _wait("virtlogd", lambda: (tmp / "virtlogd.pid").exists(), 15, tmp / "virtlogd.log")
        _start(stack, host, "libvirtd", ["/usr/sbin/libvirtd", "-f", str(conf), "--pid-file",
                                         str(tmp / "libvirtd.pid")], tmp / "libvirtd.log")
        stack.callback(_destroy_domains, host)  # before its libvirtd stops: its guests
        # sshd's privilege separation directory (made by its service where there is one)
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
        sshd_conf = tmp / "sshd_config"
        sshd_conf.write_text(
            f"ListenAddress {address}\nPort 22\nHostKey {host_key}\nPidFile {tmp}/sshd.pid\n"
            f"AuthorizedKeysFile {authorized}\nPermitRootLogin prohibit-password\n"
            "PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\n"
            "StrictModes no\nSubsystem sftp internal-sftp\n")
        _start(stack, host, "sshd", ["/usr/sbin/sshd", "-D", "-e", "-f", str(sshd_conf)],
               tmp / "sshd.log")
        _wait("sshd", lambda: host.ssh("true", timeout=10).returncode == 0, 30, tmp / "sshd.log")
        _wait("libvirtd", lambda: subprocess.run(
            host.inside("virsh", "-c", "qemu:///system", "version"), capture_output=True,
            timeout=30).returncode == 0, 60, tmp / "libvirtd.log")
        yield host


def second_host_fixture(tmp_path_factory,  # noqa: ANN001
                        private_dirs: tuple[str, ...] = ()) -> Iterator[SecondHost]:
    """For a pytest fixture: the second host, or the test skipped with the reason."""
    import pytest
    reason = why_not()
    if reason:
        pytest.skip(reason)
    with second_host(tmp_path_factory.mktemp("host2"), private_dirs) as host:
        yield host
