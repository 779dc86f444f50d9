"""A real guest through the whole of nubo: pyone → nubo serve → scheduler-free deploy on
host ``localhost`` (IM_MAD and VM_MAD kvm) → the transfer driver (kernel, initrd and
context CD-ROM into the VM's directory) → the network driver (bridge, security groups)
→ the kvm driver (libvirt, QEMU under TCG) → nubo's own guest image, which reads its
context and answers ping. Each step's state is checked through the API, the
domain's through libvirt directly and the guest's by the lines it prints on its
serial console: poweroff, suspend, stop (and resume from each), reboot, security
groups, NIC and disk hotplug, VM snapshots, a core killed, a guest destroyed behind
nubo's back, terminate; and a guest nubo did not start, shown wild and left alone."""
from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import libvirt_daemons  # noqa: E402
from e2e_cloud import (BOOT, NETS, STOPPED, SUSPENDED, Cloud, context_lines,  # noqa: E402
                       disk_lines, next_context_line, next_disk_line, state, vectors, virsh)
from guest_domain import wait_for_line  # noqa: E402
from guest_image import scratch_dir  # noqa: E402
from waits import ACTIVE, DONE, PENDING, POWEROFF, RUNNING, wait_for  # noqa: E402

pytestmark = pytest.mark.skipif(bool(libvirt_daemons.why_not()),
                                reason=libvirt_daemons.why_not() or "-")


@pytest.fixture(scope="module")
def cloud():
    try:
        libvirt_daemons.ensure_libvirtd()
    except RuntimeError as e:
        pytest.skip(str(e))
    base = scratch_dir("nubo-e2e-")  # QEMU (libvirt's user) must reach the VM's files
    c = Cloud(base, NETS["one-host"])
    yield c
    c.close()
    shutil.rmtree(base, ignore_errors=True)


def test_a_guest_lives_its_whole_life_through_the_api(cloud):
    one = cloud.one
    started = time.monotonic()
    vm_id = one.template.instantiate(cloud.template, "e2e-guest", False,
                                     f'NIC = [ NETWORK_ID = {cloud.vnet} ]', False)
    allocated = time.monotonic() - started
    one.vm.deploy(vm_id, cloud.host)
    deployed = time.monotonic() - started
    state(one, vm_id, (ACTIVE, RUNNING), timeout=120)
    running_after = time.monotonic() - started
    log = cloud.vm_dir(vm_id) / "serial.log"
    line = wait_for_line(log, timeout=BOOT)
    context_after = time.monotonic() - started
    ip = one.vm.info(vm_id).TEMPLATE["NIC"]["IP"]
    assert "hostname=e2e-guest" in line and f"eth0={ip}/24" in line, line
    assert wait_for_line(log, re.compile(r"nubo-context: disks .*"), timeout=30) \
        == "nubo-context: disks -"  # its only disk is the context CD-ROM
    assert cloud.domain_state(vm_id) == "running"
    assert (cloud.vm_dir(vm_id) / "kernel").exists()
    print(f"instantiate {allocated:.2f} s, deploy call {deployed:.2f} s, RUNNING "
          f"{running_after:.2f} s, context line {context_after:.2f} s (from the allocate)")
    assert cloud.answers(ip)

    # poweroff and resume: the domain goes, a new boot reads the context again
    boots = len(context_lines(log))
    one.vm.action("poweroff-hard", vm_id)
    state(one, vm_id, (POWEROFF, 0), timeout=120)
    assert cloud.domain_state(vm_id) == "gone"
    one.vm.action("resume", vm_id)
    state(one, vm_id, (ACTIVE, RUNNING), timeout=120)
    assert f"eth0={ip}/24" in next_context_line(log, boots)
    assert cloud.answers(ip)

    # suspend and resume: memory saved to the checkpoint and restored, no new boot
    one.vm.action("suspend", vm_id)
    state(one, vm_id, (SUSPENDED, 0), timeout=180)
    assert cloud.domain_state(vm_id) == "gone"
    assert (cloud.vm_dir(vm_id) / "checkpoint").exists()
    one.vm.action("resume", vm_id)
    state(one, vm_id, (ACTIVE, RUNNING), timeout=180)
    assert cloud.domain_state(vm_id) == "running"
    assert cloud.answers(ip)

    # stop and resume: saved, the files back to the system datastore (EPILOG_STOP),
    # then PENDING until deployed again: PROLOG_RESUME and a restore of the same guest
    boots = len(context_lines(log))
    one.vm.action("stop", vm_id)
    state(one, vm_id, (STOPPED, 0), timeout=180)
    assert cloud.domain_state(vm_id) == "gone"
    assert (cloud.vm_dir(vm_id) / "checkpoint").exists()
    one.vm.action("resume", vm_id)
    state(one, vm_id, (PENDING, 0), timeout=60)
    one.vm.deploy(vm_id, cloud.host)
    state(one, vm_id, (ACTIVE, RUNNING), timeout=180)
    assert cloud.domain_state(vm_id) == "running"
    assert cloud.answers(ip)
    assert len(context_lines(log)) == boots  # restored, not booted again

    # reboot: the guest boots again and reads its context
    boots = len(context_lines(log))
    one.vm.action("reboot-hard", vm_id)
    wait_for("the reboot's context line", lambda: len(context_lines(log)) > boots,
             timeout=BOOT)
    assert (one.vm.info(vm_id).STATE, one.vm.info(vm_id).LCM_STATE) == (ACTIVE, RUNNING)
    assert cloud.answers(ip)

    # a security group without ICMP: ping stops; one allowing it: ping again (before a
    # second NIC on the same network, which would answer for the first's address too)
    tcp_only = one.secgroup.allocate(
        'NAME = "e2e-tcp"\nRULE = [ PROTOCOL = "TCP", RULE_TYPE = "INBOUND" ]\n'
        'RULE = [ PROTOCOL = "ALL", RULE_TYPE = "OUTBOUND" ]')
    assert cloud.answers(ip, peer=True)  # across the bridge, under group 0 (all in)
    one.vm.attachsg(vm_id, 0, tcp_only)
    one.vm.detachsg(vm_id, 0, 0)
    try:
        wait_for("ping blocked", lambda: not cloud.peer_pings(ip), timeout=60)
    except AssertionError:
        rules = one.vm.info(vm_id).TEMPLATE.get("SECURITY_GROUP_RULE")
        nft = subprocess.run(["nft", "list", "ruleset"], capture_output=True, text=True).stdout
        raise AssertionError(f"ping not blocked; rules {rules}; nft:\n{nft[-4000:]}\nlog:\n"
                             + "".join(line for line in cloud.server.log_lines[-60:]))
    one.secgroup.update(tcp_only, 'RULE = [ PROTOCOL = "ICMP", RULE_TYPE = "INBOUND" ]\n'
                        'RULE = [ PROTOCOL = "ALL", RULE_TYPE = "OUTBOUND" ]', 1)
    one.secgroup.commit(tcp_only, False)
    assert cloud.answers(ip, peer=True)

    # NIC hotplug: the context CD-ROM rebuilt with ETH1_*, the guest configures eth1
    one.vm.attachnic(vm_id, f'NIC = [ NETWORK_ID = {cloud.vnet} ]')
    state(one, vm_id, (ACTIVE, RUNNING), timeout=120)
    nics = one.vm.info(vm_id).TEMPLATE["NIC"]
    ip1 = nics[1]["IP"]
    assert one.vm.info(vm_id).TEMPLATE["CONTEXT"]["ETH1_IP"] == ip1
    wait_for_line(log, re.compile(rf"nubo-context: hotplug dev=\S+ eth1={re.escape(ip1)}/24"),
                  timeout=120)
    assert cloud.answers(ip1)

    # disk hotplug: a volatile qcow2 disk made by the transfer driver, attached to the
    # domain (TARGET sd*: SCSI, on a virtio-scsi controller the driver plugs in first),
    # seen by the guest with its size
    disks_seen = len(disk_lines(log))
    one.vm.attach(vm_id, 'DISK = [ TYPE = "fs", SIZE = 16, FORMAT = "qcow2" ]')
    state(one, vm_id, (ACTIVE, RUNNING), timeout=120)
    info = one.vm.info(vm_id)
    assert "DISK" in info.TEMPLATE, info.USER_TEMPLATE.get("ERROR")
    disk = next(d for d in vectors(info.TEMPLATE["DISK"])
                if (d.get("TYPE") or "").upper() == "FS")
    blk = virsh(cloud, "domblklist", f"one-{vm_id}")
    assert f"{cloud.vm_dir(vm_id)}/disk.{disk['DISK_ID']}" in blk, (blk, disk)
    assert disk["TARGET"].startswith("sd") and "virtio-scsi" in virsh(
        cloud, "dumpxml", f"one-{vm_id}")
    seen = next_disk_line(log, disks_seen)
    assert re.fullmatch(r"nubo-context: disk dev=sd[a-z] size=16MiB", seen), seen

    # VM snapshots of the running guest (libvirt's internal ones: its disk is qcow2)
    snap = one.vm.snapshotcreate(vm_id, "e2e-snap")
    state(one, vm_id, (ACTIVE, RUNNING), timeout=120)
    assert virsh(cloud, "snapshot-list", "--name", f"one-{vm_id}").split() == [f"snap-{snap}"]
    one.vm.snapshotrevert(vm_id, snap)
    state(one, vm_id, (ACTIVE, RUNNING), timeout=120)
    assert cloud.domain_state(vm_id) == "running"
    one.vm.snapshotdelete(vm_id, snap)
    state(one, vm_id, (ACTIVE, RUNNING), timeout=120)
    assert virsh(cloud, "snapshot-list", "--name", f"one-{vm_id}").split() == []
    assert cloud.answers(ip)

    # disk detach: the guest sees it go
    dev = seen.split("dev=")[1].split()[0]
    one.vm.detach(vm_id, int(disk["DISK_ID"]))
    state(one, vm_id, (ACTIVE, RUNNING), timeout=120)
    assert f"disk.{disk['DISK_ID']}" not in virsh(cloud, "domblklist", f"one-{vm_id}")
    assert next_disk_line(log, disks_seen + 1) == f"nubo-context: disk dev={dev} gone"

    # a core killed with kill -9 leaves the guest running; the new core finds it
    cloud.server.proc.send_signal(signal.SIGKILL)
    cloud.server.proc.wait(timeout=30)
    assert cloud.domain_state(vm_id) == "running"
    cloud.server.start()
    import pyone
    one = cloud.one = pyone.OneServer(cloud.server.endpoint, session=cloud.server.session)
    state(one, vm_id, (ACTIVE, RUNNING), timeout=60)
    assert cloud.answers(ip)

    # a guest destroyed outside nubo is noticed: POWEROFF
    subprocess.run(["virsh", "-c", cloud.uri, "destroy", f"one-{vm_id}"], check=True,
                   capture_output=True)
    state(one, vm_id, (POWEROFF, 0), timeout=120)

    # terminate: the domain and the VM's directory are gone
    one.vm.action("terminate-hard", vm_id)
    state(one, vm_id, (DONE, 0), timeout=120)
    assert cloud.domain_state(vm_id) == "gone"
    assert not cloud.vm_dir(vm_id).exists()



def test_a_guest_started_outside_nubo_is_shown_wild_and_left_alone(cloud):
    """A domain nubo did not make (a paused one: it never runs a cycle) shows in the
    host's WILDS, and stays: nubo destroys no wild guest."""
    name = f"wild-lifesteps-{os.getpid()}"
    xml = cloud.datastores.parent / f"{name}.xml"
    xml.write_text(f"<domain type='qemu'><name>{name}</name><memory unit='MiB'>16</memory>"
                   "<vcpu>1</vcpu><os><type arch='x86_64'>hvm</type></os></domain>")
    subprocess.run(["virsh", "-c", cloud.uri, "create", "--paused", str(xml)], check=True,
                   capture_output=True)
    try:
        def wilds() -> str:
            return str(cloud.one.host.info(cloud.host).TEMPLATE.get("WILDS") or "")
        wait_for(f"{name} in the host's WILDS", lambda: name in wilds(), timeout=60)
        def probed() -> int:
            return int(cloud.one.host.info(cloud.host).MONITORING.TIMESTAMP)
        seen = probed()
        wait_for("a later probe", lambda: probed() > seen, timeout=60)
        assert name in wilds()
        assert virsh(cloud, "domstate", name).strip() == "paused"
    finally:
        subprocess.run(["virsh", "-c", cloud.uri, "destroy", name], capture_output=True)
