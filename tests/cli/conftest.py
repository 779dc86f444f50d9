"""CLI tests: the commands run as subprocesses against one real ``nubo serve`` (SQLite).

``cli`` runs ``python -m nubo ...`` (or a one* command) as oneadmin through
ONE_XMLRPC/ONE_AUTH, the way an operator's shell would, and returns the
completed process (stdout, stderr, returncode).
"""
from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from server import NuboServer

BIN = Path(sys.executable).parent


@dataclass
class Cli:
    endpoint: str
    auth_file: Path
    home: Path

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items()
               if k not in ("COLUMNS", "NO_COLOR", "ONE_XMLRPC", "ONE_AUTH", "EDITOR", "VISUAL")}
        env.update(ONE_XMLRPC=self.endpoint, ONE_AUTH=str(self.auth_file), HOME=str(self.home),
                   TZ="UTC")
        env.update(extra)
        return env

    def __call__(self, *args: str, env: dict[str, str] | None = None, input: str | None = None,
                 command: str = "nubo", ok: bool | None = True, timeout: float = 60,
                 **extra_env: str) -> subprocess.CompletedProcess[str]:
        """Run a command; ``ok=True`` asserts exit 0, ``ok=False`` a failure, None neither."""
        argv = [sys.executable, "-m", "nubo", *args] if command == "nubo" else \
            [str(BIN / command), *args]
        proc = subprocess.run(argv, capture_output=True, text=True, input=input,
                              env=env or self.env(**extra_env), timeout=timeout)
        if ok is True:
            assert proc.returncode == 0, f"{argv[2:]} failed ({proc.returncode}):\n{proc.stderr}"
        elif ok is False:
            assert proc.returncode != 0, f"{argv[2:]} should have failed:\n{proc.stdout}"
        return proc

    def id(self, *args: str, **kw: str) -> int:
        """Run a create-like command and return the id it prints."""
        return int(self(*args, **kw).stdout.strip())


@pytest.fixture(scope="session")
def cli_server(tmp_path_factory: pytest.TempPathFactory):
    server = NuboServer(tmp_path_factory.mktemp("cli-nubo") / "data").start()
    yield server
    assert server.stop() == 0, "".join(server.log_lines[-30:])


def make_cli(server: NuboServer, base: Path) -> Cli:
    base.mkdir(parents=True, exist_ok=True)
    auth = base / "one_auth"
    auth.write_text(server.session + "\n")
    return Cli(server.endpoint, auth, base / "home")


@pytest.fixture(scope="session")
def cli(cli_server: NuboServer, tmp_path_factory: pytest.TempPathFactory) -> Cli:
    return make_cli(cli_server, tmp_path_factory.mktemp("cli-admin"))


@pytest.fixture(scope="session")
def hosts(cli: Cli) -> list[str]:
    """Two dummy hosts for the VM tests."""
    names = ["cli-h1", "cli-h2"]
    for name in names:
        cli("host", "create", name, "--im", "dummy", "--vm", "dummy")
    return names


@pytest.fixture
def unique(request: pytest.FixtureRequest) -> Callable[[str], str]:
    """Names unique to the test, so tests sharing the server do not collide."""
    stem = request.node.name.replace("[", "-").replace("]", "").replace("_", "-")[:40]
    return lambda what: f"{stem}-{what}"
