"""one.vm.recover, migrate, resize, updateconf, attach/detach, attachnic/detachnic and
snapshots, via pyone, on a real ``nubo serve`` with dummy drivers."""
from __future__ import annotations

import uuid

import pyone
import pytest

from waits import ACTIVE, BOOT_FAILURE, DONE, PENDING, POWEROFF, RUNNING, wait_for, wait_state
from waits import vm_state as state
from xsd import assert_valid, raw_call

_nets = iter(range(100, 250))


def uniq(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def raw(nubo, method: str, *args):
    return raw_call(nubo.endpoint, method, nubo.session, *args)


def new_host(one) -> int:
    return one.host.allocate(uniq("dummy-more"), "dummy", "dummy", -1)


@pytest.fixture
def host(one) -> int:
    return new_host(one)


def new_vm(one, extra: str = "", client=None) -> int:
    return (client or one).vm.allocate(
        f'NAME = "{uniq("more")}"\nCPU = 0.5\nMEMORY = 64\n{extra}', False)


def running_vm(one, host: int, extra: str = "") -> int:
    vm_id = new_vm(one, extra)
    one.vm.deploy(vm_id, host)
    wait_state(one, vm_id, (ACTIVE, RUNNING))
    return vm_id


def usage(one, host: int) -> tuple[int, int, int]:
    share = one.host.info(host).HOST_SHARE
    return share.RUNNING_VMS, share.CPU_USAGE, share.MEM_USAGE


def host_vms(one, host: int) -> list[int]:
    vms = one.host.info(host).VMS
    return list(vms.ID) if vms is not None and vms.ID else []


def valid(nubo, vm_id: int) -> None:
    assert_valid(raw(nubo, "one.vm.info", vm_id)[1], "vm.xsd")


def new_net(one) -> int:
    n = next(_nets)
    return one.vn.allocate(f'NAME = "{uniq("more-net")}"\nVN_MAD = "dummy"\nBRIDGE = "br0"\n'
                           f'AR = [ TYPE = "IP4", IP = "10.77.{n}.1", SIZE = "4" ]\n', -1)


def vnet_leases(one, vnet: int) -> dict[str, int]:
    out = {}
    for ar in one.vn.info(vnet).AR_POOL.AR:
        for lease in (ar.LEASES.LEASE if ar.LEASES else []):
            out[lease.IP] = lease.VM
    return out


# ------------------------------------------------------------------------- recover

def test_recover_success_of_a_failed_boot(one, nubo, host):
    vm_id = new_vm(one, 'DUMMY_FAIL = "DEPLOY"')
    one.vm.deploy(vm_id, host)
    wait_state(one, vm_id, (ACTIVE, BOOT_FAILURE))
    assert one.vm.recover(vm_id, 1) == vm_id
    assert state(one, vm_id) == (ACTIVE, RUNNING)
    assert one.vm.info(vm_id).DEPLOY_ID == f"one-{vm_id}"
    valid(nubo, vm_id)


def test_recover_retry_sends_the_boot_again(one, host):
    vm_id = new_vm(one, 'DUMMY_FAIL = "DEPLOY"')
    one.vm.deploy(vm_id, host)
    wait_state(one, vm_id, (ACTIVE, BOOT_FAILURE))
    one.vm.update(vm_id, 'NOTE = "fixed"', 0)  # the fault injection is gone
    one.vm.recover(vm_id, 2)
    wait_state(one, vm_id, (ACTIVE, RUNNING))


def test_recover_delete_frees_host_and_leases_once(one, nubo):
    host = new_host(one)
    vnet = new_net(one)
    vm_id = running_vm(one, host)
    one.vm.attachnic(vm_id, f'NIC = [ NETWORK_ID = "{vnet}" ]')
    wait_state(one, vm_id, (ACTIVE, RUNNING))
    assert list(vnet_leases(one, vnet).values()) == [vm_id]
    assert usage(one, host) == (1, 50, 64 * 1024)
    one.vm.recover(vm_id, 3)
    wait_state(one, vm_id, (DONE, 0))
    assert usage(one, host) == (0, 0, 0) and host_vms(one, host) == []
    assert vnet_leases(one, vnet) == {}
    assert one.vn.info(vnet).USED_LEASES == 0
    one.vm.recover(vm_id, 3)  # DONE: nothing more to free
    assert usage(one, host) == (0, 0, 0)
    valid(nubo, vm_id)
    assert_valid(raw(nubo, "one.host.info", host)[1], "host.xsd")


def test_recover_delete_recreate_goes_back_to_pending(one, nubo, host):
    vm_id = running_vm(one, host)
    one.vm.recover(vm_id, 4)
    wait_state(one, vm_id, (PENDING, 0))
    assert usage(one, host) == (0, 0, 0)
    one.vm.deploy(vm_id, host)
    wait_state(one, vm_id, (ACTIVE, RUNNING))
    assert usage(one, host) == (1, 50, 64 * 1024)
    valid(nubo, vm_id)


def test_recover_refusals(one, nubo, host, client_for):
    pending = new_vm(one)
    reply = raw(nubo, "one.vm.recover", pending, 2)
    assert reply[0] is False and reply[2] == 0x800 and "PENDING" in reply[1]
    with pytest.raises(pyone.OneActionException, match="wrong state PENDING"):
        one.vm.recover(pending, 1)
    assert state(one, pending) == (PENDING, 0)
    with pytest.raises(pyone.OneException):
        one.vm.recover(pending, 9)
    name = uniq("more-user")
    one.user.allocate(name, "pw", "", [])
    user = client_for(f"{name}:pw")
    mine = new_vm(one, client=user)
    with pytest.raises(pyone.OneAuthorizationException):
        user.vm.recover(mine, 3)
    assert state(one, mine) == (PENDING, 0)


# ------------------------------------------------------------------------- migrate

@pytest.mark.parametrize("live", [False, True])
def test_migrate_moves_the_vm_and_its_usage(one, nubo, live):
    source, target = new_host(one), new_host(one)
    vm_id = running_vm(one, source)
    one.vm.migrate(vm_id, target, live, False, -1, 0)
    wait_state(one, vm_id, (ACTIVE, RUNNING))
    history = one.vm.info(vm_id).HISTORY_RECORDS.HISTORY
    assert [h.HID for h in history[-2:]] == [source, target]
    assert history[-2].ETIME > 0 and history[-1].ETIME == 0
    assert usage(one, source) == (0, 0, 0) and host_vms(one, source) == []
    assert usage(one, target) == (1, 50, 64 * 1024) and host_vms(one, target) == [vm_id]
    valid(nubo, vm_id)
    # The hypervisor (dummy) moved it too: an operation on the target host finds it there.
    one.vm.snapshotcreate(vm_id, "after-migrate")
    wait_state(one, vm_id, (ACTIVE, RUNNING))
    snapshots = one.vm.info(vm_id).TEMPLATE.get("SNAPSHOT")
    snapshots = snapshots if isinstance(snapshots, list) else [snapshots]
    assert [s["NAME"] for s in snapshots if s] == ["after-migrate"], snapshots
    one.vm.action("terminate-hard", vm_id)
    wait_state(one, vm_id, (DONE, 0))
    assert usage(one, target) == (0, 0, 0)


def test_migrate_a_poweroff_vm(one, nubo):
    source, target = new_host(one), new_host(one)
    vm_id = running_vm(one, source)
    one.vm.action("poweroff", vm_id)
    wait_state(one, vm_id, (POWEROFF, 0))
    one.vm.migrate(vm_id, target, False, False, -1, 0)
    wait_state(one, vm_id, (POWEROFF, 0))
    assert one.vm.info(vm_id).HISTORY_RECORDS.HISTORY[-1].HID == target
    assert usage(one, source) == (0, 0, 0) and usage(one, target)[0] == 1
    valid(nubo, vm_id)


def test_migrate_refusals(one, nubo, host, client_for):
    pending = new_vm(one)
    reply = raw(nubo, "one.vm.migrate", pending, host, False, False, -1, 0)
    assert reply[0] is False and reply[2] == 0x800
    assert "Migrate action is not available for state PENDING" in reply[1]
    vm_id = running_vm(one, host)
    with pytest.raises(pyone.OneActionException, match="already running on host"):
        one.vm.migrate(vm_id, host, False, False, -1, 0)
    assert state(one, vm_id) == (ACTIVE, RUNNING) and usage(one, host)[0] == 1
    assert len(one.vm.info(vm_id).HISTORY_RECORDS.HISTORY) == 1


# ---------------------------------------------------------------- resize, updateconf

def test_resize_a_running_vm_updates_host_usage(one, nubo, host):
    vm_id = running_vm(one, host)
    one.vm.resize(vm_id, "CPU = 1\nVCPU = 2\nMEMORY = 128", False)
    wait_state(one, vm_id, (ACTIVE, RUNNING))
    vm = one.vm.info(vm_id)
    assert (vm.TEMPLATE["CPU"], vm.TEMPLATE["VCPU"], vm.TEMPLATE["MEMORY"]) == ("1", "2", "128")
    assert "RESIZE_PREVIOUS" not in vm.USER_TEMPLATE
    assert usage(one, host) == (1, 100, 128 * 1024)
    valid(nubo, vm_id)


def test_resize_poweroff_and_pending_and_refusal(one, nubo, host):
    vm_id = running_vm(one, host)
    one.vm.action("poweroff", vm_id)
    wait_state(one, vm_id, (POWEROFF, 0))
    one.vm.resize(vm_id, "MEMORY = 32", False)
    assert usage(one, host) == (1, 50, 32 * 1024)
    pending = new_vm(one)
    one.vm.resize(pending, "CPU = 2", False)
    assert one.vm.info(pending).TEMPLATE["CPU"] == "2"
    one.vm.action("suspend", running := running_vm(one, host))
    wait_state(one, running, (5, 0))
    with pytest.raises(pyone.OneActionException, match="Cannot resize a VM in state SUSPENDED"):
        one.vm.resize(running, "CPU = 4", False)
    assert one.vm.info(running).TEMPLATE["CPU"] == "0.5"
    with pytest.raises(pyone.OneException, match="positive"):
        one.vm.resize(pending, "MEMORY = -1", False)
    valid(nubo, vm_id)


def test_resize_enforce_checks_capacity(one, host):
    vm_id = running_vm(one, host)
    with pytest.raises(pyone.OneActionException, match="capacity"):
        one.vm.resize(vm_id, "MEMORY = 100000000", True)
    assert state(one, vm_id) == (ACTIVE, RUNNING)
    assert one.vm.info(vm_id).TEMPLATE["MEMORY"] == "64"


def test_updateconf(one, nubo, host):
    vm_id = running_vm(one, host)
    one.vm.updateconf(vm_id, 'CONTEXT = [ NETWORK = "YES", TOKEN = "x" ]\n'
                             'GRAPHICS = [ TYPE = "VNC" ]', 0)
    wait_state(one, vm_id, (ACTIVE, RUNNING))
    vm = one.vm.info(vm_id)
    assert vm.TEMPLATE["CONTEXT"]["TOKEN"] == "x"
    assert vm.TEMPLATE["GRAPHICS"]["TYPE"] == "VNC"
    valid(nubo, vm_id)
    one.vm.action("stop", vm_id)
    wait_state(one, vm_id, (4, 0))
    reply = raw(nubo, "one.vm.updateconf", vm_id, 'OS = [ ARCH = "x86_64" ]', 0)
    assert reply[0] is False and reply[2] == 0x2000 and "STOPPED" in reply[1]


# ------------------------------------------------------------------ disks and NICs

def test_attach_and_detach_a_disk(one, nubo, host):
    vm_id = running_vm(one, host)
    one.vm.attach(vm_id, 'DISK = [ TYPE = "fs", SIZE = "100", FORMAT = "raw" ]')
    wait_state(one, vm_id, (ACTIVE, RUNNING))
    disks = one.vm.info(vm_id).TEMPLATE["DISK"]
    disks = disks if isinstance(disks, list) else [disks]
    assert [d["DISK_ID"] for d in disks] == ["0"] and "ATTACH" not in disks[0]
    valid(nubo, vm_id)
    one.vm.detach(vm_id, 0)
    wait_state(one, vm_id, (ACTIVE, RUNNING))
    assert "DISK" not in one.vm.info(vm_id).TEMPLATE
    with pytest.raises(pyone.OneActionException, match="does not exist"):
        one.vm.detach(vm_id, 7)
    pending = new_vm(one)
    with pytest.raises(pyone.OneActionException):
        one.vm.attach(pending, 'DISK = [ TYPE = "fs", SIZE = "1" ]')
    assert "DISK" not in one.vm.info(pending).TEMPLATE
    valid(nubo, vm_id)


def test_a_failed_disk_attach_is_undone(one, host):
    vm_id = running_vm(one, host, 'DUMMY_FAIL = "ATTACHDISK"')
    one.vm.attach(vm_id, 'DISK = [ TYPE = "fs", SIZE = "10" ]')
    wait_state(one, vm_id, (ACTIVE, RUNNING))
    wait_for("disk dropped", lambda: "DISK" not in one.vm.info(vm_id).TEMPLATE)


def test_attach_and_detach_a_nic_takes_and_frees_a_lease(one, nubo, host):
    vnet = new_net(one)
    vm_id = running_vm(one, host)
    one.vm.attachnic(vm_id, f'NIC = [ NETWORK_ID = "{vnet}" ]')
    wait_state(one, vm_id, (ACTIVE, RUNNING))
    nic = one.vm.info(vm_id).TEMPLATE["NIC"]
    assert nic["NIC_ID"] == "0" and nic["NETWORK_ID"] == str(vnet) and "ATTACH" not in nic
    assert vnet_leases(one, vnet) == {nic["IP"]: vm_id}
    valid(nubo, vm_id)
    one.vm.detachnic(vm_id, 0)
    wait_state(one, vm_id, (ACTIVE, RUNNING))
    assert "NIC" not in one.vm.info(vm_id).TEMPLATE
    assert vnet_leases(one, vnet) == {}
    with pytest.raises(pyone.OneActionException, match="does not exist"):
        one.vm.detachnic(vm_id, 0)
    valid(nubo, vm_id)


def test_nic_on_a_poweroff_vm_and_terminate_frees_the_lease(one, nubo, host):
    vnet = new_net(one)
    vm_id = running_vm(one, host)
    one.vm.action("poweroff", vm_id)
    wait_state(one, vm_id, (POWEROFF, 0))
    one.vm.attachnic(vm_id, f'NIC = [ NETWORK_ID = "{vnet}" ]')
    assert state(one, vm_id) == (POWEROFF, 0)
    assert list(vnet_leases(one, vnet).values()) == [vm_id]
    one.vm.action("terminate", vm_id)
    wait_state(one, vm_id, (DONE, 0))
    assert vnet_leases(one, vnet) == {}
    valid(nubo, vm_id)


def test_a_failed_nic_attach_frees_its_lease(one, host):
    vnet = new_net(one)
    vm_id = running_vm(one, host, 'DUMMY_FAIL = "ATTACHNIC"')
    one.vm.attachnic(vm_id, f'NIC = [ NETWORK_ID = "{vnet}" ]')
    wait_state(one, vm_id, (ACTIVE, RUNNING))
    wait_for("lease freed", lambda: vnet_leases(one, vnet) == {})
    assert "NIC" not in one.vm.info(vm_id).TEMPLATE


# ----------------------------------------------------------------------- snapshots

def test_snapshots(one, nubo, host):
    vm_id = running_vm(one, host)
    snap = one.vm.snapshotcreate(vm_id, "first")
    assert snap == 0
    wait_state(one, vm_id, (ACTIVE, RUNNING))
    assert one.vm.snapshotcreate(vm_id, "second") == 1
    wait_state(one, vm_id, (ACTIVE, RUNNING))
    snaps = one.vm.info(vm_id).TEMPLATE["SNAPSHOT"]
    assert [s["NAME"] for s in snaps] == ["first", "second"]
    assert all("ACTIVE" not in s for s in snaps)
    valid(nubo, vm_id)
    one.vm.snapshotrevert(vm_id, 0)
    wait_state(one, vm_id, (ACTIVE, RUNNING))
    one.vm.snapshotdelete(vm_id, 0)
    wait_state(one, vm_id, (ACTIVE, RUNNING))
    snaps = one.vm.info(vm_id).TEMPLATE["SNAPSHOT"]
    snaps = snaps if isinstance(snaps, list) else [snaps]
    assert [s["SNAPSHOT_ID"] for s in snaps] == ["1"]
    with pytest.raises(pyone.OneActionException, match="does not exist"):
        one.vm.snapshotdelete(vm_id, 0)
    one.vm.action("poweroff", vm_id)
    wait_state(one, vm_id, (POWEROFF, 0))
    with pytest.raises(pyone.OneActionException, match="wrong state POWEROFF"):
        one.vm.snapshotcreate(vm_id, "third")
    valid(nubo, vm_id)


def test_a_failed_live_resize_is_undone(one, nubo, host):
    vm_id = running_vm(one, host, 'DUMMY_FAIL = "RESIZE"')
    one.vm.resize(vm_id, "CPU = 2\nMEMORY = 256", False)
    wait_state(one, vm_id, (ACTIVE, RUNNING))
    vm = one.vm.info(vm_id)
    assert (vm.TEMPLATE["CPU"], vm.TEMPLATE["MEMORY"]) == ("0.5", "64")
    assert "RESIZE_PREVIOUS" not in vm.USER_TEMPLATE
    assert usage(one, host) == (1, 50, 64 * 1024)
    valid(nubo, vm_id)


def test_recover_failure_and_success_in_failure_states(one, nubo, host):
    vm_id = new_vm(one, 'DUMMY_FAIL = "DEPLOY"')
    one.vm.deploy(vm_id, host)
    wait_state(one, vm_id, (ACTIVE, BOOT_FAILURE))
    one.vm.recover(vm_id, 0)  # already failed: stays there
    assert state(one, vm_id) == (ACTIVE, BOOT_FAILURE)
    running = running_vm(one, host)
    one.vm.recover(running, 1)  # RUNNING: nothing pending, nothing changes
    assert state(one, running) == (ACTIVE, RUNNING)
    one.vm.recover(vm_id, 3)
    wait_state(one, vm_id, (DONE, 0))
    assert usage(one, host) == (1, 50, 64 * 1024)
    valid(nubo, vm_id)


def test_migrate_enforce_and_user_is_refused(one, host, client_for):
    target = new_host(one)
    vm_id = running_vm(one, host, "")
    one.vm.resize(vm_id, "MEMORY = 100000000", False)  # too big for any dummy host
    wait_state(one, vm_id, (ACTIVE, RUNNING))
    with pytest.raises(pyone.OneActionException, match="capacity"):
        one.vm.migrate(vm_id, target, False, True, -1, 0)
    assert state(one, vm_id) == (ACTIVE, RUNNING) and usage(one, target)[0] == 0
    name = uniq("more-mig")
    one.user.allocate(name, "pw", "", [])
    user = client_for(f"{name}:pw")
    with pytest.raises(pyone.OneAuthorizationException):
        user.vm.migrate(vm_id, target, False, False, -1, 0)


def _clone_failed(nubo, vm_id: int, image_state: int) -> None:
    """Put the VM in CLONING_FAILURE and its image in ``image_state``, in the store
    (nubo does not clone images at allocate yet: oned's way into that state)."""
    from nubo.core.pool_set import make_pools
    from nubo.store.db import Database

    db, pools = Database(nubo.database_url), make_pools()
    try:
        with db.write() as conn:
            vm = pools.vms.get(conn, vm_id)
            vm.prev_state, vm.state = vm.state, 11  # CLONING_FAILURE
            pools.vms.update(conn, vm)
            image = pools.images.get(conn, int(vm.template.get_vector("DISK").get("IMAGE_ID")))
            image.state = image_state
            pools.images.update(conn, image)
    finally:
        db.close()


@pytest.mark.parametrize("hold, image_state, failure, expected", [
    (False, 2, False, PENDING),  # the image is ready (USED): the VM goes on
    (True, 2, False, 2),         # SUBMIT_ON_HOLD: to HOLD
    (False, 5, False, 11),       # the image is in ERROR: CLONING_FAILURE again
    (False, 4, False, 10),       # the image is still being made (LOCKED): CLONING
    (False, 2, True, 11),        # recover --failure leaves it failed
])
def test_recover_success_of_a_cloning_failure_rechecks_its_images(one, nubo, hold, image_state,
                                                                  failure, expected):
    image = one.image.allocate(f'NAME = "{uniq("clone")}"\nTYPE = "DATABLOCK"\nSIZE = 1\n'
                               'SOURCE = "/srv/clone"\nFORMAT = "raw"', 1)
    vm_id = one.vm.allocate(f'NAME = "{uniq("cloning")}"\nCPU = 0.5\nMEMORY = 64\n'
                            f'SUBMIT_ON_HOLD = {"YES" if hold else "NO"}\n'
                            f'DISK = [ IMAGE_ID = {image} ]', False)
    _clone_failed(nubo, vm_id, image_state)
    assert state(one, vm_id)[0] == 11
    assert one.vm.recover(vm_id, 0 if failure else 1) == vm_id
    assert state(one, vm_id) == (expected, 0)
    valid(nubo, vm_id)
    one.vm.recover(vm_id, 3)
    wait_state(one, vm_id, (DONE, 0))
