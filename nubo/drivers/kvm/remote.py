"""How the kvm drivers reach their hosts: in place for this machine, over ssh elsewhere.

As OpenNebula does: key-based ssh (BatchMode, as the user running nubo) to the host
by its name, and the drivers' remote parts (the probe, and the network driver as one
zip application, ``vnm.pyz``, which needs only the host's python3) copied to a directory
on the host (``remote_dir``, /var/tmp/nubo/remotes as OpenNebula's /var/tmp/one) on first
use and again by ``nubo host sync`` after an upgrade.

The settings come from the driver's environment (``nubo serve`` sets them from the
configuration, docs/configuration.md): NUBO_KVM_REMOTE_DIR, NUBO_KVM_SSH (the ssh
command line the host name is appended to), NUBO_KVM_PYTHON (the host's python),
NUBO_KVM_URI (libvirt on the host) and NUBO_KVM_PROBE_WINDOW (seconds of CPU
sampling).
"""
from __future__ import annotations

import io
import os
import shlex
import socket
import subprocess
import tarfile
import zipfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from nubo.drivers.kvm import probe as probe_module

DEFAULT_REMOTE_DIR = "/var/tmp/nubo/remotes"
DEFAULT_SSH = "ssh -o BatchMode=yes -o ConnectTimeout=10"
#: What is copied to a host: the probe (a file of this package) and the network driver.
REMOTE_FILES = ("probe.py", "vnm.pyz")
HERE = Path(__file__).resolve().parent
VNM = HERE.parent / "vnm"


@dataclass(frozen=True)
class Settings:
    remote_dir: str = DEFAULT_REMOTE_DIR
    ssh: str = DEFAULT_SSH
    python: str = "python3"
    uri: str = probe_module.DEFAULT_URI
    window: float = probe_module.DEFAULT_WINDOW
    timeout: float = 60.0


def settings(env: dict[str, str] | None = None) -> Settings:
    """The settings the environment gives (defaults for what it does not)."""
    env = os.environ if env is None else env
    return Settings(remote_dir=env.get("NUBO_KVM_REMOTE_DIR") or DEFAULT_REMOTE_DIR,
                    ssh=env.get("NUBO_KVM_SSH") or DEFAULT_SSH,
                    python=env.get("NUBO_KVM_PYTHON") or "python3",
                    uri=env.get("NUBO_KVM_URI") or probe_module.DEFAULT_URI,
                    window=float(env.get("NUBO_KVM_PROBE_WINDOW") or probe_module.DEFAULT_WINDOW))


class RemoteError(RuntimeError):
    """A host could not be reached or its command failed; the message says which."""


@lru_cache(maxsize=1)
def own_names() -> frozenset[str]:
    """The names this machine answers to, lower-cased."""
    names = {"localhost", "localhost.localdomain", "127.0.0.1", "::1", socket.gethostname()}
    try:
        names.add(socket.getfqdn())
    except OSError:
        pass
    return frozenset(n.lower() for n in names)


def is_local(host: str) -> bool:
    """This machine (``localhost`` or its own names): reached without ssh."""
    return host.lower() in own_names() or host.lower().split("@")[-1] in own_names()


def run(host: str, argv: list[str], stdin: bytes | None = None, timeout: float = 60.0,
        cfg: Settings | None = None) -> subprocess.CompletedProcess:
    """``argv`` on ``host`` (ssh for a remote one); raises RemoteError if it can't start
    or times out; its exit code is the caller's to judge."""
    cfg = cfg or settings()
    command = argv if is_local(host) else [*shlex.split(cfg.ssh), host, shlex.join(argv)]
    try:
        # never the driver's own stdin: that is the core's protocol pipe, and an ssh
        # reading it would swallow the core's next requests
        return subprocess.run(command, input=stdin, capture_output=True, timeout=timeout,
                              stdin=subprocess.DEVNULL if stdin is None else None)
    except subprocess.TimeoutExpired:
        raise RemoteError(f"{host}: no answer within {timeout:.0f} s") from None
    except OSError as e:
        raise RemoteError(f"{host}: cannot run {command[0]}: {e.strerror}") from None


def _why(host: str, done: subprocess.CompletedProcess) -> str:
    text = (done.stderr or b"").decode(errors="replace").strip().splitlines()
    return f"{host}: {text[-1] if text else f'exit code {done.returncode}'}"


def vnm_zipapp() -> bytes:
    """nubo.drivers.vnm as a zip application (``python3 vnm.pyz STEP``): the package
    needs the standard library alone, so a host needs no nubo installed to run it."""
    data = io.BytesIO()
    with zipfile.ZipFile(data, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("__main__.py", "import runpy\n"
                   "runpy.run_module('nubo.drivers.vnm', run_name='__main__')\n")
        z.writestr("nubo/__init__.py", "")  # not nubo's own: that would import the rest
        z.writestr("nubo/drivers/__init__.py", "")
        for path in sorted(VNM.glob("*.py")):
            z.writestr(f"nubo/drivers/vnm/{path.name}", path.read_bytes())
    return data.getvalue()


def _body(name: str) -> bytes:
    return vnm_zipapp() if name == "vnm.pyz" else (HERE / name).read_bytes()


def vnm_command(cfg: Settings | None = None) -> str:
    """How a remote host runs the network driver: its copy of ``vnm.pyz``."""
    cfg = cfg or settings()
    return f"{cfg.python} {cfg.remote_dir}/vnm.pyz"


def missing_remote_file(done: subprocess.CompletedProcess) -> bool:
    """python's answer for a script that is not there (the host never synced)."""
    err = done.stderr if isinstance(done.stderr, str) else (done.stderr or b"").decode(
        errors="replace")
    return done.returncode == 2 and "can't open file" in err


def _bundle() -> bytes:
    """The remote files as a tar archive (executable, readable by all)."""
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w") as tar:
        for name in REMOTE_FILES:
            body = _body(name)
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(body), 0o755
            tar.addfile(info, io.BytesIO(body))
    return data.getvalue()


def sync(host: str, cfg: Settings | None = None) -> list[str]:
    """Copy the remote files to ``host``'s remote_dir; returns their paths there."""
    cfg = cfg or settings()
    script = f"mkdir -p {shlex.quote(cfg.remote_dir)} && tar -x -o -C {shlex.quote(cfg.remote_dir)}"
    done = run(host, ["sh", "-c", script], stdin=_bundle(), timeout=cfg.timeout, cfg=cfg)
    if done.returncode != 0:
        raise RemoteError(_why(host, done))
    return [f"{cfg.remote_dir}/{name}" for name in REMOTE_FILES]


def probe(host: str, cfg: Settings | None = None) -> str:
    """One probe round of ``host``: in this process for this machine, else its copy of
    the probe over ssh (copied there first if it is missing)."""
    cfg = cfg or settings()
    if is_local(host):
        try:
            return probe_module.collect(cfg.uri, cfg.window)
        except (OSError, ValueError) as e:
            raise RemoteError(f"{host}: {e}") from None
    argv = [cfg.python, f"{cfg.remote_dir}/probe.py", "--uri", cfg.uri,
            "--window", str(cfg.window)]
    done = run(host, argv, timeout=cfg.timeout, cfg=cfg)
    if missing_remote_file(done):
        sync(host, cfg)  # first use of this host
        done = run(host, argv, timeout=cfg.timeout, cfg=cfg)
    if done.returncode != 0:
        raise RemoteError(_why(host, done))
    return done.stdout.decode()
