"""Host failure end to end: dummy hosts each with its own driver process and state
journal, the fault-tolerance hook installed as docs/hooks.md shows, one host cut off
(``--down``: unreachable, its VMs still running) and brought back.

What runs where is read from the dummy drivers' own journals, never from nubo."""
from __future__ import annotations

import json
import sys
import threading
import uuid
from pathlib import Path

import pyone
import pytest

from server import NuboServer
from waits import ACTIVE, BOOT, PENDING, RUNNING, wait_for, wait_state

MONITORED, ERROR, DISABLED = 2, 3, 4
HOSTS = ("h0", "h1", "h2", "h3")
VMS = 16

# The fence command the tests install: it records its call (host name and id), waits
# for the test's go-ahead file if told to, and powers the dummy host off ("NAME off" in
# the down file) -- then, as a real fence agent checks the power status, waits until the
# host's driver dropped its VMs -- unless it is a fence that lies (--lie).
FENCE = '''
import sys, time
from pathlib import Path
record, down, data, go, lie, name, host_id = sys.argv[1:]
with open(record, "a") as f:
    f.write(f"{name} {host_id}\\n")
while go != "-" and not Path(go).exists():
    time.sleep(0.02)
if lie == "lie":
    sys.exit(0)
Path(down).write_text(f"{name} off\\n")
while True:
    text = Path(data, f"{name}-state").read_text()
    running = set()
    for line in text.splitlines():
        f = line.split()
        if f and f[0] == "+":
            running.add(f[1])
        elif f and f[0] == "-":
            running.discard(f[1])
    if not running:
        break
    time.sleep(0.02)
'''


def running_where(data: Path, hosts=HOSTS) -> dict[int, list[str]]:
    """VM id -> the hosts whose dummy driver runs it, replayed from their journals."""
    where: dict[int, list[str]] = {}
    for host in hosts:
        running: set[int] = set()
        path = data / f"{host}-state"
        text = path.read_text() if path.exists() else ""
        for line in text.splitlines():
            f = line.split()
            try:
                if f[0] == "+":
                    running.add(int(f[1]))
                elif f[0] == "-":
                    running.discard(int(f[1]))
            except (IndexError, ValueError):
                continue  # a line being written
        for vm_id in running:
            where.setdefault(vm_id, []).append(host)
    return where


class DoubleWatch:
    """Samples the journals until stopped; ``seen`` holds every VM found on two hosts."""

    def __init__(self, data: Path) -> None:
        self.data = data
        self.seen: dict[int, list[str]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            for vm_id, hosts in running_where(self.data).items():
                if len(hosts) > 1:
                    self.seen[vm_id] = hosts

    def stop(self) -> dict[int, list[str]]:
        self._stop.set()
        self._thread.join(5)
        return self.seen


def start(tmp_path: Path, extra: str = "", latency: dict[str, str] | None = None,
          interval: float = 0.3) -> NuboServer:
    data = tmp_path / "data"
    tables = []
    for host in HOSTS:
        command = [sys.executable, "-m", "nubo.drivers.dummy", "vmm,im",
                   "--state", str(data / f"{host}-state"), "--down", str(data / "dummy-down")]
        if latency and host in latency:
            command += ["--latency", latency[host]]
        tables.append(f"[drivers.{host}]\ncommand = {json.dumps(command)}\n")
    config = (f"host_monitoring_interval = {interval}\nhost_error_probes = 3\n"
              f"{extra}\n" + "".join(tables))
    return NuboServer(data, extra_config=config).start()


@pytest.fixture
def cloud(tmp_path):
    servers: list[NuboServer] = []

    def make(extra: str = "", latency: dict[str, str] | None = None, interval: float = 0.3):
        servers.append(start(tmp_path, extra, latency, interval))
        s = servers[-1]
        one = pyone.OneServer(s.endpoint, session=s.session)
        hosts = {name: one.host.allocate(name, name, name, -1) for name in HOSTS}
        return s, one, hosts
    yield make
    for s in servers:
        assert s.stop() == 0


def ft_hook(one, server: NuboServer, fence: str) -> int:
    return one.hook.allocate(
        f'NAME = "host-error"\nTYPE = "state"\nRESOURCE = "HOST"\nSTATE = "ERROR"\n'
        f'COMMAND = "{sys.executable} -m nubo.hooks.ft"\n'
        f'ARGUMENTS = "$TEMPLATE --endpoint {server.endpoint} --disable {fence}"\n'
        'TIMEOUT = 60')


def fence_command(tmp_path: Path, data: Path, go: str = "-", lie: bool = False) -> str:
    script = tmp_path / "fence.py"
    script.write_text(FENCE)
    return (f"--fence '{sys.executable} {script} {tmp_path / 'fenced'} {data / 'dummy-down'} "
            f"{data} {go} {'lie' if lie else 'power-off'}'")


def run_vms(one, count: int = VMS) -> list[int]:
    vm_ids = [one.vm.allocate(f'NAME = "ha-{uuid.uuid4().hex[:8]}"\nCPU = 0.1\nMEMORY = 32',
                              False) for _ in range(count)]
    for vm_id in vm_ids:
        wait_state(one, vm_id, (ACTIVE, RUNNING))
    return vm_ids


def host_of(one, vm_id: int) -> str:
    return one.vm.info(vm_id).HISTORY_RECORDS.HISTORY[-1].HOSTNAME


def victim(one, vm_ids: list[int]) -> tuple[str, list[int]]:
    """The host running the most VMs, and its VMs."""
    by_host: dict[str, list[int]] = {}
    for vm_id in vm_ids:
        by_host.setdefault(host_of(one, vm_id), []).append(vm_id)
    name = max(by_host, key=lambda h: len(by_host[h]))
    return name, by_host[name]


def log_has(server: NuboServer, text: str) -> bool:
    return any(text in line for line in list(server.log_lines))


def recreated_elsewhere(one, vm_ids: list[int], failed: str) -> bool:
    for vm_id in vm_ids:
        vm = one.vm.info(vm_id)
        if (vm.STATE, vm.LCM_STATE) != (ACTIVE, RUNNING) or host_of(one, vm_id) == failed:
            return False
    return True


def test_a_failed_host_is_fenced_before_its_vms_run_elsewhere(cloud, tmp_path):
    """ERROR only after 3 failed probes in a row; the hook waits its pause, fences the
    host (its fence command runs while every VM is still where it was) and only then
    are the VMs recreated: no VM ever runs on two hosts."""
    server, one, hosts = cloud('scheduler = true\nsched_policy = "striping"')
    data = server.data_dir
    go = tmp_path / "go"
    ft_hook(one, server, fence_command(tmp_path, data, go=str(go)) + " --pause 2")
    for hid in hosts.values():
        wait_for("hosts monitored", lambda h=hid: one.host.info(h).STATE == MONITORED)
    vm_ids = run_vms(one)
    name, doomed = victim(one, vm_ids)
    hid = hosts[name]
    watch = DoubleWatch(data)

    (data / "dummy-down").write_text(f"{name}\n")
    wait_for("host in ERROR", lambda: one.host.info(hid).STATE in (ERROR, DISABLED))
    # One lost probe is no host failure: ERROR came with the third in a row.
    failed = [line for line in server.log_lines if f"host {name}: monitoring failed" in line]
    assert "(1 of 3 in a row" in failed[0] and "(2 of 3 in a row" in failed[1]
    assert f"host {name}: monitoring failed: host {name} is unreachable" in failed[2]

    fenced = tmp_path / "fenced"
    wait_for("the fence command", fenced.exists, timeout=30)
    assert fenced.read_text() == f"{name} {hid}\n"
    # The fence is holding: nothing may have been recreated yet.
    for vm_id in doomed:
        assert one.vm.info(vm_id).STATE == ACTIVE and host_of(one, vm_id) == name
        assert running_where(data).get(vm_id) == [name]
    go.write_text("")

    wait_for("VMs recreated on the other hosts",
             lambda: recreated_elsewhere(one, doomed, name), timeout=30)
    wait_for("every VM running", lambda: len(running_where(data)) == len(vm_ids))
    assert watch.stop() == {}
    assert all(len(h) == 1 and h[0] != name for v, h in running_where(data).items()
               if v in doomed)


def test_a_host_back_with_stale_vms_has_them_destroyed(cloud, tmp_path):
    """A fence that said yes but left the host running (or --no-fencing): when the host
    comes back, the VMs nubo recreated elsewhere are shown as ZOMBIES and destroyed
    there (zombie_policy = destroy), leaving one copy of each."""
    # Probes a second apart: ZOMBIES shows from the first probe after the host's return
    # until the one after the zombies were destroyed (the second), long enough to see.
    server, one, hosts = cloud('scheduler = true\nsched_policy = "striping"\n'
                               'zombie_policy = "destroy"', interval=1)
    data = server.data_dir
    ft_hook(one, server, fence_command(tmp_path, data, lie=True) + " --pause 0")
    for hid in hosts.values():
        wait_for("hosts monitored", lambda h=hid: one.host.info(h).STATE == MONITORED)
    vm_ids = run_vms(one)
    name, doomed = victim(one, vm_ids)
    hid = hosts[name]

    (data / "dummy-down").write_text(f"{name}\n")
    wait_for("VMs recreated on the other hosts",
             lambda: recreated_elsewhere(one, doomed, name), timeout=30)
    assert all(name in running_where(data)[v] for v in doomed)  # the fence lied

    (data / "dummy-down").write_text("")  # the host comes back, still running them
    zombies = {f"one-{v}" for v in doomed}

    def shown() -> bool:
        text = one.host.info(hid).TEMPLATE.get("ZOMBIES") or ""
        return {z.strip() for z in text.split(",") if z.strip()} == zombies
    wait_for("zombies shown on the host", shown)
    assert one.host.info(hid).TEMPLATE["TOTAL_ZOMBIES"] == str(len(doomed))
    wait_for("zombies destroyed", lambda: all(running_where(data).get(v) == [host_of(one, v)]
                                              for v in doomed))
    wait_for("zombies no longer shown", lambda: "ZOMBIES" not in one.host.info(hid).TEMPLATE)
    assert log_has(server, f"host {name} runs VMs nubo does not place there")
    assert one.host.info(hid).STATE == DISABLED  # the hook's --disable; still monitored
    for vm_id in vm_ids:
        assert one.vm.info(vm_id).LCM_STATE == RUNNING


def test_a_late_deploy_success_on_a_moved_vm_is_undone(cloud):
    """A DEPLOY under way when its host was cut off answers SUCCESS once the host is
    back, after the VM was recreated and deployed elsewhere: nubo destroys that copy
    (zombie_policy = report, so only the late answer's reconciliation can)."""
    server, one, hosts = cloud('zombie_policy = "report"', latency={"h0": "DEPLOY=3"})
    data = server.data_dir
    for hid in hosts.values():
        wait_for("hosts monitored", lambda h=hid: one.host.info(h).STATE == MONITORED)
    vm_id = one.vm.allocate('NAME = "late"\nCPU = 0.1\nMEMORY = 32', False)
    one.vm.deploy(vm_id, hosts["h0"])
    wait_state(one, vm_id, (ACTIVE, BOOT))
    (data / "dummy-down").write_text("h0\n")  # the DEPLOY is under way, held
    one.vm.recover(vm_id, 4)  # as the FT hook does (its CLEANUP on h0 fails: unreachable)
    wait_state(one, vm_id, (PENDING, 0))
    one.vm.deploy(vm_id, hosts["h1"])
    wait_state(one, vm_id, (ACTIVE, RUNNING))
    assert running_where(data)[vm_id] == ["h1"]

    (data / "dummy-down").write_text("")
    wait_for("the late DEPLOY answered", lambda: log_has(
        server, f"VM {vm_id}: stale answer to vmm DEPLOY"))
    wait_for("its copy on h0 destroyed", lambda: running_where(data)[vm_id] == ["h1"]
             and log_has(server, f"host h0: VM {vm_id} (one-{vm_id}) destroyed"))
    assert log_has(server, f"VM {vm_id}: stale answer to vmm DEPLOY undone")
    assert (one.vm.info(vm_id).STATE, host_of(one, vm_id)) == (ACTIVE, "h1")
