"""Reaching the hypervisor hosts: one libvirt connection per host, a shell on it for the
few file operations libvirt cannot do (the VM's directory, the checkpoint), and the
probe that decides between KVM and TCG.

A host named ``localhost`` or by one of this machine's names is this machine
(``qemu:///system``, files touched directly); any other is reached through the URI
template (``qemu+ssh://{host}/system?no_tty=1``, as OpenNebula's kvm driver does) and
the remote command (``ssh -o BatchMode=yes {host}``).
"""
from __future__ import annotations

import math
import shlex
import subprocess
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TypeVar

import libvirt

T = TypeVar("T")

LOCAL_URI = "qemu:///system"
REMOTE_URI = "qemu+ssh://{host}/system?no_tty=1"
REMOTE_COMMAND = "ssh -o BatchMode=yes {host}"
#: A firmware boot with no bootable device: SeaBIOS reboots at once and -no-reboot
#: makes QEMU exit, so the run measures that the accelerator really executes code.
_PROBE = ["qemu-system-x86_64", "-machine", "pc", "-m", "16", "-nodefaults", "-display",
          "none", "-serial", "none", "-monitor", "none", "-no-reboot", "-boot",
          "strict=on,reboot-timeout=0", "-accel"]


class HostError(RuntimeError):
    """A host could not be reached or a command on it failed; the message says why."""


def _quiet(_ctx: object, _err: object) -> None:
    """libvirt prints every error to stderr by default; they are answered instead."""


libvirt.registerErrorHandler(_quiet, None)


def libvirt_message(error: libvirt.libvirtError) -> str:
    return (error.get_error_message() or str(error)).strip()


def _connection_lost(error: libvirt.libvirtError) -> bool:
    return error.get_error_domain() == libvirt.VIR_FROM_RPC or error.get_error_code() in (
        libvirt.VIR_ERR_NO_CONNECT, libvirt.VIR_ERR_INVALID_CONN)


def choose_domain_type(kvm_seconds: float | None, tcg_seconds: float | None) -> str:
    """'kvm' when KVM ran the probe at least as fast as TCG did (or within a second). Real
    KVM runs the firmware many times faster than TCG; a nested /dev/kvm that opens but
    crawls takes seconds (4 s against TCG's 0.2 s here) and a guest kernel under it
    never gets far. The two runs are taken at once, under the same load, so their ratio
    holds on a busy host where a fixed allowance (the first rule: 3 x TCG) let a
    crawling KVM through."""
    if kvm_seconds is None:
        return "qemu"
    if tcg_seconds is None:
        return "kvm"
    return "kvm" if kvm_seconds <= max(1.0, tcg_seconds) else "qemu"


class Hosts:
    """Connections and shells per host, opened on first use and reopened when lost."""

    def __init__(self, local_names: Iterable[str], uri: str = REMOTE_URI,
                 local_uri: str = LOCAL_URI, remote_command: str = REMOTE_COMMAND,
                 domain_type: str = "auto") -> None:
        self.local_names = frozenset(n for n in local_names if n)
        self.uri_template = uri
        self.local_uri = local_uri
        self.remote_command = remote_command
        self.domain_type = domain_type
        self._conns: dict[str, libvirt.virConnect] = {}
        self._types: dict[str, str] = {}
        self._lock = threading.Lock()
        self._host_locks: dict[str, threading.Lock] = {}
        self._warming: set[str] = set()

    def is_local(self, host: str) -> bool:
        return host in self.local_names

    def uri(self, host: str) -> str:
        return self.local_uri if self.is_local(host) else self.uri_template.format(host=host)

    # ------------------------------------------------------------------ connections

    def _host_lock(self, host: str) -> threading.Lock:
        with self._lock:
            return self._host_locks.setdefault(host, threading.Lock())

    def connection(self, host: str, fresh: bool = False) -> libvirt.virConnect:
        with self._host_lock(host):
            conn = self._conns.get(host)
            if conn is not None and not fresh:
                try:
                    if conn.isAlive():
                        return conn
                except libvirt.libvirtError:
                    pass
            if conn is not None:
                self._conns.pop(host, None)
                try:
                    conn.close()
                except libvirt.libvirtError:
                    pass
            uri = self.uri(host)
            try:
                conn = libvirt.open(uri)
            except libvirt.libvirtError as e:
                raise HostError(f"cannot reach host {host} ({uri}): {libvirt_message(e)}") from None
            self._conns[host] = conn
            return conn

    def call(self, host: str, fn: Callable[[libvirt.virConnect], T]) -> T:
        """``fn(connection)``, once more on a new connection if the old one was lost."""
        conn = self.connection(host)
        try:
            return fn(conn)
        except libvirt.libvirtError as e:
            if not _connection_lost(e):
                raise
        return fn(self.connection(host, fresh=True))

    def close(self) -> None:
        with self._lock:
            conns, self._conns = list(self._conns.values()), {}
        for conn in conns:
            try:
                conn.close()
            except libvirt.libvirtError:
                pass

    # ------------------------------------------------------------------ commands

    def run(self, host: str, argv: list[str], timeout: float = 60,
            stdin: str | None = None) -> subprocess.CompletedProcess:
        """A command on the host (directly when it is this machine); ``stdin`` its input."""
        argv = self._on(host, argv)
        try:
            return subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                                  input=stdin, stdin=None if stdin is not None
                                  else subprocess.DEVNULL)
        except (OSError, subprocess.TimeoutExpired) as e:
            raise HostError(f"{argv[0]} on {host}: {e}") from None

    def _on(self, host: str, argv: list[str]) -> list[str]:
        """``argv`` as run on the host: itself here, through the remote command elsewhere."""
        if self.is_local(host):
            return argv
        return [*shlex.split(self.remote_command.format(host=host)), shlex.join(argv)]

    def make_dir(self, host: str, path: str) -> None:
        if self.is_local(host):
            Path(path).mkdir(parents=True, exist_ok=True)
            return
        done = self.run(host, ["mkdir", "-p", path])
        if done.returncode != 0:
            raise HostError(f"cannot make {path} on {host}: {done.stderr.strip()}")

    def exists(self, host: str, path: str) -> bool:
        if self.is_local(host):
            return Path(path).exists()
        return self.run(host, ["test", "-e", path]).returncode == 0

    def remove(self, host: str, path: str) -> None:
        if self.is_local(host):
            Path(path).unlink(missing_ok=True)
        else:
            self.run(host, ["rm", "-f", path])

    # ------------------------------------------------------------------ KVM or TCG

    def warm(self, host: str) -> None:
        """Start probing the host's domain type in the background (once), so the first
        DEPLOY there finds the answer ready: the driver's first request about a host
        (its MONITOR, as a rule) starts it, not the driver's start, which a core with no
        KVM host at all would pay for."""
        if self.domain_type != "auto":
            return
        key = "" if self.is_local(host) else host
        with self._lock:
            if key in self._warming:
                return
            self._warming.add(key)
        threading.Thread(target=self.domain_type_of, args=(host,), daemon=True).start()

    def domain_type_of(self, host: str) -> str:
        """'kvm' or 'qemu' for the host: as configured, or probed once (auto)."""
        if self.domain_type != "auto":
            return self.domain_type
        key = "" if self.is_local(host) else host  # this machine by any of its names
        with self._host_lock(f"probe:{key}"):
            if key not in self._types:
                self._types[key] = self._probe(host)
            return self._types[key]

    def _probe(self, host: str) -> str:
        """Time a firmware boot under KVM and under TCG, both at once (so under the same
        load), and answer as soon as choose_domain_type's rule can tell (probe_answer):
        a host without a usable /dev/kvm fails KVM's at once, a real KVM finishes it
        before TCG does; only a KVM that crawls is waited for, until just past TCG's
        time. The run no longer needed is stopped (on a remote host, its ssh: the QEMU
        there ends by its own timeout)."""
        runs = {accel: self._start(host, ["timeout", "20.0", *_PROBE, accel])
                for accel in ("kvm", "tcg")}
        start = time.monotonic()
        took: dict[str, float | None] = {"kvm": None, "tcg": None}
        try:
            while True:
                elapsed = time.monotonic() - start
                for accel, proc in runs.items():
                    if took[accel] is None and (proc is None or proc.poll() is not None):
                        ok = proc is not None and proc.returncode == 0
                        took[accel] = elapsed if ok else math.inf
                answer = probe_answer(elapsed, took["kvm"], took["tcg"])
                if answer is not None:
                    return answer
                time.sleep(0.01)
        finally:
            for proc in runs.values():
                if proc is not None and proc.poll() is None:
                    proc.terminate()  # timeout(1) passes it on to QEMU
                    try:
                        proc.wait(5)
                    except subprocess.TimeoutExpired:
                        proc.kill()
                        proc.wait()

    def _start(self, host: str, argv: list[str]) -> subprocess.Popen | None:
        """``argv`` started on the host, its output dropped; None if it cannot start."""
        argv = self._on(host, argv)
        try:
            return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL)
        except OSError:
            return None


def kvm_bound(tcg_seconds: float) -> float:
    """How long the probe waits for KVM once TCG took ``tcg_seconds``: just past the
    slowest choose_domain_type still takes as KVM. A run cut off there is answered as
    one that went on (TCG), and the first DEPLOY on the host waits for the answer."""
    return max(1.0, tcg_seconds) + 0.1


def probe_answer(elapsed: float, kvm: float | None, tcg: float | None) -> str | None:
    """choose_domain_type's answer as soon as it is known, ``elapsed`` seconds into the
    two firmware boots started together: ``kvm`` and ``tcg`` are the seconds each took
    (inf: it failed), None while it runs. None: not known yet."""
    if kvm is not None:
        if kvm == math.inf:
            return "qemu"
        # TCG still running when KVM finished takes longer than KVM did
        return choose_domain_type(kvm, tcg if tcg is not None else kvm)
    if tcg is not None and elapsed > kvm_bound(tcg):
        return "qemu"  # KVM slower than the rule allows: it would be refused
    if elapsed > 20.5:
        return "qemu"  # timeout(1) should have ended it
    return None
