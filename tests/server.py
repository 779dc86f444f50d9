"""Run a real ``nubo serve`` subprocess on a random port, for the API tests."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

def child_pids(pid: int) -> list[int]:
    """The direct children of a process (nubo serve's driver processes), from /proc."""
    pids: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            pids += [int(p) for p in (task / "children").read_text().split()]
        except OSError:
            pass
    return pids


def alive(pid: int) -> bool:
    """Is the process running (not gone, not a zombie)?"""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


_LISTENING = re.compile(r"nubo listening on (http://\S+)")


@dataclass
class NuboServer:
    data_dir: Path
    database_url: str = ""
    password: str = "admin-secret-pw"
    extra_config: str = ""
    umask: int = -1                # the server's umask (-1: this process's)
    proc: subprocess.Popen | None = None
    endpoint: str = ""
    log_lines: list[str] = field(default_factory=list)
    fd_limit: tuple[int, int] | None = None  # RLIMIT_NOFILE (soft, hard) of the server
    _pump: threading.Thread | None = None

    @property
    def session(self) -> str:
        return f"oneadmin:{self.password}"

    def start(self, timeout: float = 60.0) -> "NuboServer":
        self.data_dir.mkdir(parents=True, exist_ok=True)
        config = self.data_dir / "nubo.toml"
        lines = [f'listen = "127.0.0.1:0"', f'data_dir = "{self.data_dir}"']
        if self.database_url:
            lines.append(f'database_url = "{self.database_url}"')
        if "host_monitoring_interval" not in self.extra_config:
            # Off unless a test asks: host states are then what the API calls made them.
            lines.append("host_monitoring_interval = 0")
        if "scheduler" not in self.extra_config:
            # Off unless a test asks: VMs then stay PENDING until a test deploys them.
            lines.append("scheduler = false")
        if "kvm_driver" not in self.extra_config and "kvm_host" not in self.extra_config:
            # None unless a test asks: the kvm driver probes this machine's KVM as it
            # starts (seconds of QEMU), which no test on dummy hosts needs.
            lines.append('kvm_driver = "no"')
        elif "zombie_policy" not in self.extra_config:
            # Servers with real hosts share this machine's libvirtd (and the second
            # host's) with other tests' servers and drivers, whose domains one-<N> each
            # would take for its own zombies and destroy: report them only.
            lines.append('zombie_policy = "report"')
        if "sqlite_synchronous" not in self.extra_config:
            # No fsync on SQLite commits unless a test asks: no test cuts the power, and
            # a killed server's writes survive in the page cache (the kill -9 tests).
            lines.append('sqlite_synchronous = "OFF"')
        if "first_dummy_host" not in self.extra_config:
            # None unless a test asks: host pools then hold what the tests made.
            lines.append('first_dummy_host = ""')
        config.write_text("\n".join(lines) + "\n" + self.extra_config)
        env = {**os.environ, "NUBO_ONEADMIN_PASSWORD": self.password,
               "HOME": str(self.data_dir / "home")}
        command = [sys.executable, "-m", "nubo", "serve", "--config", str(config)]
        if self.fd_limit is not None:  # set before nubo starts, then exec it (same pid)
            command[1:1] = ["-c", "import os, resource, sys; resource.setrlimit("
                            f"resource.RLIMIT_NOFILE, {self.fd_limit}); "
                            "os.execv(sys.executable, [sys.executable, *sys.argv[1:]])"]
        self.proc = subprocess.Popen(
            command,
            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env,
            umask=self.umask)
        found = threading.Event()

        def pump() -> None:
            assert self.proc and self.proc.stderr
            for line in self.proc.stderr:
                self.log_lines.append(line)
                m = _LISTENING.search(line)
                if m and not found.is_set():
                    self.endpoint = m.group(1)
                    found.set()
            found.set()

        self._pump = threading.Thread(target=pump, daemon=True)
        self._pump.start()
        if not found.wait(timeout) or not self.endpoint:
            self.stop()
            raise RuntimeError("nubo serve did not start:\n" + "".join(self.log_lines[-40:]))
        return self

    def stop(self) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        # log_lines complete: the pump reaches EOF once every holder of the pipe
        # (the core and the scheduler child sharing its stderr) has exited.
        if self._pump is not None:
            self._pump.join(10)
        return self.proc.returncode


def deploy_vms(server: NuboServer, host_name: str, count: int) -> tuple[object, int, list[int]]:
    """A pyone client, a new dummy host and ``count`` small VMs deployed on it (each
    committed in PROLOG, its transfer sent): (client, host id, VM ids)."""
    import pyone
    one = pyone.OneServer(server.endpoint, session=server.session)
    host = one.host.allocate(host_name, "dummy", "dummy", -1)
    vm_ids = [one.vm.allocate(f'NAME = "{host_name}-{i}"\nCPU = 0.1\nMEMORY = 64', False)
              for i in range(count)]
    for vm_id in vm_ids:
        one.vm.deploy(vm_id, host)
    return one, host, vm_ids
