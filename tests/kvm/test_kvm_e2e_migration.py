"""Live and cold migration of a real guest between two real hosts through nubo: this
machine and a second host (a network namespace with its own sshd and libvirtd, reached
over a veth), the system datastore shared by both."""
from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import libvirt_daemons  # noqa: E402
from e2e_cloud import BOOT, NETS, Cloud, context_lines, domstate, state  # noqa: E402
from guest_domain import wait_for_line  # noqa: E402
from guest_image import scratch_dir  # noqa: E402
from second_host import second_host_fixture  # noqa: E402
from waits import ACTIVE, DONE, RUNNING, wait_for  # noqa: E402

pytestmark = pytest.mark.skipif(bool(libvirt_daemons.why_not()),
                                reason=libvirt_daemons.why_not() or "-")


@pytest.fixture(scope="module")
def host2(tmp_path_factory):
    yield from second_host_fixture(tmp_path_factory)


@pytest.fixture(scope="module")
def two_hosts(host2):
    """A cloud of this machine and the second host (a namespace with its own sshd and
    libvirtd, reached over a veth), the system datastore shared by both as their one
    filesystem is."""
    ssh = host2.ssh_command
    base = scratch_dir("nubo-e2e-mig-")
    c = Cloud(base, NETS["two-hosts"], extra_config=(
        f'kvm_ssh = "{ssh}"\ntransfer_remote_command = "{ssh} {{host}}"\n'
        f'kvm_remote_uri = "qemu+ssh://{{host}}/system?keyfile={host2.key}&no_verify=1"\n'
        f'kvm_migrate_local_name = "{_peer_side(host2.address)}"\n'))
    c.one.datastore.update(0, 'TM_MAD = "shared"\nSHARED = "YES"', 1)
    # Domains are named one-<VM ID> on the one local libvirtd that this module's other
    # cloud uses too (maybe at once, on another worker): VM 0 is held here, never run.
    c.placeholders.add(c.one.vm.allocate('NAME = "placeholder"\nCPU = 0.1\nMEMORY = 64', True))
    c.host2 = c.one.host.allocate(host2.address, "kvm", "kvm", -1)
    wait_for("the second host MONITORED", lambda: c.one.host.info(c.host2).STATE == 2,
             timeout=120)
    yield c
    c.close()
    shutil.rmtree(base, ignore_errors=True)


def _peer_side(address: str) -> str:
    """This machine's end of the veth to the second host (its /30: .1 here, .2 there)."""
    head, last = address.rsplit(".", 1)
    return f"{head}.{int(last) - 1}"


def test_live_and_cold_migration_between_two_hosts(two_hosts, host2):
    c, one = two_hosts, two_hosts.one
    vm_id = one.template.instantiate(c.template, "mig-guest", False,
                                     f'NIC = [ NETWORK_ID = {c.vnet} ]', False)
    one.vm.deploy(vm_id, c.host)
    state(one, vm_id, (ACTIVE, RUNNING), timeout=120)
    log = c.vm_dir(vm_id) / "serial.log"
    wait_for_line(log, timeout=BOOT)
    ip = one.vm.info(vm_id).TEMPLATE["NIC"]["IP"]
    boots = len(context_lines(log))
    for dest, here, there in ((c.host2, c.uri, host2.uri), (c.host, host2.uri, c.uri)):
        started = time.monotonic()
        one.vm.migrate(vm_id, dest, True, False, -1, 0)
        state(one, vm_id, (ACTIVE, RUNNING), timeout=300)
        print(f"live migration to host {dest}: {time.monotonic() - started:.2f} s")
        records = one.vm.info(vm_id).HISTORY_RECORDS.HISTORY
        assert max(records, key=lambda r: r.SEQ).HID == dest, (
            [(r.SEQ, r.HID, r.ACTION) for r in records],
            [x for x in c.server.log_lines if "MIGRATE" in x][-6:])
        assert (domstate(there, vm_id), domstate(here, vm_id)) == ("running", "gone")
    assert len(context_lines(log)) == boots  # the same guest, never booted again
    assert c.answers(ip)
    # cold: saved here, restored there
    one.vm.migrate(vm_id, c.host2, False, False, -1, 0)
    state(one, vm_id, (ACTIVE, RUNNING), timeout=300)
    assert (domstate(host2.uri, vm_id), domstate(c.uri, vm_id)) == ("running", "gone")
    assert len(context_lines(log)) == boots
    one.vm.action("terminate-hard", vm_id)
    state(one, vm_id, (DONE, 0), timeout=120)
    assert domstate(host2.uri, vm_id) == "gone"
