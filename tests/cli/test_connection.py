"""Connection, credentials and exit codes: 0 ok, 1 API error, 2 usage, 3 connection/auth."""
from __future__ import annotations

import socket

from conftest import Cli


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_endpoint_down_is_exit_3_with_a_clear_message(cli: Cli) -> None:
    url = f"http://127.0.0.1:{_free_port()}/RPC2"
    for args in (("vm", "list"), ("vm", "list", "--endpoint", url)):
        proc = cli(*args, ok=False, ONE_XMLRPC=url)
        assert proc.returncode == 3
        assert f"cannot reach the API at {url}" in proc.stderr
        assert proc.stdout == ""


def test_wrong_password_is_exit_3(cli: Cli) -> None:
    proc = cli("host", "list", "--user", "oneadmin", "--password", "wrong", ok=False)
    assert proc.returncode == 3
    assert "authentication failed for user 'oneadmin'" in proc.stderr


def test_missing_auth_file_is_exit_3(cli: Cli, tmp_path) -> None:
    proc = cli("vm", "list", ok=False, ONE_AUTH=str(tmp_path / "nope"))
    assert proc.returncode == 3
    assert "cannot read" in proc.stderr and "nope" in proc.stderr


def test_usage_errors_are_exit_2_and_send_nothing(cli: Cli) -> None:
    for args in (("vm",), ("vm", "frobnicate"), ("vm", "deploy"), ("vm", "list", "--sort"),
                 ("vm", "list", "--user", "oneadmin"), ("vm", "terminate", "9-3"),
                 ("vm", "chmod", "0", "999"), ("vm", "list", "--filter", "NOPE=1"),
                 ("vm", "create", "--memory", "lots")):
        proc = cli(*args, ok=False)
        assert proc.returncode == 2, (args, proc.stderr)
        assert proc.stderr.strip() and proc.stdout == "", args


def test_api_errors_are_exit_1_on_stderr(cli: Cli) -> None:
    proc = cli("vm", "show", "987654", ok=False)
    assert proc.returncode == 1
    assert proc.stderr.startswith("nubo: [one.vm.info]")
    assert proc.stdout == ""
    proc = cli("vm", "show", "no-such-vm", ok=False)
    assert proc.returncode == 1 and "no VM named 'no-such-vm'" in proc.stderr


def test_help_everywhere_with_an_example(cli: Cli) -> None:
    from nubo.cli.nouns import all_nouns
    top = cli("--help").stdout
    for noun in all_nouns():
        assert noun.name in top
    # Every verb's help, in one process per noun (the help is built from the same tables).
    for noun in all_nouns():
        out = cli(noun.name, "--help").stdout
        assert "example:" in out
        for verb in noun.verbs:
            assert verb.name in out, (noun.name, verb.name)
    proc = cli("vm", "deploy", "--help")
    assert "example:\n  nubo vm deploy web-1 host-3" in proc.stdout
    proc = cli("deploy", "--help", command="onevm")
    assert "example:\n  onevm deploy web-1 host-3" in proc.stdout


def test_every_verb_has_help_and_an_example() -> None:
    """In-process: each verb's parser renders --help with its example (not judged by output)."""
    import contextlib
    import io

    import pytest

    from nubo.cli.main import main
    from nubo.cli.nouns import all_nouns
    for noun in all_nouns():
        for verb in noun.verbs:
            buf = io.StringIO()
            with contextlib.redirect_stdout(buf), pytest.raises(SystemExit) as done:
                main([noun.name, verb.name, "--help"])
            assert done.value.code == 0
            assert "example:" in buf.getvalue() and f"nubo {noun.name} " in buf.getvalue()
