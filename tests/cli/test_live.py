"""Shell completion, ``nubo top`` / ``--watch``, and what changes on a terminal."""
from __future__ import annotations

import os
import pty
import shutil
import subprocess
import sys

import pytest

from conftest import Cli


def _complete(script: str, words: str) -> list[str]:
    """What bash offers after ``words`` (the last word being completed) with the script loaded."""
    line = words.split(" ")
    probe = (f"{script}\nCOMP_WORDS=({' '.join(repr(w) for w in line)}); "
             f"COMP_CWORD={len(line) - 1}; _nubo; printf '%s\\n' \"${{COMPREPLY[@]}}\"")
    out = subprocess.run(["bash", "-c", probe], capture_output=True, text=True, check=True)
    return out.stdout.split()


def test_bash_completion(cli: Cli) -> None:
    script = cli("completion", "bash").stdout
    assert "complete -o default -F _nubo nubo onevm onehost" in script
    assert {"vm", "vmgroup", "vnet"} <= set(_complete(script, "nubo v"))
    assert _complete(script, "nubo vm dep") == ["deploy"]
    assert set(_complete(script, "nubo vm poweroff --h")) == {"--hard", "--help"}
    assert "--im" in _complete(script, "onehost create --i")
    assert _complete(script, "onevm snapshot-r") == ["snapshot-revert"]
    assert "--filter" in _complete(script, "nubo host list --f")


def test_zsh_completion(cli: Cli, tmp_path) -> None:
    script = cli("completion", "zsh").stdout
    assert script.startswith("#compdef nubo onevm")
    assert "'deploy:deploy VMs on a host'" in script
    if not shutil.which("zsh"):
        pytest.skip("zsh is not installed: checked the script's text only")
    (tmp_path / "_nubo").write_text(script)
    subprocess.run(["zsh", "-n", str(tmp_path / "_nubo")], check=True)
    probe = (f"autoload -U compinit; compinit -u -d {tmp_path}/zcd; source {tmp_path}/_nubo; "
             "print -r -- ${_nubo_classic[onevm]} ${(k)_comps[onehost]} "
             "${_comps[onehost]}; print -r -- ${_nubo_opts[vm deploy]}")
    out = subprocess.run(["zsh", "-f", "-c", probe], capture_output=True, text=True,
                         check=True).stdout.splitlines()
    assert out[0] == "vm onehost _nubo"
    assert "--enforce" in out[1].split() and "--wait" in out[1].split()


def test_top_and_watch(cli: Cli, hosts: list[str]) -> None:
    out = cli("top", "--count", "2", "--delay", "0.05").stdout
    assert out.count("HOSTS (") == 2 and out.count("VMS (") == 2 and hosts[0] in out
    out = cli("host", "list", "--watch", "--count", "2", "--delay", "0.05").stdout
    assert out.count("ID  NAME") == 2
    assert "\x1b" not in out  # not a terminal: no screen clearing, no colours


def _on_a_terminal(cli: Cli, *args: str, rc: int = 0, **env: str) -> str:
    """Run with stdout and stderr on a pseudo-terminal; what the terminal showed."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "nubo", *args], stdout=follower,
                            stderr=follower, env=cli.env(COLUMNS="100", **env))
    os.close(follower)
    chunks = []
    while True:
        try:
            data = os.read(leader, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(30)
    os.close(leader)
    assert proc.returncode == rc
    return b"".join(chunks).decode()


def test_colours_only_on_a_terminal_and_never_with_no_color(cli: Cli, hosts: list[str],
                                                            unique) -> None:
    vm = str(cli.id("vm", "create", "--name", unique("c"), "--cpu", "1", "--memory", "64"))
    cli("vm", "deploy", vm, hosts[0])
    cli("vm", "wait", vm, "runn")
    # A progress line on a terminal only (the pipe case: test_vm.test_wait_for_a_state).
    shown = _on_a_terminal(cli, "vm", "wait", vm, "poff", "--timeout", "0.3", rc=1)
    assert f"\rVM {vm}: runn waiting for poff (0s)" in shown
    assert f"VM {vm} did not reach poff" in shown
    coloured = _on_a_terminal(cli, "vm", "list", "--filter", f"ID={vm}")
    assert "\x1b[32mrunn\x1b[0m" in coloured and "\x1b[1mID" in coloured
    plain = _on_a_terminal(cli, "vm", "list", "--filter", f"ID={vm}", NO_COLOR="1")
    assert "\x1b[" not in plain and "runn" in plain
    assert "\x1b[" not in cli("vm", "list").stdout
    cli("vm", "terminate", vm, "--hard")
