"""The CLI against a core on a non-default endpoint, as a user outside oneadmin."""
from __future__ import annotations

from pathlib import Path

from conftest import Cli


def test_a_plain_user_on_a_non_default_endpoint(cli: Cli, hosts: list[str], unique,
                                                tmp_path: Path) -> None:
    assert not cli.endpoint.endswith(":2633/RPC2")  # the session's core listens elsewhere
    alice = unique("alice")
    cli("user", "create", alice, "alice-pw", "--group", "users")
    admins_vm = unique("admins")
    cli("vm", "create", "--name", admins_vm, "--cpu", "1", "--memory", "64", "--hold")
    auth = tmp_path / "alice_auth"
    auth.write_text(f"{alice}:alice-pw\n")
    # No ONE_XMLRPC: the endpoint comes from --endpoint only; credentials from ONE_AUTH.
    env = cli.env(ONE_AUTH=str(auth))
    del env["ONE_XMLRPC"]
    ep = ("--endpoint", cli.endpoint)
    assert cli("vm", "list", env=env, ok=False).returncode == 3  # localhost:2633: nobody there
    mine = unique("mine")
    vm = str(cli.id("vm", "create", "--name", mine, "--cpu", "1", "--memory", "64", *ep,
                    env=env))
    listed = cli("vm", "list", "--csv", "--no-header", "--list", "NAME,USER", *ep,
                 env=env).stdout.split()
    assert listed == [f"{mine},{alice}"]  # only her own VM
    # OpenNebula's owner filter: a user's VMs, or mine.
    assert cli("vm", "list", alice, "--csv", "--no-header", "--list", "NAME").stdout.split() \
        == [mine]
    assert mine not in cli("vm", "list", "m").stdout and mine in cli("vm", "list", "a").stdout
    # Connection options before the noun work as after the verb.
    assert mine in cli("--endpoint", cli.endpoint, "vm", "list", env=env).stdout
    cli("vm", "hold", mine, *ep, env=env)
    cli("vm", "release", mine, *ep, env=env)
    assert f"USER                : {alice}" in cli("vm", "show", mine, *ep, env=env).stdout
    proc = cli("vm", "show", admins_vm, *ep, env=env, ok=False)
    assert proc.returncode == 1 and f"no VM named '{admins_vm}'" in proc.stderr
    host_id = cli("host", "list", "--csv", "--no-header", "--list", "ID",
                  "--filter", f"NAME={hosts[0]}").stdout.strip()
    proc = cli("host", "delete", host_id, *ep, env=env, ok=False)
    assert proc.returncode == 1 and "Not authorized" in proc.stderr
    proc = cli("acl", "list", *ep, env=env, ok=False)
    assert proc.returncode == 1 and "Not authorized" in proc.stderr
    # The same through onevm, with --user/--password instead of ONE_AUTH.
    env2 = cli.env(ONE_AUTH=str(tmp_path / "none"))
    del env2["ONE_XMLRPC"]
    out = cli("list", "--user", alice, "--password", "alice-pw", *ep, command="onevm",
              env=env2).stdout
    assert mine in out and admins_vm not in out
    proc = cli("list", "--user", alice, "--password", "nope", *ep, command="onevm", env=env2,
               ok=False)
    assert proc.returncode == 3 and proc.stderr.startswith("onevm: authentication failed")
    cli("terminate", vm, "--hard", "--wait", *ep, command="onevm", env=env)


def test_the_owner_chmods_a_vm_without_the_admin_right(cli: Cli, unique, tmp_path: Path) -> None:
    """The CLI sends all nine bits; unchanged admin bits need no ADMIN right (as oned)."""
    bob = unique("bob")
    cli("user", "create", bob, "bob-pw", "--group", "users")
    auth = tmp_path / "bob_auth"
    auth.write_text(f"{bob}:bob-pw\n")
    env = cli.env(ONE_AUTH=str(auth))
    vm = str(cli.id("vm", "create", "--name", unique("mine"), "--cpu", "1", "--memory", "64",
                    "--hold", env=env))

    def perms() -> list[str]:
        shown = cli("vm", "show", vm, env=env).stdout.split("PERMISSIONS", 1)[1]
        return [line.split(":")[1].strip() for line in shown.splitlines()[1:4]]

    cli("chmod", vm, "640", command="onevm", env=env)
    assert perms() == ["um-", "u--", "---"]
    cli("vm", "chmod", vm, "660", env=env)
    assert perms() == ["um-", "um-", "---"]
    for mode in ("740", "670", "661"):  # each sets an admin bit: ADMIN, which bob lacks
        proc = cli("chmod", vm, mode, command="onevm", env=env, ok=False)
        assert proc.returncode == 1 and "Not authorized to perform ADMIN VM" in proc.stderr
        assert perms() == ["um-", "um-", "---"]
