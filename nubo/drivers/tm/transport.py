"""How the transfer driver reaches a host's files, as OpenNebula's TM scripts do over ssh.

Three kinds of host, one interface (run a command line there; name a path there):

* this machine (``localhost``, the front-end's names): commands run here;
* a SIMULATED host (its history record's VM_MAD is ``dummy``): commands run here too,
  on a directory standing for its filesystem (``<sim_root>/<host>/<path>``), so what
  the driver makes is real and checkable without ssh;
* any other host: commands run through ``remote_command`` (``ssh -o BatchMode=yes
  {host}``), the command line appended as ssh appends it.

Copies between two hosts stream through the front-end (``cat`` / ``tar`` on a pipe),
unless both ends are files of this machine, which ``cp`` copies sparsely.
"""
from __future__ import annotations

import shlex
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path


class TransferError(RuntimeError):
    """A command failed on a host; the message says which and why."""


@dataclass(frozen=True)
class Host:
    """One host's filesystem and command runner."""

    name: str
    #: Prefix of this machine's path standing for the host's "/" (a simulated host);
    #: "" for this machine itself. None: a remote host.
    root: str | None = ""
    remote: tuple[str, ...] = field(default=())

    @property
    def here(self) -> bool:
        """Its files are files of this machine (this machine or a simulated host)."""
        return self.root is not None

    def path(self, path: str) -> str:
        """``path`` as the commands run for this host see it."""
        if self.root:
            return self.root.rstrip("/") + "/" + path.lstrip("/")
        return path

    def argv(self, argv: Sequence[str]) -> list[str]:
        if self.here:
            return list(argv)
        return [*self.remote, shlex.join(argv)]

    def run(self, argv: Sequence[str], what: str = "") -> str:
        """Run ``argv`` (paths already through ``path``) on the host; its stdout."""
        try:
            done = subprocess.run(self.argv(argv), capture_output=True, text=True, check=False)
        except OSError as e:
            raise TransferError(f"{what or argv[0]} on {self.name}: {e}") from None
        if done.returncode != 0:
            message = (done.stderr or done.stdout).strip().replace("\n", " ")
            raise TransferError(f"{what or argv[0]} on {self.name} failed: "
                                f"{message or f'exit status {done.returncode}'}")
        return done.stdout

    def sh(self, script: str, *args: str, what: str = "") -> str:
        """A small POSIX shell script with positional ``args`` (already mapped)."""
        return self.run(["sh", "-c", script, "sh", *args], what=what)

    # -- the few operations every TM verb is made of -------------------------------------
    def exists(self, path: str) -> bool:
        if self.here:
            return Path(self.path(path)).exists() or Path(self.path(path)).is_symlink()
        return self.sh('test -e "$1" || test -L "$1" && echo y || true',
                       path).strip() == "y"

    def is_dir(self, path: str) -> bool:
        if self.here:
            return Path(self.path(path)).is_dir()
        return self.sh('test -d "$1" && echo d || true', self.path(path)).strip() == "d"

    def mkdir(self, path: str) -> None:
        self.run(["mkdir", "-p", self.path(path)], what=f"mkdir {path}")

    def remove(self, path: str) -> None:
        self.run(["rm", "-rf", self.path(path)], what=f"rm {path}")


def copy(src: Host, src_path: str, dst: Host, dst_path: str) -> None:
    """Copy a file or a directory (its contents, to ``dst_path``) between two hosts."""
    if src.here and dst.here:
        a, b = src.path(src_path), dst.path(dst_path)
        if Path(a).is_dir():
            dst.run(["mkdir", "-p", b], what=f"mkdir {dst_path}")
            a = a.rstrip("/") + "/."
        dst.run(["cp", "-a", "--sparse=always", "--reflink=auto", a, b],
                what=f"copy {src.name}:{src_path} to {dst.name}:{dst_path}")
        return
    if src.is_dir(src_path):
        read = ["tar", "-C", src.path(src_path), "-cf", "-", "."]
        write = ["sh", "-c", 'mkdir -p "$1" && tar -C "$1" -xf -', "sh", dst.path(dst_path)]
    else:
        read = ["cat", src.path(src_path)]
        write = ["sh", "-c", 'cat > "$1"', "sh", dst.path(dst_path)]
    _pipe(src.argv(read), dst.argv(write),
          f"copy {src.name}:{src_path} to {dst.name}:{dst_path}")


def _pipe(left: list[str], right: list[str], what: str) -> None:
    try:
        reader = subprocess.Popen(left, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    except OSError as e:
        raise TransferError(f"{what}: {e}") from None
    try:
        writer = subprocess.run(right, stdin=reader.stdout, capture_output=True, check=False)
    finally:
        assert reader.stdout is not None
        reader.stdout.close()
        err = reader.stderr.read() if reader.stderr else b""
        reader.wait()
    for code, text in ((reader.returncode, err), (writer.returncode, writer.stderr)):
        if code != 0:
            message = text.decode("utf-8", "replace").strip().replace("\n", " ")
            raise TransferError(f"{what} failed: {message or f'exit status {code}'}")


@dataclass(frozen=True)
class Transports:
    """Which :class:`Host` a host name is: this machine, simulated, or remote."""

    local_names: frozenset[str]
    sim_root: str
    remote_command: str = "ssh -o BatchMode=yes {host}"

    def host(self, name: str, vm_mad: str = "") -> Host:
        """``vm_mad``: the VM_MAD of the host's history record (``dummy``: simulated)."""
        if name in self.local_names:
            return Host(name)
        if vm_mad == "dummy":
            return Host(name, root=str(Path(self.sim_root) / name))
        return Host(name, root=None, remote=tuple(
            shlex.split(self.remote_command.format(host=name))))

    @property
    def frontend(self) -> Host:
        return Host(sorted(self.local_names)[0] if self.local_names else "localhost")
