"""The host side of the network drivers: ``ip``, ``nft`` and ``sysctl``, run locally or
inside a network namespace (``ip netns exec``), failing with the command's own message."""
from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass

from nubo.drivers.vnm.nics import VnmError


@dataclass(frozen=True)
class Host:
    """Where the commands run: this host, or network namespace ``netns`` of it."""

    netns: str | None = None

    def _argv(self, argv: list[str]) -> list[str]:
        return ["ip", "netns", "exec", self.netns, *argv] if self.netns else argv

    def run(self, *argv: str, stdin: str | None = None, check: bool = True) -> str:
        try:
            done = subprocess.run(self._argv(list(argv)), input=stdin, capture_output=True,
                                  text=True, timeout=30)
        except FileNotFoundError:
            raise VnmError(f"{argv[0]} is not installed on this host") from None
        except subprocess.TimeoutExpired:
            raise VnmError(f"`{' '.join(argv)}` did not finish within 30 s") from None
        if check and done.returncode != 0:
            where = f" in network namespace {self.netns}" if self.netns else ""
            raise VnmError(f"`{' '.join(argv)}`{where} failed: "
                           f"{(done.stderr or done.stdout).strip()}")
        return done.stdout

    # -- links ---------------------------------------------------------------------
    def links(self) -> dict[str, dict]:
        """Every link by name, as ``ip -j link`` shows it (master, mtu, operstate…)."""
        return {link["ifname"]: link for link in json.loads(self.run("ip", "-j", "link") or "[]")}

    def exists(self, name: str) -> bool:
        return name in self.links()

    def ports(self, bridge: str) -> list[str]:
        return sorted(n for n, link in self.links().items() if link.get("master") == bridge)

    def ip(self, *args: str) -> None:
        self.run("ip", "link", *args)

    def set_mtu(self, name: str, mtu: str) -> None:
        if mtu:
            self.ip("set", "dev", name, "mtu", mtu)

    def nft(self, script: str) -> None:
        self.run("nft", "-f", "-", stdin=script)

    def sysctl(self, key: str, value: str) -> None:
        self.run("sysctl", "-q", "-w", f"{key}={value}")
