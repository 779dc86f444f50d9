"""The second hypervisor host (tests/kvm/second_host.py): reached over ssh with the
test's key, its own hostname, its own libvirtd with its own host uuid, and nothing
left behind once it is gone."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from second_host import second_host, second_host_fixture, why_not  # noqa: E402


@pytest.fixture(scope="module")
def host2(tmp_path_factory):
    yield from second_host_fixture(tmp_path_factory)


def _virsh(uri: str, *argv: str) -> str:
    done = subprocess.run(["virsh", "-c", uri, *argv], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_ssh_with_the_key_reaches_its_own_hostname(host2):
    done = subprocess.run(["ssh", "-i", str(host2.key), "-o", "StrictHostKeyChecking=no",
                           "-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes",
                           f"root@{host2.address}", "hostname"],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == host2.hostname != os.uname().nodename


def test_a_wrong_key_is_refused(host2, tmp_path):
    other = tmp_path / "other"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
    done = subprocess.run(["ssh", "-i", str(other), "-o", "IdentitiesOnly=yes",
                           *host2.ssh_options[2:], host2.target, "hostname"],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode != 0


def test_its_libvirtd_answers_over_ssh_with_its_own_identity(host2):
    assert _virsh(host2.uri, "hostname").strip() == host2.hostname
    remote_caps = _virsh(host2.uri, "capabilities")
    assert f"<uuid>{host2.host_uuid}</uuid>" in remote_caps
    try:
        sys.path.insert(0, str(Path(__file__).parent))
        from libvirt_daemons import ensure_libvirtd
        local_caps = _virsh(ensure_libvirtd(), "capabilities")
    except RuntimeError:
        return
    assert f"<uuid>{host2.host_uuid}</uuid>" not in local_caps


def test_the_guests_wire_is_one_name_on_both_hosts_and_up(host2):
    """Its PHYDEV: the bridge driver finds it by that one name wherever the guest runs."""
    here = subprocess.run(["ip", "-o", "link", "show", host2.phydev], capture_output=True,
                          text=True)
    there = host2.ssh(f"ip -o link show {host2.phydev}")
    assert here.returncode == there.returncode == 0, (here.stderr, there.stderr)
    assert "state UP" in here.stdout or "LOWER_UP" in here.stdout
    assert "LOWER_UP" in there.stdout


def test_its_libvirt_directories_are_its_own(host2):
    """Its /run/libvirt (sockets), /etc/libvirt/qemu and /var/lib/libvirt are not ours."""
    done = host2.ssh("ls /run/libvirt; ls -A /etc/libvirt/qemu")
    assert done.returncode == 0, done.stderr
    assert "libvirt-sock" in done.stdout and "networks" not in done.stdout


@pytest.mark.skipif(bool(why_not()), reason=why_not() or "-")
def test_everything_is_gone_after(tmp_path):
    with second_host(tmp_path / "h") as host:
        pids = [host.holder, *host.pids.values()]
        netns = host.netns
    for pid in pids:
        assert not Path(f"/proc/{pid}").exists() or \
            Path(f"/proc/{pid}/stat").read_text().split(")")[1].split()[0] == "Z"
    assert netns not in subprocess.run(["ip", "netns", "list"], capture_output=True,
                                       text=True).stdout
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    assert f"nbh2r{host.address.split('.')[2]}: " not in links
    assert f"{host.phydev}: " not in links and f"{host.phydev}@" not in links
