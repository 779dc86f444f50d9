"""A small network lab in namespaces the tests make and always remove.

A "host" namespace (where the driver runs), one "guest" namespace per VM NIC (the
other end of the veth pair whose host end plays the tap ``one-<vmid>-<nicid>``, with
the NIC's MAC and IP), and a "client" namespace plugged into the host through a veth
(``uplink``) that the network's PHYDEV names. Addresses only from 198.51.100.0/24.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

PROBE = str(Path(__file__).with_name("net_probe.py"))
SUBNET = "198.51.100"
CLIENT_IP = f"{SUBNET}.200"


def missing_reason() -> str | None:
    """Why these tests cannot run here, or None."""
    if os.geteuid() != 0:
        return "network namespace tests need root (ip netns add)"
    for tool in ("ip", "nft"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (scripts/system-deps lists iproute2 and nftables)"
    return None


def sh(*argv: str, check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    if check and done.returncode != 0:
        raise AssertionError(f"{' '.join(argv)}: {done.stderr.strip()}")
    return done


class Lab:
    def __init__(self) -> None:
        tag = uuid.uuid4().hex[:6]
        self.host, self.client = f"nubo-h-{tag}", f"nubo-c-{tag}"
        self.namespaces: list[str] = []
        self.processes: list[subprocess.Popen] = []
        self.uplink = "uplink0"

    def netns(self, name: str) -> str:
        sh("ip", "netns", "add", name)
        self.namespaces.append(name)
        sh("ip", "-n", name, "link", "set", "lo", "up")
        return name

    def start(self) -> Lab:
        self.netns(self.host)
        self.netns(self.client)
        sh("ip", "-n", self.host, "link", "add", self.uplink, "type", "veth", "peer", "name",
           "eth0", "netns", self.client)
        sh("ip", "-n", self.client, "addr", "add", f"{CLIENT_IP}/24", "dev", "eth0")
        sh("ip", "-n", self.client, "link", "set", "eth0", "up")
        return self

    def guest(self, vm_id: int, nic_id: int, ip: str, mac: str) -> str:
        """A guest namespace behind tap one-<vm_id>-<nic_id> of the host."""
        name = self.netns(f"nubo-g{vm_id}-{nic_id}-{self.host[-6:]}")
        sh("ip", "-n", self.host, "link", "add", f"one-{vm_id}-{nic_id}", "type", "veth",
           "peer", "name", "eth0", "netns", name)
        sh("ip", "-n", name, "link", "set", "eth0", "address", mac)
        sh("ip", "-n", name, "addr", "add", f"{ip}/24", "dev", "eth0")
        sh("ip", "-n", name, "link", "set", "eth0", "up")
        return name

    def in_ns(self, ns: str, *argv: str) -> subprocess.CompletedProcess:
        return sh("ip", "netns", "exec", ns, *argv, check=False)

    def listen(self, ns: str, ip: str, port: int) -> None:
        proc = subprocess.Popen(["ip", "netns", "exec", ns, sys.executable, PROBE, "listen", ip,
                                 str(port)], stdout=subprocess.PIPE, text=True)
        self.processes.append(proc)
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"

    def _probe(self, ns: str, *args: str) -> bool:
        """One probe, or several over 5 s when it fails: a freshly plugged port may lose
        the first packets (carrier coming up), which must not pass for a drop. A probe
        that should be refused thus costs 5 s; the tests check allowed traffic first."""
        deadline = time.monotonic() + 5
        while True:
            if self.in_ns(ns, sys.executable, PROBE, *args).returncode == 0:
                return True
            if time.monotonic() > deadline:
                return False

    def can_connect(self, ns: str, ip: str, port: int) -> bool:
        return self._probe(ns, "connect", ip, str(port))

    def can_ping(self, ns: str, ip: str) -> bool:
        return self._probe(ns, "ping", ip)

    def links(self) -> dict[str, dict]:
        import json
        out = sh("ip", "-n", self.host, "-j", "link").stdout
        return {link["ifname"]: link for link in json.loads(out or "[]")}

    def tables(self) -> str:
        return sh("ip", "netns", "exec", self.host, "nft", "list", "tables").stdout

    def close(self) -> None:
        for proc in self.processes:
            proc.kill()
            proc.wait(timeout=10)
        for name in reversed(self.namespaces):  # links inside go with their namespace
            subprocess.run(["ip", "netns", "del", name], capture_output=True, timeout=30)


@pytest.fixture
def lab():
    reason = missing_reason()
    if reason:
        pytest.skip(reason)
    made = Lab()
    try:
        yield made.start()
    finally:
        made.close()
