"""``nubo host sync`` / ``onehost sync``: the kvm drivers' remote parts (the probe) copied
to the hosts: this machine in place, a second host (tests/kvm/second_host.py) over ssh
with the test's key; a host out of reach fails alone, with its reason; and the probe
of a remote host copies itself there on first use."""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "kvm"))

from conftest import make_cli  # noqa: E402
from second_host import second_host_fixture  # noqa: E402
from server import NuboServer  # noqa: E402

from nubo.drivers.kvm import remote  # noqa: E402
from nubo.template import parse  # noqa: E402

PROBE = Path(remote.__file__).with_name("probe.py")


@pytest.fixture(scope="module")
def host2(tmp_path_factory):
    yield from second_host_fixture(tmp_path_factory)


@pytest.fixture(scope="module")
def sync_cli(tmp_path_factory):
    base = tmp_path_factory.mktemp("host-sync")
    server = NuboServer(base / "data").start()
    yield make_cli(server, base)
    assert server.stop() == 0, "".join(server.log_lines[-30:])


def test_sync_every_kvm_host_and_only_them(sync_cli, host2, tmp_path):
    """No host named: every host on kvm drivers, this machine's and a remote one; a
    dummy host is left alone; a host out of reach fails with its reason, the others
    are synced all the same."""
    remote_dir = f"/var/tmp/nubo-test-kvmhost-{tmp_path.name}"
    local_dir = tmp_path / "local-remotes"
    sync_cli("host", "create", "localhost", "-i", "kvm", "-v", "kvm")
    sync_cli("host", "create", host2.address, "-i", "kvm", "-v", "kvm")
    sync_cli("host", "create", "sim-1", "-i", "dummy", "-v", "dummy")
    env = sync_cli.env(NUBO_KVM_SSH=host2.ssh_command)
    # localhost: in place, so a directory of this machine's tmp
    done = sync_cli("host", "sync", "localhost", "--remote-dir", str(local_dir), env=env)
    assert done.stdout.strip() == f"host 0 (localhost): synced 2 file(s) to {local_dir}"
    assert (local_dir / "probe.py").read_bytes() == PROBE.read_bytes()
    done = sync_cli("host", "sync", "--remote-dir", remote_dir, env=env, ok=None)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines == [f"host 0 (localhost): synced 2 file(s) to {remote_dir}",
                     f"host 1 ({host2.address}): synced 2 file(s) to {remote_dir}"]
    there = host2.ssh(f"cat {remote_dir}/probe.py")
    assert there.returncode == 0 and there.stdout == PROBE.read_text()
    assert host2.ssh(f"test -s {remote_dir}/vnm.pyz").returncode == 0
    shutil.rmtree(remote_dir)  # one file system: the second host's copy too


def test_a_host_out_of_reach_fails_alone(sync_cli, host2, tmp_path):
    remote_dir = str(tmp_path / "remotes")
    sync_cli("host", "create", "nubo-test-kvmhost-nowhere.invalid", "-i", "kvm", "-v", "kvm")
    done = sync_cli("sync", "nubo-test-kvmhost-nowhere.invalid", "localhost", "--remote-dir",
                    remote_dir, command="onehost", ok=False,
                    env=sync_cli.env(NUBO_KVM_SSH=host2.ssh_command))
    assert "(nubo-test-kvmhost-nowhere.invalid): sync failed: " in done.stderr
    assert "1 of 2 host(s) could not be synced" in done.stderr
    assert "(localhost): synced 2 file(s)" in done.stdout
    assert Path(remote_dir, "probe.py").exists()
    missing = sync_cli("host", "sync", "no-such-host", ok=False)
    assert "no-such-host" in missing.stderr


def test_help_says_what_sync_does(sync_cli):
    done = sync_cli("sync", "--help", command="onehost")
    assert "remote parts" in done.stdout and "--remote-dir" in done.stdout


def test_a_remote_probe_syncs_itself_on_first_use(host2):
    remote_dir = "/var/tmp/nubo-test-kvmhost-first-use"
    host2.ssh(f"rm -rf {remote_dir}")
    cfg = remote.Settings(remote_dir=remote_dir, ssh=host2.ssh_command, window=0.1)
    try:
        figures = parse(remote.probe(host2.address, cfg))
    finally:
        host2.ssh(f"rm -rf {remote_dir}")
    assert figures.get("HYPERVISOR") == "kvm"
    assert figures.get("HOSTNAME") == host2.hostname


def test_a_probe_of_a_host_out_of_reach_says_why():
    cfg = remote.Settings(ssh="ssh -o BatchMode=yes -o ConnectTimeout=2", timeout=20)
    with pytest.raises(remote.RemoteError, match="nubo-test-kvmhost-nowhere.invalid"):
        remote.probe("nubo-test-kvmhost-nowhere.invalid", cfg)
